package mvp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

func newRefBatch(seed uint64, b, sDim, aDim, h int, withMask bool) *refBatch {
	rng := rand.New(rand.NewPCG(seed, 7))
	rb := &refBatch{b: b, sDim: sDim, aDim: aDim, h: h}
	fill := func(n int, f func() float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = f()
		}
		return x
	}
	rb.s = fill(b*sDim, rng.NormFloat64)
	rb.a = fill(b*aDim, func() float64 { return 2*rng.Float64() - 1 })
	rb.eps = fill(b*aDim, rng.NormFloat64)
	for i := 0; i < b; i++ {
		x, y := rng.Float64(), rng.Float64()
		rb.t = append(rb.t, math.Min(x, y))
		rb.r = append(rb.r, math.Max(x, y))
	}
	if withMask {
		rb.valid = make([]float64, b*h)
		for i := 0; i < b; i++ {
			// Example i keeps its first (i mod h)+1 steps: every pattern of a truncated chunk.
			for k := 0; k < h; k++ {
				if k <= i%h {
					rb.valid[i*h+k] = 1
				}
			}
		}
	}
	return rb
}

func (rb *refBatch) tensors() []any {
	col := func(x []float64) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(append([]float64{}, x...), rb.b, 1)
	}
	valid := rb.valid
	if valid == nil {
		valid = make([]float64, rb.b*rb.h)
		for i := range valid {
			valid[i] = 1
		}
	}
	return []any{
		tensors.FromFlatDataAndDimensions(append([]float64{}, rb.s...), rb.b, rb.sDim),
		tensors.FromFlatDataAndDimensions(append([]float64{}, rb.a...), rb.b, rb.aDim),
		tensors.FromFlatDataAndDimensions(valid, rb.b, rb.h),
		tensors.FromFlatDataAndDimensions(append([]float64{}, rb.eps...), rb.b, rb.aDim),
		col(rb.t), col(rb.r),
	}
}

func tinyConfig() *Config {
	return NewConfig().WithNet(NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(6, 5)))
}

// TestMVPLossMatchesFloat64Reference checks L_MF and L_IVC (and L_policy) against a separate
// float64 implementation that gets du/dt by central finite differences, for each time encoding,
// with chunk masks and with the adaptive weight.
func TestMVPLossMatchesFloat64Reference(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config)
		mask   bool
	}{
		{"t-r raw", func(c *Config) {}, false},
		{"t-r raw masked", func(c *Config) {}, true},
		{"t-delta fourier masked", func(c *Config) {
			c.Net.TimeInput, c.Net.TimeFeatures, c.Net.FourierFrequencies = TimeInputTDelta, TimeFourier, 3
		}, true},
		{"adaptive lambda 0.5", func(c *Config) { c.WithAdaptiveWeight(1e-2, 0.75).WithLambda(0.5) }, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.mutate(cfg)
			m, err := NewMVP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rb := newRefBatch(uint64(i+1), 7, 3, 4, 2, tc.mask)
			store := seededStore(t, 42)
			out := callGraph(t, store, func(scope *model.Scope, in []*Node) []*Node {
				valid := in[2]
				if !tc.mask {
					valid = nil
				}
				loss, terms := m.LossWithNoise(scope.At("gen"), in[0], in[1], valid, &Noise{Eps: in[3], T: in[4], R: in[5]})
				return []*Node{terms["mf"], terms["ivc"], loss}
			}, rb.tensors()...)
			ref := loadRefNet(t, store, "/gen", cfg.Net)
			mf, ivc, _ := ref.refTerms(rb, cfg, nil)
			if mf < 1e-3 || ivc < 1e-3 {
				t.Fatalf("degenerate reference: mf=%g ivc=%g", mf, ivc)
			}
			assertClose(t, "L_MF", scalar64(t, out[0]), mf, 1e-7, 1e-12)
			assertClose(t, "L_IVC", scalar64(t, out[1]), ivc, 1e-9, 1e-12)
			assertClose(t, "L_policy", scalar64(t, out[2]), mf+cfg.Lambda*ivc, 1e-7, 1e-12)
		})
	}
}

// TestMVPGradientOnlyThroughPrediction checks that ∂L_MF/∂θ equals the finite-difference gradient
// of the reference loss with the target held fixed, and is measurably different from the gradient
// of the loss with the target left free — i.e. the target (JVP included) is under stop-gradient.
func TestMVPGradientOnlyThroughPrediction(t *testing.T) {
	cfg := tinyConfig()
	m, _ := NewMVP(cfg)
	rb := newRefBatch(11, 6, 3, 4, 1, false)
	store := seededStore(t, 5)
	paths := []string{"/gen/layer_0/dense/weights", "/gen/layer_1/dense/biases", "/gen/output/dense/weights"}
	out := callGraph(t, store, func(scope *model.Scope, in []*Node) []*Node {
		terms := m.Terms(scope.At("gen"), in[0], in[1], nil, &Noise{Eps: in[3], T: in[4], R: in[5]})
		g := in[0].Graph()
		var res []*Node
		for _, p := range paths {
			w := store.GetVariable(p).NodeValue(g)
			res = append(res, Gradient(terms.MF, w)[0])
			// The probe: the target alone has no gradient path to any weight.
			res = append(res, Gradient(ReduceAllSum(terms.Target), w)[0])
		}
		return res
	}, rb.tensors()...)

	ref := loadRefNet(t, store, "/gen", cfg.Net)
	_, _, targets := ref.refTerms(rb, cfg, nil)
	for pi, p := range paths {
		grad := flat64(t, out[2*pi])
		for j, g := range flat64(t, out[2*pi+1]) {
			if g != 0 {
				t.Fatalf("%s[%d]: target has gradient %g, want 0 (stop-gradient)", p, j, g)
			}
		}
		var param []float64
		switch {
		case strings.Contains(p, "layer_0"):
			param = ref.weights[0]
		case strings.Contains(p, "layer_1"):
			param = ref.biases[1]
		default:
			param = ref.weights[2]
		}
		maxGap := 0.0
		for _, j := range []int{0, len(param) / 2, len(param) - 1} {
			const h = 1e-5
			orig := param[j]
			param[j] = orig + h
			fp, _, _ := ref.refTerms(rb, cfg, targets)
			fpFree, _, _ := ref.refTerms(rb, cfg, nil)
			param[j] = orig - h
			fm, _, _ := ref.refTerms(rb, cfg, targets)
			fmFree, _, _ := ref.refTerms(rb, cfg, nil)
			param[j] = orig
			fd, fdFree := (fp-fm)/(2*h), (fpFree-fmFree)/(2*h)
			assertClose(t, p+" gradient", grad[j], fd, 1e-5, 1e-8)
			maxGap = math.Max(maxGap, math.Abs(fd-fdFree))
		}
		if maxGap < 1e-4 {
			t.Errorf("%s: frozen and free targets give the same gradient (gap %g): the probe cannot tell them apart", p, maxGap)
		}
	}
}

func TestSampleTimes(t *testing.T) {
	const n = 20000
	cases := []struct {
		name       string
		cfg        *Config
		meanT      float64 // expected E[t]
		meanR      float64
		diagFrac   float64
		meanTolAbs float64
	}{
		// min and max of two U(0,1): means 1/3 and 2/3.
		{"uniform-sorted", NewConfig(), 1.0 / 3, 2.0 / 3, 0, 0.01},
		{"diagonal 0.25", NewConfig().WithDiagonalFraction(0.25), 1.0 / 3, 0.25/3 + 0.75*2/3, 0.25, 0.01},
		{"logit-normal", NewConfig().WithLogitNormal(-0.4, 1), logitNormalSortedMean(-0.4, 1, true), logitNormalSortedMean(-0.4, 1, false), 0, 0.01},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMVP(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := seededStore(t, 3)
			out := callGraph(t, store, func(scope *model.Scope, g *Graph) (*Node, *Node) {
				return m.SampleTimes(scope, g, dtypes.Float32, n)
			})
			if !out[0].Shape().Equal(shapes.Make(dtypes.Float32, n, 1)) {
				t.Fatalf("t shape %s", out[0].Shape())
			}
			ts, rs := flat32(t, out[0]), flat32(t, out[1])
			var st, sr float64
			diag := 0
			for i := range ts {
				if ts[i] > rs[i] || ts[i] < 0 || rs[i] > 1 {
					t.Fatalf("pair %d: t=%g r=%g, want 0 ≤ t ≤ r ≤ 1", i, ts[i], rs[i])
				}
				if ts[i] == rs[i] {
					diag++
				}
				st += float64(ts[i])
				sr += float64(rs[i])
			}
			assertClose(t, "E[t]", st/n, tc.meanT, 0, tc.meanTolAbs)
			assertClose(t, "E[r]", sr/n, tc.meanR, 0, tc.meanTolAbs)
			assertClose(t, "diagonal fraction", float64(diag)/n, tc.diagFrac, 0, 0.01)
		})
	}
}

// logitNormalSortedMean integrates E[min] (or E[max]) of two logit-normal(μ, σ) draws numerically.
func logitNormalSortedMean(mu, sigma float64, min bool) float64 {
	// With density p and CDF F of one draw: E[min] = ∫ 2x p(x)(1 − F(x)) dx, E[max] = ∫ 2x p(x) F(x) dx.
	const steps = 20000
	sum := 0.0
	for i := 0; i < steps; i++ {
		z := -10 + 20*(float64(i)+0.5)/steps // integrate over the normal variable
		pz := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		x := 1 / (1 + math.Exp(-(mu + sigma*z)))
		F := 0.5 * (1 + math.Erf(z/math.Sqrt2))
		w := F
		if min {
			w = 1 - F
		}
		sum += 2 * x * pz * w * 20 / steps
	}
	return sum
}

// TestMVPSampleSteps checks one-step generation (a = ε + u_θ(ε, 0, 1, s)) and the k-step update
// a ← a + (r_i − t_i)·u_θ(a, t_i, r_i, s) against explicit calls of u_θ, and the clipping of Act.
func TestMVPSampleSteps(t *testing.T) {
	cfg := tinyConfig().WithSampleSteps(3).WithActionBounds(-0.5, 0.5)
	m, _ := NewMVP(cfg)
	rb := newRefBatch(2, 9, 3, 4, 1, false)
	in := rb.tensors()
	store := seededStore(t, 9)
	out := callGraph(t, store, func(scope *model.Scope, s, eps *Node) []*Node {
		sc := scope.At("gen")
		g, b := s.Graph(), s.Shape().Dimensions[0]
		col := func(v float64) *Node { return timeColumn(g, s.DType(), b, v) }
		one := Add(eps, m.MeanVelocity(sc, eps, col(0), col(1), s))
		a := eps
		for i := 0; i < 3; i++ {
			a = Add(a, MulScalar(m.MeanVelocity(sc, a, col(float64(i)/3), col(float64(i+1)/3), s), 1.0/3))
		}
		return []*Node{m.SampleSteps(sc, s, eps, 1), one, m.Sample(sc, s, eps), a, m.Act(sc, s, eps)}
	}, in[0], in[3])
	for i, x := range out {
		if !x.Shape().Equal(shapes.Make(dtypes.Float64, 9, 4)) {
			t.Fatalf("output %d shape %s, want [9, 4]", i, x.Shape())
		}
	}
	equal := func(what string, x, y []float64) {
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s: element %d = %g, want %g", what, i, x[i], y[i])
			}
		}
	}
	equal("one-step", flat64(t, out[0]), flat64(t, out[1]))
	for i, x := range flat64(t, out[2]) { // the step sizes r_i − t_i round differently from 1/3
		assertClose(t, "3-step element", x, flat64(t, out[3])[i], 1e-14, 1e-15)
	}
	inside, clipped := 0, 0
	for i, v := range flat64(t, out[4]) {
		raw := flat64(t, out[2])[i]
		want := math.Max(-0.5, math.Min(0.5, raw))
		if v != want {
			t.Fatalf("Act element %d = %g, want clip(%g) = %g", i, v, raw, want)
		}
		if v == raw {
			inside++
		} else {
			clipped++
		}
	}
	if inside == 0 || clipped == 0 {
		t.Fatalf("clipping test is degenerate: %d inside, %d clipped", inside, clipped)
	}
}

func TestChunkMask(t *testing.T) {
	store := seededStore(t, 1)
	out := callGraph(t, store, func(scope *model.Scope, g *Graph) *Node {
		valid := Const(g, [][]bool{{true, true, false}, {true, false, false}})
		return ChunkMask(valid, 6, dtypes.Float32)
	})
	want := []float32{1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0}
	got := flat32(t, out[0])
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ChunkMask = %v, want %v", got, want)
		}
	}
}

// TestMVPInputErrors checks that inconsistent inputs fail with an error naming the input.
func TestMVPInputErrors(t *testing.T) {
	m, _ := NewMVP(tinyConfig())
	cases := []struct {
		name           string
		s, a, valid    *tensors.Tensor
		wantSubstrings []string
	}{
		{"valid does not divide actDim", tensors.FromShape(shapes.Make(dtypes.Float32, 4, 3)),
			tensors.FromShape(shapes.Make(dtypes.Float32, 4, 5)), tensors.FromShape(shapes.Make(dtypes.Float32, 4, 2)),
			[]string{"valid", "actDim=5"}},
		{"batch mismatch", tensors.FromShape(shapes.Make(dtypes.Float32, 3, 3)),
			tensors.FromShape(shapes.Make(dtypes.Float32, 4, 4)), tensors.FromShape(shapes.Make(dtypes.Float32, 4, 2)),
			[]string{"states"}},
		{"dtype mismatch", tensors.FromShape(shapes.Make(dtypes.Float64, 4, 3)),
			tensors.FromShape(shapes.Make(dtypes.Float32, 4, 4)), tensors.FromShape(shapes.Make(dtypes.Float32, 4, 2)),
			[]string{"dtype"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := callGraphErr(t, seededStore(t, 1), func(scope *model.Scope, s, a, valid *Node) *Node {
				loss, _ := m.Loss(scope, s, a, valid)
				return loss
			}, tc.s, tc.a, tc.valid)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantSubstrings {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := NewMVP(NewConfig().WithLambda(-1)); err == nil {
		t.Error("negative lambda accepted")
	}
	if _, err := NewMVP(NewConfig().WithDiagonalFraction(2)); err == nil {
		t.Error("diagonal fraction 2 accepted")
	}
	if _, err := NewMVP(NewConfig().WithSampleSteps(0)); err == nil {
		t.Error("0 sample steps accepted")
	}
}

// trainSteps runs n Adam steps of gen's Loss on fixed data and returns every variable's bytes
// and the losses.
func trainSteps(t *testing.T, gen Generator, seed int64, n int) (map[string][]float32, []float32) {
	t.Helper()
	store := seededStore(t, seed)
	opt := optimizer.Adam().LearningRate(1e-3).Done()
	e, err := model.NewExec(testBackend(t), store, func(scope *model.Scope, s, a, valid *Node) *Node {
		loss, _ := gen.Loss(scope.At("gen"), s, a, valid)
		opt.UpdateGraph(scope, s.Graph(), loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	s, a, valid := make([]float32, 32*3), make([]float32, 32*4), make([]float32, 32*2)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	for i := range a {
		a[i] = float32(rng.Float64()*2 - 1)
	}
	for i := range valid {
		valid[i] = float32(rng.IntN(2))
	}
	var losses []float32
	for i := 0; i < n; i++ {
		out, err := e.Call(tensors.FromFlatDataAndDimensions(s, 32, 3), tensors.FromFlatDataAndDimensions(a, 32, 4),
			tensors.FromFlatDataAndDimensions(valid, 32, 2))
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, flat32(t, out[0])[0])
	}
	vars := map[string][]float32{}
	for v := range store.IterVariables() {
		if v.DType() == dtypes.Float32 {
			vars[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	return vars, losses
}

// TestDeterministicTraining: the same seed gives bit-identical losses and weights on the CPU
// backend; another seed does not.
func TestDeterministicTraining(t *testing.T) {
	mvpGen, _ := NewMVP(tinyConfig())
	flowGen, _ := NewFlow(NewFlowConfig().WithNet(tinyConfig().Net))
	for _, gen := range []Generator{mvpGen, flowGen} {
		t.Run(gen.Name(), func(t *testing.T) {
			v1, l1 := trainSteps(t, gen, 17, 4)
			v2, l2 := trainSteps(t, gen, 17, 4)
			v3, l3 := trainSteps(t, gen, 18, 4)
			for i := range l1 {
				if math.Float32bits(l1[i]) != math.Float32bits(l2[i]) {
					t.Fatalf("step %d loss %g vs %g with the same seed", i, l1[i], l2[i])
				}
			}
			if len(v1) < 6 {
				t.Fatalf("only %d variables", len(v1))
			}
			for p, x := range v1 {
				y := v2[p]
				for i := range x {
					if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
						t.Fatalf("%s[%d]: %g vs %g with the same seed", p, i, x[i], y[i])
					}
				}
			}
			if l1[0] == l3[0] {
				t.Errorf("seeds 17 and 18 give the same first loss %g", l1[0])
			}
			if x, y := v1["/gen/layer_0/dense/weights"], v3["/gen/layer_0/dense/weights"]; x[0] == y[0] {
				t.Errorf("seeds 17 and 18 give the same weights")
			}
		})
	}
}
