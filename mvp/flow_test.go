package mvp

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// refVelocity evaluates the flow network v_θ(a, t, s) in float64 with the weights of refNet.
func (n *refNet) velocity(a []float64, t float64, s []float64) []float64 {
	x := append([]float64{}, a...)
	x = append(x, n.timeFeat(t)...)
	x = append(x, s...)
	return n.mlp(x)
}

// TestFlowLossMatchesFloat64Reference checks the flow-matching loss with chunk masks.
func TestFlowLossMatchesFloat64Reference(t *testing.T) {
	cfg := NewFlowConfig().WithNet(tinyConfig().Net)
	f, err := NewFlow(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rb := newRefBatch(4, 7, 3, 6, 3, true)
	store := seededStore(t, 8)
	out := callGraph(t, store, func(scope *model.Scope, in []*Node) []*Node {
		loss, terms := f.LossWithNoise(scope.At("gen"), in[0], in[1], in[2], in[3], in[4])
		return []*Node{loss, terms["fm"]}
	}, rb.tensors()...)
	ref := loadRefNet(t, store, "/gen", cfg.Net)
	d := rb.aDim / rb.h
	want := 0.0
	for i := 0; i < rb.b; i++ {
		a, eps := rb.a[i*rb.aDim:(i+1)*rb.aDim], rb.eps[i*rb.aDim:(i+1)*rb.aDim]
		tt := rb.t[i]
		at, v := make([]float64, rb.aDim), make([]float64, rb.aDim)
		for j := range at {
			at[j] = (1-tt)*eps[j] + tt*a[j]
			v[j] = a[j] - eps[j]
		}
		pred := ref.velocity(at, tt, rb.s[i*rb.sDim:(i+1)*rb.sDim])
		for j := range pred {
			want += rb.valid[i*rb.h+j/d] * (pred[j] - v[j]) * (pred[j] - v[j])
		}
	}
	want /= float64(rb.b * rb.aDim)
	assertClose(t, "flow loss", scalar64(t, out[0]), want, 1e-10, 1e-14)
	assertClose(t, "fm term", scalar64(t, out[1]), want, 1e-10, 1e-14)
}

// TestFlowEulerSampler checks K Euler steps a ← a + v_θ(a, k/K, s)/K against the float64 network,
// and that Act clips.
func TestFlowEulerSampler(t *testing.T) {
	for _, k := range []int{1, 4} {
		cfg := NewFlowConfig().WithNet(tinyConfig().Net).WithSteps(k)
		f, _ := NewFlow(cfg)
		rb := newRefBatch(6, 5, 3, 4, 1, false)
		in := rb.tensors()
		store := seededStore(t, 2)
		out := callGraph(t, store, func(scope *model.Scope, s, eps *Node) (*Node, *Node) {
			return f.Sample(scope.At("gen"), s, eps), f.Act(scope.At("gen"), s, eps)
		}, in[0], in[3])
		ref := loadRefNet(t, store, "/gen", cfg.Net)
		got, clipped := flat64(t, out[0]), flat64(t, out[1])
		for i := 0; i < rb.b; i++ {
			a := append([]float64{}, rb.eps[i*rb.aDim:(i+1)*rb.aDim]...)
			for step := 0; step < k; step++ {
				v := ref.velocity(a, float64(step)/float64(k), rb.s[i*rb.sDim:(i+1)*rb.sDim])
				for j := range a {
					a[j] += v[j] / float64(k)
				}
			}
			for j := range a {
				assertClose(t, "Euler sample", got[i*rb.aDim+j], a[j], 1e-12, 1e-12)
				if c := clipped[i*rb.aDim+j]; c != math.Max(-1, math.Min(1, got[i*rb.aDim+j])) {
					t.Fatalf("Act = %g for sample %g", c, got[i*rb.aDim+j])
				}
			}
		}
	}
}

// TestNetworkSharesVariables: building the network twice in one graph (as MF, IVC and sampling
// do) reuses the same variables, and the output depends on every input.
func TestNetworkSharesVariables(t *testing.T) {
	net := NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(8, 8).WithLayerNorm(true).WithActivation(activation.TypeRelu))
	store := seededStore(t, 1)
	out := callGraph(t, store, func(scope *model.Scope, g *Graph) []*Node {
		a := IotaFull(g, shapes.Make(dtypes.Float32, 2, 3))
		tt := Const(g, [][]float32{{0.1}, {0.7}})
		r := Const(g, [][]float32{{0.5}, {0.9}})
		s := Const(g, [][]float32{{1, 2}, {3, 4}})
		u1 := net.MeanVelocity(scope.At("u"), a, tt, r, s)
		u2 := net.MeanVelocity(scope.At("u"), a, tt, r, s)
		u3 := net.MeanVelocity(scope.At("u"), a, tt, tt, s)
		u4 := net.MeanVelocity(scope.At("u"), a, tt, r, MulScalar(s, 2))
		return []*Node{u1, u2, u3, u4}
	})
	if !out[0].Shape().Equal(shapes.Make(dtypes.Float32, 2, 3)) {
		t.Fatalf("u shape %s, want [2, 3]", out[0].Shape())
	}
	// Two hidden layers (weights, biases, LayerNorm gain and offset) plus the output layer.
	n := 0
	for v := range store.IterVariables() {
		if v.Trainable {
			n++
		}
	}
	if n != 2*4+2 {
		t.Errorf("%d trainable variables, want 10", n)
	}
	u1, u2, u3, u4 := flat32(t, out[0]), flat32(t, out[1]), flat32(t, out[2]), flat32(t, out[3])
	same := func(x, y []float32) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(u1, u2) {
		t.Error("two builds on the same scope differ")
	}
	if same(u1, u3) || same(u1, u4) {
		t.Error("output does not depend on r or s")
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []*NetworkConfig{
		NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(4, 0)),
		NewNetworkConfig().WithTimeFeatures(TimeFourier).WithMLP(NewMLPConfig()),
		{MLP: nil},
	}
	bad[1].FourierFrequencies = 0
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("bad network config %d accepted", i)
		}
	}
	if _, err := NewFlow(NewFlowConfig().WithSteps(0)); err == nil {
		t.Error("flow with 0 steps accepted")
	}
	if _, err := NewFlow(NewFlowConfig().WithActionBounds(1, -1)); err == nil {
		t.Error("empty action box accepted")
	}
	// Defaults of method.md.
	c := NewConfig()
	if c.Lambda != 1 || c.TimeSampling != TimeUniformSorted || c.DiagonalFraction != 0 || c.AdaptiveWeight ||
		c.SampleSteps != 1 || c.LogitNormalMu != -0.4 || c.LogitNormalSigma != 1 ||
		len(c.Net.MLP.Widths) != 4 || c.Net.MLP.Widths[0] != 512 || c.Net.MLP.Activation != activation.TypeGelu ||
		c.Net.MLP.LayerNorm || c.Net.TimeInput != TimeInputTR || c.Net.TimeFeatures != TimeRaw {
		t.Errorf("defaults differ from method.md: %+v / %+v / %+v", c, c.Net, c.Net.MLP)
	}
	if NewFlowConfig().Steps != 10 {
		t.Error("flow default K is not 10")
	}
	// Configs are logged as JSON by the training loops: a loss function must not break that.
	if _, err := json.Marshal(NewConfig().WithLossFn(DefaultPolicyLoss)); err != nil {
		t.Errorf("config with LossFn does not marshal: %v", err)
	}
	if _, err := json.Marshal(NewFlowConfig().WithLossFn(func(t *FlowTerms) *Node { return t.FM })); err != nil {
		t.Errorf("flow config with LossFn does not marshal: %v", err)
	}
}
