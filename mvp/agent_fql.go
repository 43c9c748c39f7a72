package mvp

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/ml/model"
	. "github.com/gomlx/gomlx/support/exceptions"
	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
)

// Flow Q-learning (FQL; Park, Li and Levine 2025), the fourth column of the paper's Table 1, as QC's
// code base runs it (agents/acfql.py, actor_type "distill-ddpg"): a flow BC policy v_φ(a, t, s)
// trained by flow matching on the dataset's actions, and a one-step policy μ_ω(s, ε) trained with
//
//	L = L_FM(φ) + α·‖μ_ω(s, ε) − flow_K(s, ε)‖² − Q(s, clip(μ_ω(s, ε)))
//
// where flow_K is the BC policy's clipped K-step Euler sample from the same noise ε (a target: no
// gradient reaches φ through it) and Q the mean of the online critic ensemble (its parameters are
// not trained by this loss). The agent acts with μ_ω alone, one noise draw and no selection (N = 1),
// and its TD target uses μ_ω's action at the next state: Agent.SelectBestOfN with N = 1 is exactly
// that. Two agent kinds use it:
//
//	fql     h = 1 (QC's "FQL", --horizon_length=1)
//	qc-fql  h = 5 (QC's "QC-FQL": the same agent on action chunks)
//
// The names follow QC, whose paper and commands call the chunked variant QC-FQL, as "qc" is the
// chunked best-of-N flow and "bfn" its h = 1 form.

// FQL's agent kinds and generator type.
const (
	KindFQL      = "fql"    // flow Q-learning: one-step policy distilled from a flow BC policy plus Q, h = 1
	KindQCFQL    = "qc-fql" // FQL on chunks, h = 5 (QC's QC-FQL)
	GeneratorFQL = "fql"    // GeneratorSpec.Type of the FQL generator
)

// FQLSpec is the FQL part of a GeneratorSpec (FQLConfig's fields that are not networks).
type FQLSpec struct {
	// Alpha weighs the distillation term (FQLConfig.Alpha).
	Alpha float64 `json:"alpha"`
	// NormalizeQLoss scales the Q term by sg(1/mean|Q|) (FQLConfig.NormalizeQLoss).
	NormalizeQLoss bool `json:"normalize_q_loss,omitempty"`
}

// The kind table's FQL rows: the one-step policy acts alone (N = 1; no selection), with the critic.
func init() {
	fqlDefaults := func(kind string, h int) func() Spec {
		return func() Spec {
			s := baseSpec(kind, fqlGeneratorSpec(NewFQLConfig()))
			s.Horizon, s.Candidates = h, 1
			return s
		}
	}
	for _, e := range []KindEntry{
		{KindFQL, "flow Q-learning: flow BC policy (K = 10) distilled into a one-step policy with Q (α = 100), h = 1", fqlDefaults(KindFQL, 1)},
		{KindQCFQL, "FQL on action chunks (QC-FQL), h = 5", fqlDefaults(KindQCFQL, 5)},
	} {
		if err := RegisterKind(e); err != nil {
			panic(err)
		}
	}
	if err := RegisterGenerator(GeneratorFQL, func(s Spec) (Generator, error) { return fqlFromSpec(s) }); err != nil {
		panic(err)
	}
}

// fqlGeneratorSpec is the spec of the FQL generator c. The spec has one network description: the
// flow BC policy's, which the one-step policy shares (the actor's widths, as in QC); the sampler's
// Steps are the flow policy's K.
func fqlGeneratorSpec(c *FQLConfig) GeneratorSpec {
	g := flowGeneratorSpec(c.Flow)
	g.Type = GeneratorFQL
	g.FQL = FQLSpec{Alpha: c.Alpha, NormalizeQLoss: c.NormalizeQLoss}
	return g
}

// fqlFromSpec builds the FQL generator of s: its flow policy and one-step network from the
// generator's network, its Q term from the spec's critic.
func fqlFromSpec(s Spec) (*FQL, error) {
	g := s.Generator
	flowSampler := g.Sampler
	flowSampler.Type = policy.Flow
	if err := flowSampler.Validate(); err != nil {
		return nil, fmt.Errorf("flow policy: %w", err)
	}
	net, err := g.network()
	if err != nil {
		return nil, err
	}
	oneStep, err := g.mlp()
	if err != nil {
		return nil, err
	}
	flow := NewFlowConfig().WithNet(net).WithSteps(g.Steps).WithActionBounds(s.ActionLow, s.ActionHigh)
	return NewFQL(NewFQLConfig().WithFlow(flow).WithOneStep(oneStep).WithCritic(s.Critic).
		WithAlpha(g.FQL.Alpha).WithNormalizeQLoss(g.FQL.NormalizeQLoss))
}

// FQLConfig configures the FQL generator. Start from NewFQLConfig.
type FQLConfig struct {
	// Flow is the BC flow policy v_φ; its K = Flow.Steps Euler steps (default 10) make the
	// distillation target, clipped to its action box.
	Flow *FlowConfig
	// OneStep is μ_ω's network, an MLP over [s, ε] (default: 4×512 GELU, no LayerNorm, as the actor).
	OneStep *MLPConfig
	// Alpha weighs the distillation term. Default 100: the value of QC's commands for FQL and QC-FQL
	// on every task (OGBench and robomimic). FQL's own paper tunes it per domain: 10 antmaze and
	// antsoccer, 30 humanoidmaze, 300 cube and scene, 1000 puzzle.
	Alpha float64
	// NormalizeQLoss multiplies the Q term by sg(1/mean|Q|), which makes Alpha independent of the
	// reward scale. Default false, as in QC's and FQL's experiments.
	NormalizeQLoss bool
	// Critic is the agent's Q ensemble (the one under the store's CriticScope), which scores μ_ω's
	// actions in the Q term.
	Critic CriticConfig
}

// NewFQLConfig returns the defaults: the flow BC policy of NewFlowConfig (K = 10), a 4×512 one-step
// network, α = 100, no Q-loss normalisation, the default critic.
func NewFQLConfig() *FQLConfig {
	return &FQLConfig{Flow: NewFlowConfig(), OneStep: NewMLPConfig(), Alpha: 100, Critic: DefaultCriticConfig()}
}

// WithFlow replaces the BC flow policy's config.
func (c *FQLConfig) WithFlow(f *FlowConfig) *FQLConfig { c.Flow = f; return c }

// WithOneStep replaces the one-step policy's network.
func (c *FQLConfig) WithOneStep(m *MLPConfig) *FQLConfig { c.OneStep = m; return c }

// WithAlpha sets α.
func (c *FQLConfig) WithAlpha(alpha float64) *FQLConfig { c.Alpha = alpha; return c }

// WithNormalizeQLoss turns the 1/mean|Q| scaling of the Q term on or off.
func (c *FQLConfig) WithNormalizeQLoss(on bool) *FQLConfig { c.NormalizeQLoss = on; return c }

// WithCritic sets the critic whose ensemble mean the Q term maximises.
func (c *FQLConfig) WithCritic(cc CriticConfig) *FQLConfig { c.Critic = cc; return c }

// Validate reports an inconsistent config.
func (c *FQLConfig) Validate() error {
	if c.Flow == nil || c.OneStep == nil {
		return fmt.Errorf("mvp: FQL config needs a flow policy and a one-step network")
	}
	if err := c.Flow.Validate(); err != nil {
		return fmt.Errorf("mvp: FQL flow policy: %w", err)
	}
	if err := c.OneStep.Validate(); err != nil {
		return fmt.Errorf("mvp: FQL one-step network: %w", err)
	}
	if !(c.Alpha >= 0) {
		return fmt.Errorf("mvp: FQL alpha %g must be ≥ 0", c.Alpha)
	}
	if c.Critic.Ensemble <= 0 {
		return fmt.Errorf("mvp: FQL critic ensemble %d must be positive", c.Critic.Ensemble)
	}
	return nil
}

// FQL is the FQL generator: Sample is the one-step policy μ_ω, Loss trains both policies. It
// implements Generator.
type FQL struct {
	cfg  *FQLConfig
	flow *Flow
}

var _ Generator = (*FQL)(nil)

// Scope names of FQL's two networks under the actor scope.
const (
	fqlFlowScope    = "bc_flow"
	fqlOneStepScope = "onestep"
)

// NewFQL validates cfg (nil: NewFQLConfig()) and returns the generator.
func NewFQL(cfg *FQLConfig) (*FQL, error) {
	if cfg == nil {
		cfg = NewFQLConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	flow, err := NewFlow(cfg.Flow)
	if err != nil {
		return nil, err
	}
	return &FQL{cfg: cfg, flow: flow}, nil
}

// Config returns the generator's config (not a copy).
func (f *FQL) Config() *FQLConfig { return f.cfg }

// Name implements Generator.
func (f *FQL) Name() string { return "fql" }

// OneStep is μ_ω(s, ε), unclipped.
func (f *FQL) OneStep(scope *model.Scope, s, eps *Node) *Node {
	return f.cfg.OneStep.Build(scope.At(fqlOneStepScope), Concatenate([]*Node{s, eps}, -1), eps.Shape().Dimensions[1])
}

// FlowTarget is the BC flow policy's K-step sample from ε, clipped to the action box, without
// gradient: what μ_ω is distilled towards.
func (f *FQL) FlowTarget(scope *model.Scope, s, eps *Node) *Node {
	return StopGradient(f.flow.Act(scope.At(fqlFlowScope), StopGradient(s), eps))
}

// Sample implements Generator with the one-step policy.
func (f *FQL) Sample(scope *model.Scope, s, eps *Node) *Node {
	checkBatch("mvp.FQL.Sample", s, eps, nil)
	return f.OneStep(scope, s, eps)
}

// Loss implements Generator: L_FM + α·L_distill + L_Q with the flow-matching noise and time and
// the distillation noise drawn from scope's random state; terms holds "bc_flow", "distill", "q"
// (the mean Q of μ_ω's actions) and "policy" (the total).
func (f *FQL) Loss(scope *model.Scope, s, a, valid *Node) (*Node, map[string]*Node) {
	checkBatch("mvp.FQL.Loss", s, a, valid)
	g, dtype := a.Graph(), a.DType()
	b, actDim := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	eps := xla.StoreNormal(scope.Store(), g, shapes.Make(dtype, b, actDim))
	t := scope.RandomUniform(g, shapes.Make(dtype, b, 1))
	noise := xla.StoreNormal(scope.Store(), g, shapes.Make(dtype, b, actDim))
	return f.LossWithNoise(scope, s, a, valid, eps, t, noise)
}

// LossWithNoise is Loss with given flow-matching noise eps [B, A] and time t [B, 1] and
// distillation noise [B, A]. The critic is read from the store's CriticScope; its parameters get
// no gradient here (the actor's optimizer only updates the actor scope).
func (f *FQL) LossWithNoise(scope *model.Scope, s, a, valid, eps, t, noise *Node) (*Node, map[string]*Node) {
	checkBatch("mvp.FQL.Loss", s, a, valid)
	if s == nil {
		Panicf("mvp.FQL.Loss: FQL needs states (its critic is state-conditioned)")
	}
	if noise == nil || !noise.Shape().Equal(a.Shape()) {
		Panicf("mvp.FQL.Loss: distillation noise %v must match actions %s", shapeOf(noise), a.Shape())
	}
	c := f.cfg
	bc, _ := f.flow.LossWithNoise(scope.At(fqlFlowScope), s, a, valid, eps, t)
	s = StopGradient(s)
	noise = StopGradient(noise)
	mu := f.OneStep(scope, s, noise)
	// Unmasked, as in QC: μ_ω imitates the flow policy's whole chunk.
	distill := ReduceAllMean(Square(Sub(mu, f.FlowTarget(scope, s, noise))))
	critic := scope.Store().Scope("/" + CriticScope)
	q := c.Critic.QMean(critic, s, ClipScalar(mu, c.Flow.ActionLow, c.Flow.ActionHigh))
	qMean := ReduceAllMean(q)
	qLoss := Neg(qMean)
	if c.NormalizeQLoss {
		qLoss = Mul(qLoss, StopGradient(Reciprocal(ReduceAllMean(Abs(q)))))
	}
	loss := Add(Add(bc, MulScalar(distill, c.Alpha)), qLoss)
	return loss, map[string]*Node{"bc_flow": bc, "distill": distill, "q": qMean, "policy": loss}
}
