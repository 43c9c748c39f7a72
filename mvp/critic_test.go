package mvp

import (
	"github.com/gomvp/gomvp/mvp/policy"
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/datasets"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// TestTDTarget checks y = R + γ^h·mask·q' against a hand computation.
func TestTDTarget(t *testing.T) {
	backend := agentTestBackend(t)
	r := []float32{1, -2, 0.5}
	mask := []float32{1, 0, 1}
	q := []float32{10, 10, -4}
	gamma, h := 0.9, 3
	got := tensors.MustCopyFlatData[float32](graph.MustExecOnce(backend, func(r, m, q *graph.Node) *graph.Node {
		return TDTarget(r, m, q, gamma, h)
	}, r, mask, q))
	g3 := 0.9 * 0.9 * 0.9
	want := []float64{1 + g3*10, -2, 0.5 + g3*(-4)}
	for i := range want {
		if !near(float64(got[i]), want[i], 1e-6) {
			t.Errorf("y[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestCriticLoss checks Σ_i mean_b w_b (Q_i − y_b)² by hand.
func TestCriticLoss(t *testing.T) {
	backend := agentTestBackend(t)
	q := [][]float32{{1, 2, 3}, {0, 0, 0}}
	y := []float32{1, 0, 1}
	w := []float32{1, 1, 0}
	got := graph.MustExecOnce(backend, func(q, y, w *graph.Node) *graph.Node { return CriticLoss(q, y, w) }, q, y, w).Value().(float32)
	// member 0: (0² + 2² + 0)/3 = 4/3; member 1: (1 + 0 + 0)/3 = 1/3.
	if want := 5.0 / 3; !near(float64(got), want, 1e-6) {
		t.Errorf("critic loss = %v, want %v", got, want)
	}
}

// TestChunkRewardsFromSampler checks the chunk windows the training loop consumes against a hand
// computation on a two-episode dataset (discounted chunk reward, bootstrap mask, valid steps).
func TestChunkRewardsAndMasks(t *testing.T) {
	d := tinyEpisodes()
	w := d.Window(1, 3, 0.5) // steps 1,2 of episode 0 (it ends at row 2), step 3 invalid
	if want := float32(2 + 0.5*3); w.Reward != want {
		t.Errorf("chunk reward = %v, want %v", w.Reward, want)
	}
	if w.Mask != 0 {
		t.Errorf("mask = %v, want 0 (episode 0 terminates inside the chunk)", w.Mask)
	}
	if got := w.Valid; got[0] != 1 || got[1] != 1 || got[2] != 0 {
		t.Errorf("valid = %v, want [1 1 0]", got)
	}
	w = d.Window(3, 2, 0.5) // rows 3,4 of episode 1, which goes on
	if want := float32(4 + 0.5*5); w.Reward != want || w.Mask != 1 || w.Valid[1] != 1 {
		t.Errorf("window 3: reward %v mask %v valid %v, want %v 1 [1 1]", w.Reward, w.Mask, w.Valid, want)
	}
}

// TestPolyak checks θ' ← (1 − τ)θ' + τθ on every critic variable, and that CopyToTarget makes
// the target equal to the online critic.
func TestPolyak(t *testing.T) {
	backend := agentTestBackend(t)
	c := DefaultCriticConfig()
	c.Hidden = []int{4}
	store := model.NewStore()
	s := [][]float32{{1, 2}}
	a := [][]float32{{0.5}}
	// Build the online critic and the target (copied), then perturb the online one.
	if _, err := model.CallOnceN(backend, store, func(scope *model.Scope, s, a *graph.Node) *graph.Node {
		q := c.QEnsemble(scope.At(CriticScope), s, a)
		CopyToTarget(store, s.Graph())
		return graph.Add(q, c.QEnsemble(scope.At(TargetScope), s, a))
	}, s, a); err != nil {
		t.Fatal(err)
	}
	pairs := criticPairs(store)
	if len(pairs) == 0 {
		t.Fatal("no critic variables")
	}
	before := map[*model.Variable][]float32{}
	for on, tg := range pairs {
		ov := tensors.MustCopyFlatData[float32](on.MustValue())
		tv := tensors.MustCopyFlatData[float32](tg.MustValue())
		for i := range ov {
			if ov[i] != tv[i] {
				t.Fatalf("%s: target differs from online after CopyToTarget", on.Path())
			}
			ov[i] += 1
		}
		on.MustSetValue(tensors.FromFlatDataAndDimensions(ov, on.Shape().Dimensions...))
		before[tg] = tv
	}
	const tau = 0.25
	if _, err := model.CallOnceN(backend, store, func(scope *model.Scope, g *graph.Graph) *graph.Node {
		PolyakUpdate(store, g, tau)
		return graph.Const(g, float32(0))
	}); err != nil {
		t.Fatal(err)
	}
	for on, tg := range pairs {
		ov := tensors.MustCopyFlatData[float32](on.MustValue())
		tv := tensors.MustCopyFlatData[float32](tg.MustValue())
		for i := range tv {
			want := (1-tau)*float64(before[tg][i]) + tau*float64(ov[i])
			if !near(float64(tv[i]), want, 1e-6) {
				t.Fatalf("%s[%d] = %v, want %v", tg.Path(), i, tv[i], want)
			}
		}
	}
}

// TestSelectArgmax checks that selection returns the highest-scoring candidate of each row.
func TestSelectArgmax(t *testing.T) {
	backend := agentTestBackend(t)
	q := [][]float32{{0.1, 3, -1, 2}, {5, 1, 1, 7}}
	cand := [][][]float32{
		{{0, 0}, {1, 1}, {2, 2}, {3, 3}},
		{{4, 4}, {5, 5}, {6, 6}, {7, 7}},
	}
	got := tensors.MustCopyFlatData[float32](graph.MustExecOnce(backend, policy.SelectArgmax, q, cand))
	want := []float32{1, 1, 7, 7}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("selected %v, want %v", got, want)
		}
	}
}

// tinyEpisodes is two 3-step episodes with ObsDim = ActDim = 1: episode 0 ends in the task
// (mask 0), episode 1 by the time limit.
func tinyEpisodes() *datasets.Dataset {
	return &datasets.Dataset{
		Name: "tiny", ObsDim: 1, ActDim: 1,
		Observations:     []float32{0, 1, 2, 10, 11, 12},
		Actions:          []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6},
		NextObservations: []float32{1, 2, 3, 11, 12, 13},
		Rewards:          []float32{1, 2, 3, 4, 5, 6},
		Masks:            []float32{1, 1, 0, 1, 1, 1},
		Terminals:        []float32{0, 0, 1, 0, 0, 1},
	}
}
