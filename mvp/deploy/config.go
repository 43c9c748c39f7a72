// Package deploy loads an exported policy and acts with it: observation → action chunk by
// generate-and-select (N one-step candidates from given noise, scored by the critic, argmax), with
// no training code. A policy directory holds policy.json (architecture, action box, observation
// normaliser and a tensor index) and weights.bin (raw little-endian float32 tensors, readable from
// numpy with np.fromfile).
//
// The same action graph is what `mvp export` writes as ONNX or StableHLO, so a policy acts
// identically in Go, in onnxruntime and under XLA.
package deploy

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomvp/gomvp/mvp/policy"
)

// FormatName and FormatVersion identify a policy.json.
const (
	FormatName    = "gomvp-policy"
	FormatVersion = 1
)

// Generator types.
const (
	// GenMeanFlow is MVP's mean-velocity generator: k steps a ← a + (r−t)·u(a, t, r, s) over a
	// uniform split of [0, 1] (k = 1 is one-step generation a = ε + u(ε, 0, 1, s)).
	GenMeanFlow = policy.MeanFlow
	// GenFlow is the flow baselines' instantaneous velocity: k Euler steps a ← a + v(a, t, s)/k.
	GenFlow = policy.Flow
	// GenRegression is deterministic behaviour cloning, a = net(s): the noise is ignored.
	GenRegression = policy.Regression
)

// Config is the architecture and interface of an exported policy.
type Config struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Kind is the agent kind the policy was trained as ("mvp", "qc", …); informational.
	Kind string `json:"kind"`
	// ObsDim is the observation size, ActDim the per-step action size, Horizon h the chunk length:
	// the policy returns h·ActDim values per observation.
	ObsDim  int `json:"obs_dim"`
	ActDim  int `json:"act_dim"`
	Horizon int `json:"horizon"`
	// Candidates N of best-of-N selection: the noise input holds N·h·ActDim values per observation.
	Candidates int `json:"candidates"`
	// ActionLow and ActionHigh bound every action coordinate; candidates are clipped to the box.
	ActionLow  float64 `json:"action_low"`
	ActionHigh float64 `json:"action_high"`

	Generator GeneratorConfig `json:"generator"`
	// Critic scores candidates; nil (or Candidates = 1) returns the first candidate.
	Critic *CriticConfig `json:"critic,omitempty"`
	// ObsNorm, when set, maps raw observations to the network's input, (s − shift)/scale.
	ObsNorm *Normalizer `json:"obs_norm,omitempty"`
	// ActNorm, when set, maps the selected (normalised) action of each chunk step back to the
	// environment's units, a·scale + shift. The action box applies before this mapping.
	ActNorm *Normalizer `json:"act_norm,omitempty"`
}

// GeneratorConfig describes the generator network and how it is sampled.
type GeneratorConfig struct {
	// Type is GenMeanFlow, GenFlow or GenRegression.
	Type string `json:"type"`
	// Steps k of generation (1 for one-step MVP; 10 for QC/BFN).
	Steps int `json:"steps"`
	// TimeInput is "t,r" (the default) or "t,r-t" (mean flow only).
	TimeInput string `json:"time_input,omitempty"`
	// TimeFeatures is "raw" (the default) or "fourier" with FourierFrequencies octaves.
	TimeFeatures       string `json:"time_features,omitempty"`
	FourierFrequencies int    `json:"fourier_frequencies,omitempty"`
	// Net is the trunk over [a, time features…, s] (regression: over s).
	Net MLPConfig `json:"net"`
}

// Sampler is the generator's sampling description for policy.Sample.
func (g GeneratorConfig) Sampler() policy.Sampler {
	return policy.Sampler{Type: g.Type, Steps: g.Steps, TimeInput: g.TimeInput,
		TimeFeatures: g.TimeFeatures, FourierFrequencies: g.FourierFrequencies}
}

// CriticConfig is an ensemble of Q networks over [s, a]; candidates are scored by the mean.
type CriticConfig struct {
	Ensemble int       `json:"ensemble"`
	Net      MLPConfig `json:"net"`
}

// MLPConfig is Dense → activation → (optional) LayerNorm per hidden layer, then a linear output,
// built with the same gomlx ops as training's MLP so that the deployed graph computes the same
// bits.
type MLPConfig struct {
	Widths           []int   `json:"widths"`
	Activation       string  `json:"activation"`
	LayerNorm        bool    `json:"layer_norm,omitempty"`
	LayerNormEpsilon float64 `json:"layer_norm_epsilon,omitempty"`
}

// Normalizer is the per-feature affine map of training, normalised = (x − Shift)/Scale.
type Normalizer struct {
	Shift []float32 `json:"shift"`
	Scale []float32 `json:"scale"`
}

// ChunkDim is h·ActDim, the size of one action chunk.
func (c *Config) ChunkDim() int { return c.Horizon * c.ActDim }

// Validate reports the first field that cannot describe a policy.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Format != FormatName {
		bad("format is %q, want %q", c.Format, FormatName)
	}
	if c.Version != FormatVersion {
		bad("version is %d, this package reads %d", c.Version, FormatVersion)
	}
	if c.ObsDim <= 0 || c.ActDim <= 0 || c.Horizon <= 0 || c.Candidates <= 0 {
		bad("obs_dim=%d, act_dim=%d, horizon=%d, candidates=%d must all be positive", c.ObsDim, c.ActDim, c.Horizon, c.Candidates)
	}
	if !(c.ActionLow < c.ActionHigh) {
		bad("action_low=%g must be below action_high=%g", c.ActionLow, c.ActionHigh)
	}
	g := c.Generator
	if err := g.Sampler().Validate(); err != nil {
		bad("generator.%v", err)
	}
	if err := g.Net.validate("generator.net"); err != nil {
		bad("%v", err)
	}
	if c.Critic != nil {
		if c.Critic.Ensemble <= 0 {
			bad("critic.ensemble=%d must be positive", c.Critic.Ensemble)
		}
		if err := c.Critic.Net.validate("critic.net"); err != nil {
			bad("%v", err)
		}
	}
	if err := c.ObsNorm.validate("obs_norm", c.ObsDim); err != nil {
		bad("%v", err)
	}
	if err := c.ActNorm.validate("act_norm", c.ActDim); err != nil {
		bad("%v", err)
	}
	if len(errs) > 0 {
		return errors.New("deploy: invalid policy config: " + strings.Join(errs, "; "))
	}
	return nil
}

func (n *Normalizer) validate(where string, dim int) error {
	if n == nil {
		return nil
	}
	if len(n.Shift) != dim || len(n.Scale) != dim {
		return fmt.Errorf("%s has %d shifts and %d scales, want %d each", where, len(n.Shift), len(n.Scale), dim)
	}
	for i := range dim {
		if !(n.Scale[i] > 0) || math.IsInf(float64(n.Scale[i]), 0) || math.IsNaN(float64(n.Shift[i])) || math.IsInf(float64(n.Shift[i]), 0) {
			return fmt.Errorf("%s[%d]: shift %g, scale %g (want finite, scale > 0)", where, i, n.Shift[i], n.Scale[i])
		}
	}
	return nil
}

func (m *MLPConfig) validate(where string) error {
	for i, w := range m.Widths {
		if w <= 0 {
			return fmt.Errorf("%s.widths[%d]=%d must be positive", where, i, w)
		}
	}
	if _, err := activationType(m.Activation); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if m.LayerNorm && m.LayerNormEpsilon <= 0 {
		return fmt.Errorf("%s.layer_norm_epsilon=%g must be positive", where, m.LayerNormEpsilon)
	}
	return nil
}

func activationType(name string) (activation.Type, error) {
	t, err := activation.TypeString(name)
	if err != nil || t == activation.TypeSwiGLU {
		return 0, fmt.Errorf("activation %q is not supported", name)
	}
	return t, nil
}
