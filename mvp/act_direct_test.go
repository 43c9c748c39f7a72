package mvp_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/datasets"
	. "github.com/gomvp/gomvp/mvp" //nolint:staticcheck // the tests read as the package's own
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
)

// TestActDirectMatchesGraph checks that Act decides the same way directly and on the agent's
// graph, from the same ActRNG stream, for each deployable kind, and that the direct decision
// follows the parameters through an update.
func TestActDirectMatchesGraph(t *testing.T) {
	for _, kind := range []string{KindMVP, KindQC, KindBC} {
		t.Run(kind, func(t *testing.T) {
			a := smallTrainedAgent(t, kind)
			c := a.Spec
			r := rand.New(rand.NewPCG(4, 4))
			obs := randn(r, 5*c.ObsDim)
			compare := func(when string) []float32 {
				t.Helper()
				var got [2][]float32
				for i, direct := range []bool{true, false} {
					if err := a.SetDirectAct(direct); err != nil {
						t.Fatal(err)
					}
					rng := NewActRNG(6)
					for range 2 { // the second call checks that both advance the stream alike
						var err error
						if got[i], err = a.Act(obs, rng); err != nil {
							t.Fatal(err)
						}
					}
				}
				if d := maxDiff(got[0], got[1]); d > 1e-5 {
					t.Fatalf("%s: direct and graph decisions differ by %g", when, d)
				}
				return got[0]
			}
			before := compare("trained agent")
			n := c.BatchSize
			if _, err := a.Update(&datasets.Batch{Size: n, Observations: randn(r, n*c.ObsDim), Actions: make([]float32, n*c.ChunkDim()),
				Rewards: randn(r, n), NextObservations: randn(r, n*c.ObsDim), Masks: ones(n), Valid: ones(n * c.Horizon)}); err != nil {
				t.Fatal(err)
			}
			if err := a.SetDirectAct(true); err != nil {
				t.Fatal(err)
			}
			after := compare("after one more update")
			if maxDiff(before, after) == 0 {
				t.Error("the update did not change the direct decision: stale weights")
			}
		})
	}
}

// TestActDirectDefault checks the default: direct where deploy's kernels are accelerated and no
// GPU is visible, the graph for a generator without a deployable form.
func TestActDirectDefault(t *testing.T) {
	a := smallTrainedAgent(t, KindMVP)
	direct, err := a.DecidesDirectly()
	if err != nil {
		t.Fatal(err)
	}
	if want := deploy.DirectAccelerated() && !xla.GPUVisible(); direct != want {
		t.Errorf("direct by default: %v, want %v", direct, want)
	}
	fql := smallTrainedAgent(t, KindFQL)
	if err := fql.SetDirectAct(true); err == nil || !strings.Contains(err.Error(), "no deployable form") {
		t.Errorf("FQL SetDirectAct(true): %v, want an error saying it has no deployable form", err)
	}
	if got, err := fql.Act(make([]float32, fql.Spec.ObsDim), NewActRNG(1)); err != nil || len(got) != fql.Spec.ChunkDim() {
		t.Errorf("FQL acts on its graph: %v, %v", got, err)
	}
	if _, err := a.Act([]float32{0, float32(math.NaN()), 0, 0, 0}[:a.Spec.ObsDim], NewActRNG(1)); direct && err == nil {
		t.Error("a NaN observation: no error from the direct decision")
	}
}
