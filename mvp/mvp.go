package mvp

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	. "github.com/gomlx/gomlx/support/exceptions"

	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
	"github.com/gomvp/gomvp/xla/jvp"
)

// TimeSampling selects the distribution of the (t, r) pairs of the mean-flow loss.
type TimeSampling int

const (
	// TimeUniformSorted draws two U(0, 1) numbers and sorts them so that t ≤ r (the default).
	TimeUniformSorted TimeSampling = iota
	// TimeLogitNormal draws two sigmoid(μ + σ·N(0, 1)) numbers and sorts them (MeanFlow's choice).
	TimeLogitNormal
)

func (t TimeSampling) String() string {
	switch t {
	case TimeUniformSorted:
		return "uniform-sorted"
	case TimeLogitNormal:
		return "logit-normal"
	}
	return fmt.Sprintf("TimeSampling(%d)", int(t))
}

// ParseTimeSampling is the inverse of TimeSampling.String ("" is the default, TimeUniformSorted).
func ParseTimeSampling(s string) (TimeSampling, error) {
	for _, t := range []TimeSampling{TimeUniformSorted, TimeLogitNormal} {
		if s == t.String() {
			return t, nil
		}
	}
	if s == "" {
		return TimeUniformSorted, nil
	}
	return 0, fmt.Errorf("mvp: time sampling %q is not %q or %q", s, TimeUniformSorted, TimeLogitNormal)
}

// Config of the Mean Velocity Policy generator. Every field has the documented default of
// NewConfig (method.md §1–2); change fields directly or with the With… methods.
type Config struct {
	// Name reported by Name(). Default "" means "mvp" (or "mvp-lambda<λ>" when λ ≠ 1).
	Name string

	// Net is u_θ's network. Default: NewNetworkConfig() — 4×512 GELU, raw (t, r).
	Net *NetworkConfig

	// Lambda weighs L_IVC in L_policy = L_MF + λ·L_IVC. Default 1.0; the paper's ablation uses 0, 0.5, 1.
	Lambda float64

	// TimeSampling of (t, r). Default TimeUniformSorted.
	TimeSampling TimeSampling
	// LogitNormalMu and LogitNormalSigma parameterise TimeLogitNormal. Defaults −0.4 and 1.0 (MeanFlow).
	LogitNormalMu, LogitNormalSigma float64
	// DiagonalFraction of the pairs is forced to r = t. Default 0.
	DiagonalFraction float64

	// AdaptiveWeight enables MeanFlow's w = sg(1/(‖err‖² + c)^p) per example on each term.
	// Default false; AdaptiveWeightC default 1e-3, AdaptiveWeightP default 1.0.
	AdaptiveWeight                   bool
	AdaptiveWeightC, AdaptiveWeightP float64

	// SampleSteps k of generation (Sample, Act). Default 1: a = ε + u_θ(ε, 0, 1, s).
	SampleSteps int

	// ActionLow and ActionHigh bound the action box that Act clips to. Default [−1, 1].
	ActionLow, ActionHigh float64

	// LossFn turns the loss terms into the training loss. Default nil means DefaultPolicyLoss,
	// L_MF + λ·L_IVC. Replace or wrap it to change the objective without editing this package
	// (see ExampleConfig_lossFn).
	LossFn func(terms *LossTerms) *Node `json:"-"`
}

// NewConfig returns the method.md defaults.
func NewConfig() *Config {
	return &Config{
		Net:              NewNetworkConfig(),
		Lambda:           1.0,
		TimeSampling:     TimeUniformSorted,
		LogitNormalMu:    -0.4,
		LogitNormalSigma: 1.0,
		AdaptiveWeightC:  1e-3,
		AdaptiveWeightP:  1.0,
		SampleSteps:      1,
		ActionLow:        -1,
		ActionHigh:       1,
	}
}

// WithNet replaces the network config.
func (c *Config) WithNet(net *NetworkConfig) *Config { c.Net = net; return c }

// WithLambda sets λ.
func (c *Config) WithLambda(lambda float64) *Config { c.Lambda = lambda; return c }

// WithLogitNormal selects logit-normal(μ, σ) time sampling.
func (c *Config) WithLogitNormal(mu, sigma float64) *Config {
	c.TimeSampling, c.LogitNormalMu, c.LogitNormalSigma = TimeLogitNormal, mu, sigma
	return c
}

// WithDiagonalFraction forces a fraction of the (t, r) pairs to r = t.
func (c *Config) WithDiagonalFraction(f float64) *Config { c.DiagonalFraction = f; return c }

// WithAdaptiveWeight enables MeanFlow's adaptive weight 1/(‖err‖² + c)^p.
func (c *Config) WithAdaptiveWeight(cc, p float64) *Config {
	c.AdaptiveWeight, c.AdaptiveWeightC, c.AdaptiveWeightP = true, cc, p
	return c
}

// WithSampleSteps sets the number k of generation steps.
func (c *Config) WithSampleSteps(k int) *Config { c.SampleSteps = k; return c }

// WithActionBounds sets the clipping box of Act.
func (c *Config) WithActionBounds(low, high float64) *Config {
	c.ActionLow, c.ActionHigh = low, high
	return c
}

// WithLossFn replaces the policy loss (nil restores DefaultPolicyLoss).
func (c *Config) WithLossFn(fn func(terms *LossTerms) *Node) *Config { c.LossFn = fn; return c }

// Validate reports an inconsistent config.
func (c *Config) Validate() error {
	if c.Net == nil {
		return fmt.Errorf("mvp: config has no network")
	}
	if err := c.Net.Validate(); err != nil {
		return err
	}
	if c.Lambda < 0 || math.IsNaN(c.Lambda) {
		return fmt.Errorf("mvp: lambda %g must be ≥ 0", c.Lambda)
	}
	switch c.TimeSampling {
	case TimeUniformSorted:
	case TimeLogitNormal:
		if !(c.LogitNormalSigma > 0) {
			return fmt.Errorf("mvp: logit-normal sigma %g must be > 0", c.LogitNormalSigma)
		}
	default:
		return fmt.Errorf("mvp: unknown time sampling %v", c.TimeSampling)
	}
	if c.DiagonalFraction < 0 || c.DiagonalFraction > 1 || math.IsNaN(c.DiagonalFraction) {
		return fmt.Errorf("mvp: diagonal fraction %g must be in [0, 1]", c.DiagonalFraction)
	}
	if c.AdaptiveWeight && (c.AdaptiveWeightC <= 0 || c.AdaptiveWeightP < 0) {
		return fmt.Errorf("mvp: adaptive weight needs c > 0 and p ≥ 0, got c=%g p=%g", c.AdaptiveWeightC, c.AdaptiveWeightP)
	}
	if c.SampleSteps < 1 {
		return fmt.Errorf("mvp: sample steps %d must be ≥ 1", c.SampleSteps)
	}
	if !(c.ActionLow < c.ActionHigh) {
		return fmt.Errorf("mvp: action bounds [%g, %g] are empty", c.ActionLow, c.ActionHigh)
	}
	return nil
}

// LossTerms is everything the MVP loss is made of, handed to Config.LossFn. Nodes of shape [B, A]
// are per-element; MF and IVC are the scalar terms as reported.
type LossTerms struct {
	Config *Config
	Scope  *model.Scope

	// S [B, S], A [B, A] (the data actions a*), Valid [B, h] or nil, and Mask [B, A] (nil when all
	// steps are valid) as built by ChunkMask.
	S, A, Valid, Mask *Node

	// Eps ~ N(0, I) [B, A]; T ≤ R [B, 1].
	Eps, T, R *Node
	// At = a(t) = (1 − t)·ε + t·a*; V = a* − ε.
	At, V *Node

	// U = u_θ(a(t), t, r, s) (differentiable); DuDt = ∂_a u·v + ∂_t u (forward-mode JVP value);
	// Target = sg(v + (r − t)·du/dt).
	U, DuDt, Target *Node
	// UDiag = u_θ(a(t), t, t, s) (differentiable), the IVC prediction whose target is V.
	UDiag *Node

	// MF = L_MF and IVC = L_IVC (adaptively weighted when configured).
	MF, IVC *Node
}

// MaskedMSE is MaskedMSE(pred, target, t.Mask): the convention of MF and IVC, for extra terms.
func (t *LossTerms) MaskedMSE(pred, target *Node) *Node { return MaskedMSE(pred, target, t.Mask) }

// DefaultPolicyLoss is L_policy = L_MF + λ·L_IVC.
func DefaultPolicyLoss(t *LossTerms) *Node {
	if t.Config.Lambda == 0 {
		return t.MF
	}
	return Add(t.MF, MulScalar(t.IVC, t.Config.Lambda))
}

// Noise is the randomness of one loss evaluation: ε [B, A] and the times t ≤ r [B, 1].
type Noise struct {
	Eps, T, R *Node
}

// MVP is the Mean Velocity Policy generator: u_θ trained with L_MF + λ·L_IVC, sampled in one
// (or k) steps. It implements Generator.
type MVP struct {
	cfg *Config
}

var _ Generator = (*MVP)(nil)

// NewMVP validates cfg (nil: NewConfig()) and returns the generator. The generator keeps cfg, so
// later changes to cfg (e.g. LossFn) apply to graphs built afterwards.
func NewMVP(cfg *Config) (*MVP, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &MVP{cfg: cfg}, nil
}

// Config returns the generator's config (not a copy).
func (m *MVP) Config() *Config { return m.cfg }

// Name implements Generator.
func (m *MVP) Name() string {
	if m.cfg.Name != "" {
		return m.cfg.Name
	}
	if m.cfg.Lambda == 1 {
		return "mvp"
	}
	return fmt.Sprintf("mvp-lambda%g", m.cfg.Lambda)
}

// MeanVelocity is u_θ(a, t, r, s) with this generator's variables (under scope).
func (m *MVP) MeanVelocity(scope *model.Scope, a, t, r, s *Node) *Node {
	return m.cfg.Net.MeanVelocity(scope, a, t, r, s)
}

// SampleTimes draws batch (t, r) pairs, t ≤ r, [B, 1] each, with the configured distribution and
// forced-diagonal fraction, from scope's random state.
func (m *MVP) SampleTimes(scope *model.Scope, g *Graph, dtype dtypes.DType, batch int) (t, r *Node) {
	c := m.cfg
	var pair *Node
	switch c.TimeSampling {
	case TimeLogitNormal:
		n := xla.StoreNormal(scope.Store(), g, shapes.Make(dtype, batch, 2))
		pair = Sigmoid(AddScalar(MulScalar(n, c.LogitNormalSigma), c.LogitNormalMu))
	default:
		pair = scope.RandomUniform(g, shapes.Make(dtype, batch, 2))
	}
	u0 := SliceAxis(pair, 1, AxisRange(0, 1))
	u1 := SliceAxis(pair, 1, AxisRange(1, 2))
	t, r = Min(u0, u1), Max(u0, u1)
	if c.DiagonalFraction > 0 {
		coin := scope.RandomUniform(g, shapes.Make(dtype, batch, 1))
		r = Where(LessThan(coin, ConstAsDType(g, dtype, c.DiagonalFraction)), t, r)
	}
	return t, r
}

// DrawNoise draws ε ~ N(0, I) [batch, actDim] and (t, r) for one loss evaluation.
func (m *MVP) DrawNoise(scope *model.Scope, g *Graph, dtype dtypes.DType, batch, actDim int) *Noise {
	eps := xla.StoreNormal(scope.Store(), g, shapes.Make(dtype, batch, actDim))
	t, r := m.SampleTimes(scope, g, dtype, batch)
	return &Noise{Eps: eps, T: t, R: r}
}

// Loss implements Generator: L_policy (Config.LossFn, default L_MF + λ·L_IVC) with noise drawn from
// scope's random state; terms holds "mf", "ivc" and "policy".
func (m *MVP) Loss(scope *model.Scope, s, a, valid *Node) (*Node, map[string]*Node) {
	checkBatch("mvp.Loss", s, a, valid)
	b, actDim := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	noise := m.DrawNoise(scope, a.Graph(), a.DType(), b, actDim)
	terms := m.Terms(scope, s, a, valid, noise)
	return m.policyLoss(terms)
}

// LossWithNoise is Loss with given noise (for tests, or noise fed from the host).
func (m *MVP) LossWithNoise(scope *model.Scope, s, a, valid *Node, noise *Noise) (*Node, map[string]*Node) {
	return m.policyLoss(m.Terms(scope, s, a, valid, noise))
}

func (m *MVP) policyLoss(terms *LossTerms) (*Node, map[string]*Node) {
	fn := m.cfg.LossFn
	if fn == nil {
		fn = DefaultPolicyLoss
	}
	loss := fn(terms)
	if loss == nil || !loss.Shape().IsScalar() {
		Panicf("mvp: LossFn must return a scalar, got %v", shapeOf(loss))
	}
	return loss, map[string]*Node{"mf": terms.MF, "ivc": terms.IVC, "policy": loss}
}

// Terms builds every piece of the MVP loss for the given noise:
//
//	a(t) = (1 − t)·ε + t·a*,  v = a* − ε
//	u, du/dt = JVP of u_θ at (a(t), t, r, s) along (v, 1, 0, 0)   — forward mode, xla/jvp
//	L_MF  = mean ‖u − sg(v + (r − t)·du/dt)‖²
//	L_IVC = mean ‖u_θ(a(t), t, t, s) − v‖²
func (m *MVP) Terms(scope *model.Scope, s, a, valid *Node, noise *Noise) *LossTerms {
	checkBatch("mvp.Terms", s, a, valid)
	c := m.cfg
	b, actDim := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	if noise == nil || noise.Eps == nil || noise.T == nil || noise.R == nil {
		Panicf("mvp.Terms: noise needs Eps, T and R")
	}
	eps, t, r := noise.Eps, noise.T, noise.R
	if !eps.Shape().Equal(a.Shape()) {
		Panicf("mvp.Terms: noise ε %s must match actions %s", eps.Shape(), a.Shape())
	}
	for _, x := range []*Node{t, r} {
		if !x.Shape().Equal(shapes.Make(a.DType(), b, 1)) {
			Panicf("mvp.Terms: times must be [%d, 1] %s, got %s", b, a.DType(), x.Shape())
		}
	}
	// Data and noise are constants of the loss: no gradient reaches them.
	a, eps, t, r = StopGradient(a), StopGradient(eps), StopGradient(t), StopGradient(r)
	if s != nil {
		s = StopGradient(s)
	}

	at := Add(Mul(OneMinus(t), eps), Mul(t, a))
	v := Sub(a, eps)

	tau1, tau2, dTau1, dTau2 := c.Net.netTimes(t, r)
	uFn := func(in []*Node) []*Node {
		return []*Node{c.Net.apply(scope, in[0], []*Node{in[1], in[2]}, s)}
	}
	outs, tangents, err := jvp.JVP(uFn,
		[]*Node{at, tau1, tau2},
		[]*Node{v, fullLike(tau1, dTau1), fullLike(tau2, dTau2)})
	if err != nil {
		panic(fmt.Errorf("mvp: forward-mode JVP of u_θ: %w", err))
	}
	u, dudt := outs[0], StopGradient(tangents[0])
	target := StopGradient(Add(v, Mul(Sub(r, t), dudt)))

	uDiag := c.Net.MeanVelocity(scope, at, t, t, s)

	mask := ChunkMask(valid, actDim, a.DType())
	mf := weightedMean(perSampleSquaredError(u, target, mask), c.AdaptiveWeight, c.AdaptiveWeightC, c.AdaptiveWeightP)
	ivc := weightedMean(perSampleSquaredError(uDiag, v, mask), c.AdaptiveWeight, c.AdaptiveWeightC, c.AdaptiveWeightP)
	return &LossTerms{
		Config: c, Scope: scope,
		S: s, A: a, Valid: valid, Mask: mask,
		Eps: eps, T: t, R: r, At: at, V: v,
		U: u, DuDt: dudt, Target: target, UDiag: uDiag,
		MF: mf, IVC: ivc,
	}
}

// Sample implements Generator with Config.SampleSteps steps (unclipped).
func (m *MVP) Sample(scope *model.Scope, s, eps *Node) *Node {
	return m.SampleSteps(scope, s, eps, m.cfg.SampleSteps)
}

// SampleSteps generates with k mean-flow steps over [0, 1]: a ← a + (r_i − t_i)·u_θ(a, t_i, r_i, s),
// t_i = i/k, r_i = (i+1)/k, starting from a = ε. k = 1 is a = ε + u_θ(ε, 0, 1, s). Unclipped. The
// steps are policy.Sample's, the sampler the exported policy runs too.
func (m *MVP) SampleSteps(scope *model.Scope, s, eps *Node, k int) *Node {
	checkBatch("mvp.Sample", s, eps, nil)
	if k < 1 {
		Panicf("mvp.Sample: %d steps, need ≥ 1", k)
	}
	if err := m.cfg.Net.Validate(); err != nil {
		panic(err)
	}
	net := func(x *Node) *Node { return m.cfg.Net.MLP.Build(scope, x, eps.Shape().Dim(1)) }
	return policy.Sample(m.cfg.Net.Sampler(policy.MeanFlow, k), net, s, eps)
}

// Act is Sample clipped to the action box.
func (m *MVP) Act(scope *model.Scope, s, eps *Node) *Node {
	return ClipActions(m.Sample(scope, s, eps), m.cfg.ActionLow, m.cfg.ActionHigh)
}

// mvpGeneratorSpec is the spec of the MVP generator c (its LossFn, code, is not part of it).
func mvpGeneratorSpec(c *Config) GeneratorSpec {
	g := GeneratorSpec{
		Sampler: c.Net.Sampler(policy.MeanFlow, c.SampleSteps),
		Lambda:  c.Lambda, TimeSampling: c.TimeSampling.String(),
		LogitNormalMu: c.LogitNormalMu, LogitNormalSigma: c.LogitNormalSigma,
		DiagonalFraction: c.DiagonalFraction,
		AdaptiveWeight:   c.AdaptiveWeight, AdaptiveWeightC: c.AdaptiveWeightC, AdaptiveWeightP: c.AdaptiveWeightP,
	}
	mlpSpec(&g, c.Net.MLP)
	return g
}

// mvpFromSpec builds the MVP generator of s.
func mvpFromSpec(s Spec) (*MVP, error) {
	g := s.Generator
	net, err := g.network()
	if err != nil {
		return nil, err
	}
	ts, err := ParseTimeSampling(g.TimeSampling)
	if err != nil {
		return nil, err
	}
	return NewMVP(&Config{
		Net: net, Lambda: g.Lambda, TimeSampling: ts,
		LogitNormalMu: g.LogitNormalMu, LogitNormalSigma: g.LogitNormalSigma,
		DiagonalFraction: g.DiagonalFraction,
		AdaptiveWeight:   g.AdaptiveWeight, AdaptiveWeightC: g.AdaptiveWeightC, AdaptiveWeightP: g.AdaptiveWeightP,
		SampleSteps: g.Steps, ActionLow: s.ActionLow, ActionHigh: s.ActionHigh,
	})
}
