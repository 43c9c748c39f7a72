package mvp

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	. "github.com/gomlx/gomlx/support/exceptions"

	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
)

// FlowConfig is the instantaneous-velocity flow-matching baseline (flow BC of QC/BFN, method.md §4):
// v_θ(a(t), t, s) regressed on v = a* − ε at t ~ U(0, 1), sampled with K Euler steps.
type FlowConfig struct {
	// Name reported by Name(). Default "" means "flow-k<K>".
	Name string

	// Net is v_θ's network; its TimeInput is ignored (one time). Default: NewNetworkConfig().
	Net *NetworkConfig

	// Steps K of the Euler sampler. Default 10; K = 1 is the one-step variant.
	Steps int

	// ActionLow and ActionHigh bound the action box that Act clips to. Default [−1, 1].
	ActionLow, ActionHigh float64

	// LossFn turns the loss terms into the training loss. Default nil means FlowTerms.FM.
	LossFn func(terms *FlowTerms) *Node `json:"-"`
}

// NewFlowConfig returns the defaults: the MVP network, K = 10.
func NewFlowConfig() *FlowConfig {
	return &FlowConfig{Net: NewNetworkConfig(), Steps: 10, ActionLow: -1, ActionHigh: 1}
}

// WithNet replaces the network config.
func (c *FlowConfig) WithNet(net *NetworkConfig) *FlowConfig { c.Net = net; return c }

// WithSteps sets K.
func (c *FlowConfig) WithSteps(k int) *FlowConfig { c.Steps = k; return c }

// WithActionBounds sets the clipping box of Act.
func (c *FlowConfig) WithActionBounds(low, high float64) *FlowConfig {
	c.ActionLow, c.ActionHigh = low, high
	return c
}

// WithLossFn replaces the loss (nil restores the flow-matching loss).
func (c *FlowConfig) WithLossFn(fn func(terms *FlowTerms) *Node) *FlowConfig { c.LossFn = fn; return c }

// Validate reports an inconsistent config.
func (c *FlowConfig) Validate() error {
	if c.Net == nil {
		return fmt.Errorf("mvp: flow config has no network")
	}
	if err := c.Net.Validate(); err != nil {
		return err
	}
	if c.Steps < 1 {
		return fmt.Errorf("mvp: flow steps %d must be ≥ 1", c.Steps)
	}
	if !(c.ActionLow < c.ActionHigh) {
		return fmt.Errorf("mvp: action bounds [%g, %g] are empty", c.ActionLow, c.ActionHigh)
	}
	return nil
}

// FlowTerms is what the flow-matching loss is made of, handed to FlowConfig.LossFn.
type FlowTerms struct {
	Config *FlowConfig
	Scope  *model.Scope
	// S, A (data actions), Valid and Mask as in LossTerms.
	S, A, Valid, Mask *Node
	// Eps [B, A], T [B, 1], At = (1 − t)·ε + t·a*, V = a* − ε.
	Eps, T, At, V *Node
	// Pred = v_θ(a(t), t, s).
	Pred *Node
	// FM = mean ‖v_θ(a(t), t, s) − v‖².
	FM *Node
}

// Flow is the flow-matching generator. It implements Generator.
type Flow struct {
	cfg *FlowConfig
}

var _ Generator = (*Flow)(nil)

// NewFlow validates cfg (nil: NewFlowConfig()) and returns the generator.
func NewFlow(cfg *FlowConfig) (*Flow, error) {
	if cfg == nil {
		cfg = NewFlowConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Flow{cfg: cfg}, nil
}

// Config returns the generator's config (not a copy).
func (f *Flow) Config() *FlowConfig { return f.cfg }

// Name implements Generator.
func (f *Flow) Name() string {
	if f.cfg.Name != "" {
		return f.cfg.Name
	}
	return fmt.Sprintf("flow-k%d", f.cfg.Steps)
}

// Velocity is v_θ(a, t, s) with this generator's variables (under scope).
func (f *Flow) Velocity(scope *model.Scope, a, t, s *Node) *Node {
	return f.cfg.Net.Velocity(scope, a, t, s)
}

// Loss implements Generator: the flow-matching loss with ε and t ~ U(0, 1) drawn from scope's
// random state; terms holds "fm" and "policy".
func (f *Flow) Loss(scope *model.Scope, s, a, valid *Node) (*Node, map[string]*Node) {
	checkBatch("mvp.Flow.Loss", s, a, valid)
	g, dtype := a.Graph(), a.DType()
	b, actDim := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	eps := xla.StoreNormal(scope.Store(), g, shapes.Make(dtype, b, actDim))
	t := scope.RandomUniform(g, shapes.Make(dtype, b, 1))
	return f.LossWithNoise(scope, s, a, valid, eps, t)
}

// LossWithNoise is Loss with given ε [B, A] and t [B, 1].
func (f *Flow) LossWithNoise(scope *model.Scope, s, a, valid, eps, t *Node) (*Node, map[string]*Node) {
	terms := f.Terms(scope, s, a, valid, eps, t)
	fn := f.cfg.LossFn
	if fn == nil {
		fn = func(t *FlowTerms) *Node { return t.FM }
	}
	loss := fn(terms)
	if loss == nil || !loss.Shape().IsScalar() {
		Panicf("mvp: flow LossFn must return a scalar, got %v", shapeOf(loss))
	}
	return loss, map[string]*Node{"fm": terms.FM, "policy": loss}
}

// Terms builds the flow-matching loss pieces for given noise.
func (f *Flow) Terms(scope *model.Scope, s, a, valid, eps, t *Node) *FlowTerms {
	checkBatch("mvp.Flow.Terms", s, a, valid)
	b, actDim := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	if eps == nil || !eps.Shape().Equal(a.Shape()) {
		Panicf("mvp.Flow.Terms: noise ε %v must match actions %s", shapeOf(eps), a.Shape())
	}
	if t == nil || !t.Shape().Equal(shapes.Make(a.DType(), b, 1)) {
		Panicf("mvp.Flow.Terms: t must be [%d, 1] %s, got %v", b, a.DType(), shapeOf(t))
	}
	a, eps, t = StopGradient(a), StopGradient(eps), StopGradient(t)
	if s != nil {
		s = StopGradient(s)
	}
	at := Add(Mul(OneMinus(t), eps), Mul(t, a))
	v := Sub(a, eps)
	pred := f.cfg.Net.Velocity(scope, at, t, s)
	mask := ChunkMask(valid, actDim, a.DType())
	return &FlowTerms{
		Config: f.cfg, Scope: scope,
		S: s, A: a, Valid: valid, Mask: mask,
		Eps: eps, T: t, At: at, V: v, Pred: pred,
		FM: MaskedMSE(pred, v, mask),
	}
}

// Sample implements Generator with the configured K Euler steps (unclipped).
func (f *Flow) Sample(scope *model.Scope, s, eps *Node) *Node {
	return f.SampleSteps(scope, s, eps, f.cfg.Steps)
}

// SampleSteps integrates da/dt = v_θ(a, t, s) from a(0) = ε with k Euler steps of size 1/k
// (policy.Sample's flow sampler, the one the exported policy runs too).
func (f *Flow) SampleSteps(scope *model.Scope, s, eps *Node, k int) *Node {
	checkBatch("mvp.Flow.Sample", s, eps, nil)
	if k < 1 {
		Panicf("mvp.Flow.Sample: %d steps, need ≥ 1", k)
	}
	if err := f.cfg.Net.Validate(); err != nil {
		panic(err)
	}
	net := func(x *Node) *Node { return f.cfg.Net.MLP.Build(scope, x, eps.Shape().Dim(1)) }
	return policy.Sample(f.cfg.Net.Sampler(policy.Flow, k), net, s, eps)
}

// Act is Sample clipped to the action box.
func (f *Flow) Act(scope *model.Scope, s, eps *Node) *Node {
	return ClipActions(f.Sample(scope, s, eps), f.cfg.ActionLow, f.cfg.ActionHigh)
}

// flowGeneratorSpec is the spec of the flow generator c.
func flowGeneratorSpec(c *FlowConfig) GeneratorSpec {
	g := GeneratorSpec{Sampler: c.Net.Sampler(policy.Flow, c.Steps)}
	mlpSpec(&g, c.Net.MLP)
	return g
}

// flowFromSpec builds the flow generator of s.
func flowFromSpec(s Spec) (*Flow, error) {
	net, err := s.Generator.network()
	if err != nil {
		return nil, err
	}
	return NewFlow(NewFlowConfig().WithNet(net).WithSteps(s.Generator.Steps).WithActionBounds(s.ActionLow, s.ActionHigh))
}
