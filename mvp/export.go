package mvp

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
)

// ExportPolicy returns the agent's action function (generate-and-select with the online critic) as
// a deploy.Policy: the generator's and the online critic's weights under deploy's names, the
// architecture, the action box and, when norm is non-nil, the normalisation the agent's data went
// through (observations are normalised and actions mapped back inside the exported function).
// The target critic, optimizer state and RNG are left out. The weights are copied, so the agent
// can keep training.
func (a *Agent) ExportPolicy(norm *datasets.Normalization) (*deploy.Policy, error) {
	c := a.Config
	cfg := deploy.Config{
		Format: deploy.FormatName, Version: deploy.FormatVersion, Kind: c.Kind,
		ObsDim: c.ObsDim, ActDim: c.ActDim, Horizon: c.Horizon, Candidates: c.Candidates,
		ActionLow: c.ActionLow, ActionHigh: c.ActionHigh,
	}
	actorPrefix := "/" + ActorScope
	switch g := a.Gen.(type) {
	case *MVP:
		gc := g.Config()
		cfg.Generator = deploy.GeneratorConfig{Type: deploy.GenMeanFlow, Steps: gc.SampleSteps}
		if err := networkToDeploy(gc.Net, &cfg.Generator); err != nil {
			return nil, err
		}
	case *Flow:
		fc := g.Config()
		cfg.Generator = deploy.GeneratorConfig{Type: deploy.GenFlow, Steps: fc.Steps}
		if err := networkToDeploy(fc.Net, &cfg.Generator); err != nil {
			return nil, err
		}
	case *BCGenerator:
		cfg.Generator = deploy.GeneratorConfig{Type: deploy.GenRegression, Net: mlpToDeploy(g.MLP)}
		actorPrefix += "/policy"
	default:
		return nil, fmt.Errorf("mvp: agent %q: generator %q (%T) has no deployable form (MVP, Flow and BC generators do)", c.Kind, a.Gen.Name(), a.Gen)
	}
	if c.UseCritic && c.Candidates > 1 {
		cfg.Critic = &deploy.CriticConfig{Ensemble: c.Critic.Ensemble, Net: mlpToDeploy(c.Critic.mlp())}
	}
	if norm != nil {
		if n := norm.Obs; n != nil && n.Kind != datasets.NormNone {
			cfg.ObsNorm = &deploy.Normalizer{Shift: n.Shift, Scale: n.Scale}
		}
		if n := norm.Act; n != nil && n.Kind != datasets.NormNone {
			cfg.ActNorm = &deploy.Normalizer{Shift: n.Shift, Scale: n.Scale}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mvp: agent %q: %w", c.Kind, err)
	}
	weights := map[string]*tensors.Tensor{}
	for name := range cfg.WeightShapes() {
		path, err := trainingPath(name, actorPrefix)
		if err != nil {
			return nil, err
		}
		v := a.Store.GetVariable(path)
		if v == nil {
			return nil, fmt.Errorf("mvp: agent %q has no variable %s (for the policy's %s): was it initialised?", c.Kind, path, name)
		}
		t, err := v.Value()
		if err == nil {
			t, err = t.LocalClone()
		}
		if err != nil {
			return nil, fmt.Errorf("mvp: agent %q: variable %s: %w", c.Kind, path, err)
		}
		weights[name] = t
	}
	return deploy.New(cfg, weights)
}

// PolicyFromCheckpoint rebuilds the agent saved in ck (on the pure-Go backend) and exports its
// policy; see Agent.ExportPolicy.
func PolicyFromCheckpoint(ck *Checkpoint, norm *datasets.Normalization) (*deploy.Policy, error) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		return nil, err
	}
	a, err := LoadAgent(backend, ck, nil)
	if err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	p, err := a.ExportPolicy(norm)
	if err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	return p, nil
}

func networkToDeploy(net *NetworkConfig, g *deploy.GeneratorConfig) error {
	switch net.TimeInput {
	case TimeInputTR:
		g.TimeInput = "t,r"
	case TimeInputTDelta:
		g.TimeInput = "t,r-t"
	default:
		return fmt.Errorf("mvp: time input %v has no deployable form", net.TimeInput)
	}
	if g.Type == deploy.GenFlow {
		g.TimeInput = ""
	}
	switch net.TimeFeatures {
	case TimeRaw:
		g.TimeFeatures = "raw"
	case TimeFourier:
		g.TimeFeatures, g.FourierFrequencies = "fourier", net.FourierFrequencies
	default:
		return fmt.Errorf("mvp: time features %v have no deployable form", net.TimeFeatures)
	}
	g.Net = mlpToDeploy(net.MLP)
	return nil
}

func mlpToDeploy(m *MLPConfig) deploy.MLPConfig {
	d := deploy.MLPConfig{
		Widths: append([]int(nil), m.Widths...), Activation: strings.ToLower(m.Activation.String()),
		LayerNorm: m.LayerNorm,
	}
	if m.LayerNorm {
		d.LayerNormEpsilon = m.LayerNormEpsilon
	}
	return d
}

// trainingPath maps a deploy weight name to the agent store's variable: MLPConfig.Build uses gomlx
// layers (…/layer_<i>/dense/weights, …/layer_<i>/layer_normalization/gain).
func trainingPath(name, actorPrefix string) (string, error) {
	leaves := map[string]string{"weights": "dense/weights", "biases": "dense/biases",
		"norm_gain": "layer_normalization/gain", "norm_offset": "layer_normalization/offset"}
	i := strings.LastIndex(name, "/")
	dir, leaf := name[:i], leaves[name[i+1:]]
	switch {
	case leaf == "":
	case strings.HasPrefix(dir, deploy.ActorPrefix+"/"):
		return actorPrefix + strings.TrimPrefix(dir, deploy.ActorPrefix) + "/" + leaf, nil
	case strings.HasPrefix(dir, deploy.CriticPrefix+"/"):
		return "/" + CriticScope + strings.TrimPrefix(dir, deploy.CriticPrefix) + "/" + leaf, nil
	}
	return "", fmt.Errorf("mvp: no training variable for policy weight %q", name)
}
