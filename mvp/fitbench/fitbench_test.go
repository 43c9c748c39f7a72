package fitbench

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/xla"
)

func gaussian(rng *rand.Rand, n int, mx, my float64) []float64 {
	x := make([]float64, 2*n)
	for i := 0; i < n; i++ {
		x[2*i], x[2*i+1] = mx+rng.NormFloat64(), my+rng.NormFloat64()
	}
	return x
}

// For two unit Gaussians whose means differ by μ, every projection onto a unit direction θ is
// a shift of μ·θ, so SW₂² = E_θ[(μ·θ)²] = ‖μ‖²/2 in 2-D.
func TestSlicedWassersteinGaussianShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 8000
	x, y := gaussian(rng, n, 0, 0), gaussian(rng, n, 0.6, -0.8)
	sw, err := SlicedWasserstein(x, y, 2, 256, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 / math.Sqrt2; math.Abs(sw-want) > 0.03 {
		t.Errorf("SW = %.4f, want %.4f ± 0.03", sw, want)
	}
	same, _ := SlicedWasserstein(x, x, 2, 16, rand.New(rand.NewPCG(2, 2)))
	if same != 0 {
		t.Errorf("SW(x, x) = %g", same)
	}
	z := gaussian(rng, n, 0, 0)
	near, _ := SlicedWasserstein(x, z, 2, 64, rand.New(rand.NewPCG(2, 2)))
	if near > 0.05 {
		t.Errorf("SW between two samples of one Gaussian = %g, want < 0.05", near)
	}
}

func TestMMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	bw := []float64{0.5, 1}
	x, y, z := gaussian(rng, 800, 0, 0), gaussian(rng, 800, 0, 0), gaussian(rng, 800, 1, 0)
	same, err := MMD(x, y, 2, bw)
	if err != nil {
		t.Fatal(err)
	}
	diff, _ := MMD(x, z, 2, bw)
	if !(same < 0.1 && diff > 0.3 && diff > 5*same) {
		t.Errorf("MMD same=%g shifted=%g: does not separate", same, diff)
	}
}

func TestDistanceInputErrors(t *testing.T) {
	_, err := SlicedWasserstein([]float64{0, 0, 1, 1}, []float64{0, 0}, 2, 4, rand.New(rand.NewPCG(1, 1)))
	if err == nil || !strings.Contains(err.Error(), "equally sized") {
		t.Errorf("size mismatch: %v", err)
	}
	_, err = SlicedWasserstein([]float64{0, math.NaN()}, []float64{0, 0}, 2, 4, rand.New(rand.NewPCG(1, 1)))
	if err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("NaN: %v", err)
	}
	if _, err := MMD([]float64{0, 0, 1}, []float64{0, 0, 1}, 2, []float64{1}); err == nil {
		t.Error("ragged input accepted")
	}
}

// TestFamilies checks each exact sampler against its definition.
func TestFamilies(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 4000
	theta := 0.7
	// Modes: every sample is within 5σ of one of the four rotated centres, each centre gets ~1/4.
	a := SampleActions(rng, State{Modes, theta}, n)
	counts := [4]int{}
	for i := 0; i < n; i++ {
		best, bestD := -1, math.Inf(1)
		for k := 0; k < 4; k++ {
			ang := theta + float64(k)*math.Pi/2
			d := math.Hypot(a[2*i]-0.6*math.Cos(ang), a[2*i+1]-0.6*math.Sin(ang))
			if d < bestD {
				best, bestD = k, d
			}
		}
		if bestD > 5*0.06 {
			t.Fatalf("modes sample %d at distance %g from every centre", i, bestD)
		}
		counts[best]++
	}
	for k, c := range counts {
		if math.Abs(float64(c)/n-0.25) > 0.03 {
			t.Errorf("mode %d has %d of %d samples", k, c, n)
		}
	}
	// Ring: mean radius 0.45 + 0.25·cos θ.
	a = SampleActions(rng, State{Ring, theta}, n)
	sum := 0.0
	for i := 0; i < n; i++ {
		sum += math.Hypot(a[2*i], a[2*i+1])
	}
	if want := 0.45 + 0.25*math.Cos(theta); math.Abs(sum/n-want) > 0.005 {
		t.Errorf("ring mean radius %g, want %g", sum/n, want)
	}
	// Checkerboard: inside [−0.8, 0.8]², on cells of the parity sin θ selects.
	for _, th := range []float64{1, 4} {
		parity := 0
		if math.Sin(th) > 0 {
			parity = 1
		}
		a = SampleActions(rng, State{Checkerboard, th}, n)
		for i := 0; i < n; i++ {
			x, y := a[2*i], a[2*i+1]
			if math.Abs(x) > 0.8 || math.Abs(y) > 0.8 {
				t.Fatalf("checkerboard sample (%g, %g) outside the board", x, y)
			}
			ci, cj := int((x+0.8)/0.4), int((y+0.8)/0.4)
			if (ci+cj+parity)%2 != 0 {
				t.Fatalf("checkerboard sample (%g, %g) on the wrong colour for θ=%g", x, y, th)
			}
		}
	}
	task := NewTask()
	if task.StateDim() != 5 || len(task.HeldOutStates(4)) != 12 {
		t.Errorf("task: state dim %d, %d held-out states", task.StateDim(), len(task.HeldOutStates(4)))
	}
	if _, err := ParseFamily("spiral"); err == nil {
		t.Error("unknown family accepted")
	}
}

// TestFitLearns trains a small flow model briefly on the ring family and checks it moves from
// the untrained distance toward the truth, and that the truth floor is below both.
func TestFitLearns(t *testing.T) {
	backend, err := xla.Default()
	if err != nil {
		t.Fatal(err)
	}
	net := mvp.NewNetworkConfig().WithMLP(mvp.NewMLPConfig().WithWidths(64, 64))
	gen, err := mvp.NewFlow(mvp.NewFlowConfig().WithNet(net).WithSteps(4))
	if err != nil {
		t.Fatal(err)
	}
	task := NewTask(Ring)
	cfg := NewConfig()
	cfg.EvalStatesPerFamily, cfg.EvalSamples, cfg.MMDSamples, cfg.Projections = 2, 512, 0, 32
	cfg.Steps = 1
	untrained, err := Fit(backend, gen, task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Steps = 400
	trained, err := Fit(backend, gen, task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	floor, _ := TruthFloor(task, cfg)
	t.Logf("SW untrained %.4f, trained %.4f, floor %.4f", untrained.SW, trained.SW, floor.SW)
	if !(trained.SW < 0.5*untrained.SW && floor.SW < trained.SW) {
		t.Errorf("SW untrained %.4f, trained %.4f, floor %.4f: no learning", untrained.SW, trained.SW, floor.SW)
	}
	if trained.TrainSeconds <= 0 || trained.SampleMillisPerBatch <= 0 || trained.SWByFamily["ring"] != trained.SW {
		t.Errorf("incomplete result %+v", trained)
	}
}

// nanGen is a generator whose loss is NaN, to exercise the divergence guard.
type nanGen struct{ mvp.Generator }

func (g nanGen) Loss(scope *model.Scope, s, a, valid *graph.Node) (*graph.Node, map[string]*graph.Node) {
	loss, terms := g.Generator.Loss(scope, s, a, valid)
	return graph.Div(loss, graph.ZerosLike(loss)), terms
}

func TestFitStopsOnDivergence(t *testing.T) {
	backend, err := xla.Default()
	if err != nil {
		t.Fatal(err)
	}
	flow, _ := mvp.NewFlow(mvp.NewFlowConfig().WithNet(mvp.NewNetworkConfig().WithMLP(mvp.NewMLPConfig().WithWidths(8))))
	cfg := NewConfig()
	cfg.Steps = 5
	_, err = Fit(backend, nanGen{flow}, NewTask(Ring), cfg)
	if err == nil || !strings.Contains(err.Error(), "diverged at step 0") {
		t.Errorf("NaN loss: got %v, want a 'diverged at step 0' error", err)
	}
}
