package perf

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gomvp/gomvp/mvp"
)

// The FLOP formulas are checked against an independent count: the matmuls actually present in the
// graphs the mvp package builds (walking back from the outputs, so dead nodes do not count).

// dotFLOPs sums 2·M·K·N over the live DotGeneral and FusedDense nodes behind outputs.
// All matmuls here are 2-D (no batch axes), so K² = |lhs|·|rhs| / |out|.
func dotFLOPs(t *testing.T, outputs ...*Node) float64 {
	seen := map[*Node]bool{}
	var total float64
	var visit func(n *Node)
	visit = func(n *Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Type() {
		case NodeTypeDotGeneral, NodeTypeFusedDense:
			in := n.Inputs()
			lhs, rhs := float64(in[0].Shape().Size()), float64(in[1].Shape().Size())
			out := float64(n.Shape().Size())
			k := math.Sqrt(lhs * rhs / out)
			if k != math.Round(k) {
				t.Fatalf("matmul %s × %s → %s is not a plain 2-D matmul", in[0].Shape(), in[1].Shape(), n.Shape())
			}
			total += 2 * out * k
		}
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	for _, o := range outputs {
		visit(o)
	}
	return total
}

func smallSizes() Sizes {
	return Sizes{ObsDim: 3, ActDim: 2, Horizon: 2, Batch: 8, Candidates: 3,
		ActorHidden: []int{16, 8}, CriticHidden: []int{12, 6}, Ensemble: 2, FlowSteps: 10}
}

// countIn builds fn in a graph of a fresh agent-less store, executes it once on the go backend,
// and returns the matmul FLOPs of its live outputs.
func countIn(t *testing.T, fn func(scope *model.Scope, s, a *Node) []*Node, s Sizes, rows int) float64 {
	t.Helper()
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	var flops float64
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, s, a *Node) *Node {
		outs := fn(scope, s, a)
		flops = dotFLOPs(t, outs...)
		sum := ReduceAllSum(outs[0])
		for _, o := range outs[1:] {
			sum = Add(sum, ReduceAllSum(o))
		}
		return sum
	})
	if err != nil {
		t.Fatal(err)
	}
	obs := tensors.FromShape(shapes.Make(dtypes.Float32, rows, s.ObsDim))
	act := tensors.FromShape(shapes.Make(dtypes.Float32, rows, s.Chunk()))
	if _, err := exec.Call(obs, act); err != nil {
		t.Fatal(err)
	}
	return flops
}

func TestMLPForwardFLOPsMatchesGraph(t *testing.T) {
	s := smallSizes()
	got := countIn(t, func(scope *model.Scope, obs, a *Node) []*Node {
		net := mvp.NewNetworkConfig().WithMLP(mvp.NewMLPConfig().WithWidths(s.ActorHidden...))
		g := obs.Graph()
		tt := Ones(g, shapes.Make(dtypes.Float32, s.Batch, 1))
		return []*Node{net.MeanVelocity(scope.At("actor"), a, tt, tt, obs)}
	}, s, s.Batch)
	if want := s.actorFwd(s.Batch); got != want {
		t.Fatalf("u_θ forward: graph has %g matmul FLOPs, formula says %g", got, want)
	}
	// By hand: input a(4) + t + r + s(3) = 9, so 2·8·(9·16 + 16·8 + 8·4).
	if want := 2.0 * 8 * (9*16 + 16*8 + 8*4); got != want {
		t.Fatalf("u_θ forward: graph has %g matmul FLOPs, hand count %g", got, want)
	}
}

func TestCriticForwardFLOPsMatchesGraph(t *testing.T) {
	s := smallSizes()
	got := countIn(t, func(scope *model.Scope, obs, a *Node) []*Node {
		c := mvp.DefaultCriticConfig()
		c.Hidden, c.Ensemble = s.CriticHidden, s.Ensemble
		return []*Node{c.QEnsemble(scope.At(mvp.CriticScope), obs, a)}
	}, s, s.Batch)
	if want := s.criticFwd(s.Batch); got != want {
		t.Fatalf("critic ensemble forward: graph has %g matmul FLOPs, formula says %g", got, want)
	}
}

// TestMVPActorFLOPsMatchesGraph counts the generator's loss (primal, forward-mode tangent, IVC) and
// its reverse-mode gradient w.r.t. the actor's variables, as the agent's update builds them.
func TestMVPActorFLOPsMatchesGraph(t *testing.T) {
	s := smallSizes()
	spec, err := s.Spec(mvp.KindMVP)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := mvp.NewGenerator(spec)
	if err != nil {
		t.Fatal(err)
	}
	var store *model.Store
	got := countIn(t, func(scope *model.Scope, obs, a *Node) []*Node {
		store = scope.Store()
		loss, _ := gen.Loss(scope.At(mvp.ActorScope), obs, a, nil)
		var vars []*Node
		for v := range store.IterVariables() {
			if v.Trainable {
				vars = append(vars, v.NodeValue(obs.Graph()))
			}
		}
		return append([]*Node{loss}, Gradient(loss, vars...)...)
	}, s, s.Batch)
	want := s.MVPActorFLOPs()
	// Reverse mode may also form the (unused) gradient of the first layer's input; allow for it.
	firstInput := 2 * float64(s.Batch) * float64(s.actorIn()) * float64(s.ActorHidden[0])
	if got < want || got > want+2*firstInput {
		t.Fatalf("MVP generator update: graph has %g matmul FLOPs, formula says %g (+ up to %g)", got, want, 2*firstInput)
	}
	t.Logf("MVP generator update: graph %g, formula %g matmul FLOPs", got, want)
}
