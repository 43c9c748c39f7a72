package mvp

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/mvp/policy"
)

// MLPConfig describes a multilayer perceptron: each hidden layer is Dense → activation → (optional)
// LayerNorm, the order of the QC code base, followed by a linear output layer.
//
// The same config builds u_θ, the flow baselines' velocity network and the critics. A config is a
// value that can be built many times in one graph: layers are entered with Scope.At, so calling
// Build twice on the same scope shares the variables.
type MLPConfig struct {
	// Widths of the hidden layers. Default: 4×512 (method.md §3).
	Widths []int

	// Activation after each hidden Dense layer. Default: GELU (exact).
	Activation activation.Type

	// LayerNorm after each hidden activation. Default: false; QC and MVP use it in the critic only.
	LayerNorm bool

	// LayerNormEpsilon is added to the variance inside LayerNorm. Default: 1e-6 (Flax's default,
	// which QC uses).
	LayerNormEpsilon float64

	// Init initialises the Dense weights (biases start at zero either way): InitHe (the default,
	// GoMLX's: normal with variance 2/fan_in) or InitGlorotUniform (QC's default_init,
	// variance_scaling(1, "fan_avg", "uniform"): U(−√(6/(fan_in+fan_out)), +√(…))).
	Init string
}

// Weight initialisers of MLPConfig.Init.
const (
	InitHe            = "he"
	InitGlorotUniform = "glorot-uniform"
)

// WithInit sets the weight initialiser (InitHe or InitGlorotUniform; "" is InitHe).
func (c *MLPConfig) WithInit(init string) *MLPConfig {
	c.Init = init
	return c
}

// glorotUniform is QC's default_init: U(−l, l) with l = √(6/(fan_in + fan_out)) for matrices,
// zeros for biases (rank ≤ 1), drawn from the store's random stream like GoMLX's default.
func glorotUniform(store *model.Store) model.VariableInitializer {
	return func(g *Graph, shape shapes.Shape) *Node {
		if shape.Rank() <= 1 || !shape.DType.IsFloat() {
			return Zeros(g, shape)
		}
		fanIn, fanOut := shape.Dimensions[shape.Rank()-2], shape.Dimensions[shape.Rank()-1]
		for _, d := range shape.Dimensions[:shape.Rank()-2] {
			fanIn, fanOut = fanIn*d, fanOut*d
		}
		limit := math.Sqrt(6 / float64(fanIn+fanOut))
		u := store.RandomUniform(g, shape) // [0, 1)
		return MulScalar(AddScalar(MulScalar(u, 2), -1), limit)
	}
}

// NewMLPConfig returns the method.md defaults: 4×512, GELU, no LayerNorm.
func NewMLPConfig() *MLPConfig {
	return &MLPConfig{
		Widths:           []int{512, 512, 512, 512},
		Activation:       activation.TypeGelu,
		LayerNormEpsilon: 1e-6,
	}
}

// WithWidths sets the hidden widths (none: a single linear layer).
func (c *MLPConfig) WithWidths(widths ...int) *MLPConfig {
	c.Widths = append([]int(nil), widths...)
	return c
}

// WithActivation sets the hidden activation.
func (c *MLPConfig) WithActivation(act activation.Type) *MLPConfig {
	c.Activation = act
	return c
}

// WithLayerNorm turns LayerNorm after each hidden activation on or off.
func (c *MLPConfig) WithLayerNorm(enabled bool) *MLPConfig {
	c.LayerNorm = enabled
	return c
}

// Clone returns a deep copy, so that a derived config (e.g. a critic's with LayerNorm on) does not
// change the original.
func (c *MLPConfig) Clone() *MLPConfig {
	c2 := *c
	c2.Widths = append([]int(nil), c.Widths...)
	return &c2
}

// Validate reports a config that cannot build a network.
func (c *MLPConfig) Validate() error {
	for i, w := range c.Widths {
		if w <= 0 {
			return fmt.Errorf("mvp: MLP hidden width %d is %d, must be > 0", i, w)
		}
	}
	if !c.Activation.IsAType() || c.Activation == activation.TypeSwiGLU {
		return fmt.Errorf("mvp: MLP activation %v is not supported", c.Activation)
	}
	if c.Init != "" && c.Init != InitHe && c.Init != InitGlorotUniform {
		return fmt.Errorf("mvp: MLP initialiser %q is not %q or %q", c.Init, InitHe, InitGlorotUniform)
	}
	if c.LayerNorm && c.LayerNormEpsilon <= 0 {
		return fmt.Errorf("mvp: MLP LayerNorm epsilon %g must be > 0", c.LayerNormEpsilon)
	}
	return nil
}

// Build applies the MLP to x [..., inDim] and returns [..., outDim]. Variables live under
// scope/layer_<i>/… and scope/output/…; building it again on the same scope reuses them.
func (c *MLPConfig) Build(scope *model.Scope, x *Node, outDim int) *Node {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	if c.Init == InitGlorotUniform {
		scope = scope.WithInitializer(glorotUniform(scope.Store()))
	}
	for i, w := range c.Widths {
		ls := scope.At("layer_%d", i)
		x = layers.DenseWithBias(ls, x, w)
		x = activation.Apply(c.Activation, x)
		if c.LayerNorm {
			x = norm.LayerNorm(ls, x, -1).Epsilon(c.LayerNormEpsilon).Done()
		}
	}
	return layers.DenseWithBias(scope.At("output"), x, outDim)
}

// TimeInput selects how the two times of u_θ are fed to the network.
type TimeInput int

const (
	// TimeInputTR feeds (t, r) (the default, as QC feeds raw times).
	TimeInputTR TimeInput = iota
	// TimeInputTDelta feeds (t, r − t); the JVP tangent of the second input is then −1.
	TimeInputTDelta
)

func (t TimeInput) String() string {
	switch t {
	case TimeInputTR:
		return "t,r"
	case TimeInputTDelta:
		return "t,r-t"
	}
	return fmt.Sprintf("TimeInput(%d)", int(t))
}

// ParseTimeInput is the inverse of TimeInput.String ("" is the default, TimeInputTR).
func ParseTimeInput(s string) (TimeInput, error) {
	switch s {
	case "", "t,r":
		return TimeInputTR, nil
	case "t,r-t":
		return TimeInputTDelta, nil
	}
	return 0, fmt.Errorf("mvp: time input %q is not \"t,r\" or \"t,r-t\"", s)
}

// TimeFeatures selects the encoding of each time input.
type TimeFeatures int

const (
	// TimeRaw concatenates the scalar time (the default, QC's choice).
	TimeRaw TimeFeatures = iota
	// TimeFourier concatenates [sin(2π·f_k·τ), cos(2π·f_k·τ)] for f_k = 2^k, k < FourierFrequencies.
	TimeFourier
)

func (t TimeFeatures) String() string {
	switch t {
	case TimeRaw:
		return "raw"
	case TimeFourier:
		return "fourier"
	}
	return fmt.Sprintf("TimeFeatures(%d)", int(t))
}

// ParseTimeFeatures is the inverse of TimeFeatures.String ("" is the default, TimeRaw).
func ParseTimeFeatures(s string) (TimeFeatures, error) {
	switch s {
	case "", "raw":
		return TimeRaw, nil
	case "fourier":
		return TimeFourier, nil
	}
	return 0, fmt.Errorf("mvp: time features %q are not \"raw\" or \"fourier\"", s)
}

// NetworkConfig is the velocity network: an MLP over the concatenation [a, time features, s].
// MVP's u_θ(a, t, r, s) takes two times; the flow baselines' v_θ(a, t, s) takes one and otherwise
// uses the same config, so a comparison "on the same network" is one config shared by both.
type NetworkConfig struct {
	// MLP is the trunk. Default: NewMLPConfig() (4×512 GELU, no LayerNorm).
	MLP *MLPConfig

	// TimeInput: (t, r) or (t, r − t). Default: TimeInputTR.
	TimeInput TimeInput

	// TimeFeatures: raw scalars or Fourier features. Default: TimeRaw.
	TimeFeatures TimeFeatures

	// FourierFrequencies is the number of octaves per time input with TimeFourier. Default: 8.
	FourierFrequencies int
}

// NewNetworkConfig returns the method.md defaults.
func NewNetworkConfig() *NetworkConfig {
	return &NetworkConfig{MLP: NewMLPConfig(), TimeInput: TimeInputTR, TimeFeatures: TimeRaw, FourierFrequencies: 8}
}

// WithMLP replaces the trunk.
func (c *NetworkConfig) WithMLP(mlp *MLPConfig) *NetworkConfig { c.MLP = mlp; return c }

// WithTimeInput selects (t, r) or (t, r − t).
func (c *NetworkConfig) WithTimeInput(ti TimeInput) *NetworkConfig { c.TimeInput = ti; return c }

// WithTimeFeatures selects raw or Fourier time features.
func (c *NetworkConfig) WithTimeFeatures(tf TimeFeatures) *NetworkConfig {
	c.TimeFeatures = tf
	return c
}

// Clone returns a deep copy.
func (c *NetworkConfig) Clone() *NetworkConfig {
	c2 := *c
	c2.MLP = c.MLP.Clone()
	return &c2
}

// Validate reports a config that cannot build a network.
func (c *NetworkConfig) Validate() error {
	if c.MLP == nil {
		return fmt.Errorf("mvp: network config has no MLP")
	}
	if err := c.MLP.Validate(); err != nil {
		return err
	}
	if c.TimeInput != TimeInputTR && c.TimeInput != TimeInputTDelta {
		return fmt.Errorf("mvp: unknown time input %v", c.TimeInput)
	}
	switch c.TimeFeatures {
	case TimeRaw:
	case TimeFourier:
		if c.FourierFrequencies <= 0 {
			return fmt.Errorf("mvp: Fourier time features need FourierFrequencies > 0, got %d", c.FourierFrequencies)
		}
	default:
		return fmt.Errorf("mvp: unknown time features %v", c.TimeFeatures)
	}
	return nil
}

// Sampler is the sampling description of a generator of type typ (policy.MeanFlow or policy.Flow)
// with k steps on this network: the time input and features the shared action graph needs.
func (c *NetworkConfig) Sampler(typ string, k int) policy.Sampler {
	sp := policy.Sampler{Type: typ, Steps: k, TimeFeatures: c.TimeFeatures.String()}
	if typ == policy.MeanFlow {
		sp.TimeInput = c.TimeInput.String()
	}
	if c.TimeFeatures == TimeFourier {
		sp.FourierFrequencies = c.FourierFrequencies
	}
	return sp
}

// apply runs the trunk on [a, features(τ_1), …, s]; s may be nil for unconditional models.
func (c *NetworkConfig) apply(scope *model.Scope, a *Node, taus []*Node, s *Node) *Node {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	// The sampler's type only matters for the number of times, given here by taus.
	x := c.Sampler(policy.MeanFlow, 1).Input(a, taus, s)
	return c.MLP.Build(scope, x, a.Shape().Dimensions[a.Rank()-1])
}

// netTimes maps (t, r) to the two network time inputs and their tangents along d/dt (r fixed).
func (c *NetworkConfig) netTimes(t, r *Node) (tau1, tau2 *Node, dTau1, dTau2 float64) {
	return c.Sampler(policy.MeanFlow, 1).NetTimes(t, r)
}

// MeanVelocity is u_θ(a, t, r, s) for a [B, A], t and r [B, 1] (or [B]), s [B, S] (or nil).
func (c *NetworkConfig) MeanVelocity(scope *model.Scope, a, t, r, s *Node) *Node {
	tau1, tau2, _, _ := c.netTimes(t, r)
	return c.apply(scope, a, []*Node{tau1, tau2}, s)
}

// Velocity is the flow baselines' instantaneous velocity v_θ(a, t, s).
func (c *NetworkConfig) Velocity(scope *model.Scope, a, t, s *Node) *Node {
	return c.apply(scope, a, []*Node{t}, s)
}
