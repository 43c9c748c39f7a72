package mvp

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// fqlRef is FQL's loss in float64 from the weights the graph created: the flow BC policy, the
// one-step policy and the critic ensemble, each an independent refNet.
type fqlRef struct {
	cfg     *FQLConfig
	flow    *refNet
	oneStep *refNet
	critics []*refNet
}

func clip1(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// terms returns L_FM, L_distill, mean Q of the clipped one-step actions, and the total loss. When
// frozenScale > 0 the normalisation uses it instead of 1/mean|Q| (the graph's stop-gradient).
func (r *fqlRef) terms(rb *refBatch, noise []float64, frozenScale float64) (bc, distill, qMean, loss, scale float64) {
	c := r.cfg
	d := rb.aDim / rb.h
	lo, hi := c.Flow.ActionLow, c.Flow.ActionHigh
	absQ := 0.0
	for i := 0; i < rb.b; i++ {
		s := rb.s[i*rb.sDim : (i+1)*rb.sDim]
		a, eps := rb.a[i*rb.aDim:(i+1)*rb.aDim], rb.eps[i*rb.aDim:(i+1)*rb.aDim]
		tt := rb.t[i]
		at, v := make([]float64, rb.aDim), make([]float64, rb.aDim)
		for j := range at {
			at[j] = (1-tt)*eps[j] + tt*a[j]
			v[j] = a[j] - eps[j]
		}
		pred := r.flow.velocity(at, tt, s)
		for j := range pred {
			bc += rb.valid[i*rb.h+j/d] * (pred[j] - v[j]) * (pred[j] - v[j])
		}
		// The flow policy's K Euler steps from this example's noise, clipped: the target.
		z := append([]float64{}, noise[i*rb.aDim:(i+1)*rb.aDim]...)
		k := c.Flow.Steps
		for step := 0; step < k; step++ {
			vel := r.flow.velocity(z, float64(step)/float64(k), s)
			for j := range z {
				z[j] += vel[j] / float64(k)
			}
		}
		mu := r.oneStep.mlp(append(append([]float64{}, s...), noise[i*rb.aDim:(i+1)*rb.aDim]...))
		clipped := make([]float64, rb.aDim)
		for j := range mu {
			target := clip1(z[j], lo, hi)
			distill += (mu[j] - target) * (mu[j] - target)
			clipped[j] = clip1(mu[j], lo, hi)
		}
		q := 0.0
		for _, cr := range r.critics {
			q += cr.mlp(append(append([]float64{}, s...), clipped...))[0] / float64(len(r.critics))
		}
		qMean += q / float64(rb.b)
		absQ += math.Abs(q) / float64(rb.b)
	}
	bc /= float64(rb.b * rb.aDim)
	distill /= float64(rb.b * rb.aDim)
	scale = 1
	if c.NormalizeQLoss {
		scale = 1 / absQ
		if frozenScale > 0 {
			scale = frozenScale
		}
	}
	loss = bc + c.Alpha*distill - scale*qMean
	return
}

// TestFQLLossMatchesFloat64Reference checks FQL's loss terms against the float64 reference, and its
// gradients against central finite differences of the reference: the one-step policy gets the
// distillation and Q gradients; the flow BC policy gets only its flow-matching gradient (the
// distillation target carries none). (The critic's parameters are in the loss but outside the actor
// scope, whose optimizer alone steps on it.)
func TestFQLLossMatchesFloat64Reference(t *testing.T) {
	for _, normalize := range []bool{false, true} {
		cfg := NewFQLConfig().
			WithFlow(NewFlowConfig().WithNet(NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(6, 5))).WithSteps(3)).
			WithOneStep(NewMLPConfig().WithWidths(5, 4)).
			WithAlpha(7.5).WithNormalizeQLoss(normalize)
		cfg.Critic.Hidden, cfg.Critic.LayerNorm = []int{6, 5}, false
		f, err := NewFQL(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rb := newRefBatch(11, 5, 4, 6, 3, true)
		rng := rand.New(rand.NewPCG(5, 5))
		noise := make([]float64, rb.b*rb.aDim)
		for i := range noise {
			noise[i] = 1.5 * rng.NormFloat64()
		}
		store := seededStore(t, 3)
		const oneStepBias = "/actor/onestep/output/dense/biases"
		const flowBias = "/actor/bc_flow/output/dense/biases"
		ins := append(rb.tensors()[:5], tensors.FromFlatDataAndDimensions(noise, rb.b, rb.aDim))
		out := callGraph(t, store, func(scope *model.Scope, in []*Node) []*Node {
			loss, terms := f.LossWithNoise(scope.At(ActorScope), in[0], in[1], in[2], in[3], in[4], in[5])
			g := loss.Graph()
			grads := Gradient(loss,
				store.GetVariable(oneStepBias).NodeValue(g),
				store.GetVariable(flowBias).NodeValue(g))
			return append([]*Node{loss, terms["bc_flow"], terms["distill"], terms["q"], terms["policy"]}, grads...)
		}, ins...)
		netOf := func(widths ...int) *NetworkConfig {
			return NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(widths...))
		}
		ref := &fqlRef{cfg: cfg,
			flow:    loadRefNet(t, store, "/actor/bc_flow", cfg.Flow.Net),
			oneStep: loadRefNet(t, store, "/actor/onestep", netOf(5, 4)),
			critics: []*refNet{loadRefNet(t, store, "/critic/q0", netOf(6, 5)), loadRefNet(t, store, "/critic/q1", netOf(6, 5))},
		}
		bc, distill, qMean, loss, scale := ref.terms(rb, noise, 0)
		if distill < 1e-3 || math.Abs(qMean) < 1e-3 {
			t.Fatalf("degenerate test: distill %g, mean Q %g", distill, qMean)
		}
		name := map[bool]string{false: "", true: " (normalised Q)"}[normalize]
		assertClose(t, "FQL loss"+name, scalar64(t, out[0]), loss, 1e-9, 1e-12)
		assertClose(t, "bc_flow"+name, scalar64(t, out[1]), bc, 1e-9, 1e-12)
		assertClose(t, "distill"+name, scalar64(t, out[2]), distill, 1e-9, 1e-12)
		assertClose(t, "q"+name, scalar64(t, out[3]), qMean, 1e-9, 1e-12)
		assertClose(t, "policy"+name, scalar64(t, out[4]), loss, 1e-9, 1e-12)

		// Finite differences of the reference, perturbing one bias at a time with the graph's
		// stop-gradients held: the normalisation scale frozen, and for the flow policy only L_FM.
		fd := func(net *refNet, j int, which func() float64) float64 {
			const h = 1e-6
			last := len(net.biases) - 1
			orig := net.biases[last][j]
			net.biases[last][j] = orig + h
			up := which()
			net.biases[last][j] = orig - h
			down := which()
			net.biases[last][j] = orig
			return (up - down) / (2 * h)
		}
		total := func() float64 { _, _, _, l, _ := ref.terms(rb, noise, scale); return l }
		onlyBC := func() float64 { b, _, _, _, _ := ref.terms(rb, noise, scale); return b }
		gOne, gFlow := flat64(t, out[5]), flat64(t, out[6])
		for j := range gOne {
			assertClose(t, "dL/d one-step bias"+name, gOne[j], fd(ref.oneStep, j, total), 1e-5, 1e-8)
		}
		for j := range gFlow {
			assertClose(t, "dL/d flow bias"+name, gFlow[j], fd(ref.flow, j, onlyBC), 1e-5, 1e-8)
		}
	}
}

// FQL acts with its one-step policy alone: the kind table's rows have N = 1, the critic, h = 1 for
// fql and h = 5 for qc-fql, and build the FQL generator with α = 100 and K = 10.
func TestFQLAgentDefaults(t *testing.T) {
	for kind, h := range map[string]int{KindFQL: 1, KindQCFQL: 5} {
		if !slices.Contains(Kinds, kind) {
			t.Errorf("Kinds %v lacks %s", Kinds, kind)
		}
		c, err := DefaultSpec(kind, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		if c.Horizon != h || c.Candidates != 1 || !c.UseCritic || c.Generator.Type != GeneratorFQL {
			t.Errorf("%s: horizon %d, candidates %d, critic %v, generator %q; want %d, 1, true, %q",
				kind, c.Horizon, c.Candidates, c.UseCritic, c.Generator.Type, h, GeneratorFQL)
		}
		g, err := NewGenerator(c)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := g.(*FQL)
		if !ok {
			t.Fatalf("%s: generator %T, want *FQL", kind, g)
		}
		if cfg := f.Config(); cfg.Alpha != 100 || cfg.Flow.Steps != 10 || cfg.NormalizeQLoss ||
			!slices.Equal(cfg.OneStep.Widths, c.Generator.Hidden) || !slices.Equal(cfg.Critic.Hidden, c.Critic.Hidden) {
			t.Errorf("%s: FQL config %+v, want α = 100, K = 10, no Q normalisation, the spec's widths", kind, cfg)
		}
		// α travels in the spec's JSON, and a spec with another α builds another generator.
		c.Generator.FQL.Alpha = 7
		if d := SpecDiff(tinySpec32(t, kind), c); len(d) != 1 || d[0] != "generator.fql.alpha: 100 → 7" {
			t.Errorf("%s: spec diff %v, want only generator.fql.alpha", kind, d)
		}
		if g, err := NewGenerator(c); err != nil || g.(*FQL).Config().Alpha != 7 {
			t.Errorf("%s: generator with α = 7: %v", kind, err)
		}
		c.Generator.FQL.Alpha = -1
		if _, err := NewGenerator(c); err == nil || !strings.Contains(err.Error(), "alpha") {
			t.Errorf("%s: α = −1 gave %v, want an error naming alpha", kind, err)
		}
	}
}

// tinySpec32 is DefaultSpec(kind, 3, 2) for tests.
func tinySpec32(t *testing.T, kind string) Spec {
	t.Helper()
	c, err := DefaultSpec(kind, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
