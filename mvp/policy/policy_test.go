package policy

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomvp/gomvp/xla"
)

// TestImportsGoMLXOnly keeps the shared action graph free of project code.
func TestImportsGoMLXOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "noxla", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, d := range strings.Fields(string(out)) {
		if strings.HasPrefix(d, "github.com/gomvp/") && d != "github.com/gomvp/gomvp/mvp/policy" {
			t.Errorf("mvp/policy depends on %s", d)
		}
	}
}

// TestActSelectsBestCandidate runs Act with a sampler that copies the noise and a score that is
// the first action coordinate: each state gets its highest-scoring clipped candidate, and without
// a score its first one.
func TestActSelectsBestCandidate(t *testing.T) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	sample := func(s, eps *graph.Node) *graph.Node { return eps }
	score := func(s, a *graph.Node) *graph.Node {
		return graph.Reshape(graph.Slice(a, graph.AxisRange(), graph.AxisElem(0)), -1)
	}
	s := [][]float32{{0}, {1}}
	// Two states × three candidates of two values; row b·3+i is candidate i of state b.
	eps := [][]float32{{0.1, 1}, {0.5, 2}, {0.3, 3}, {-0.2, 4}, {3, 5}, {0.9, 6}}
	run := func(score Score) []float32 {
		out := graph.MustExecOnce(backend, func(s, eps *graph.Node) *graph.Node { return Act(sample, score, s, eps, -1, 1) }, s, eps)
		return tensors.MustCopyFlatData[float32](out)
	}
	// State 1's candidate 1 scores 3, clipped to 1 (and 5 to 1): the clipped values are compared.
	if got, want := run(score), []float32{0.5, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("Act = %v, want %v", got, want)
	}
	if got, want := run(nil), []float32{0.1, 1, -0.2, 1}; !slices.Equal(got, want) {
		t.Errorf("Act without a score = %v, want %v", got, want)
	}
}
