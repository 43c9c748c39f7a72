package mvp

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
)

// ExportPolicy returns the agent's action function (generate-and-select with the online critic) as
// a deploy.Policy, described by the agent's spec: the generator's and the online critic's weights
// under deploy's names, the architecture and the action box. The target critic, optimizer state
// and RNG are left out. The weights are copied, so the agent can keep training.
func (a *Agent) ExportPolicy() (*deploy.Policy, error) {
	cfg, vars, err := a.policyVariables()
	if err != nil {
		return nil, err
	}
	weights := map[string]*tensors.Tensor{}
	for name, v := range vars {
		t, err := v.Value()
		if err == nil {
			t, err = t.LocalClone()
		}
		if err != nil {
			return nil, fmt.Errorf("mvp: agent %q: variable %s: %w", a.Spec.Kind, v.Path(), err)
		}
		weights[name] = t
	}
	return deploy.New(cfg, weights)
}

// policyVariables returns the deployed policy's config and, under deploy's weight names, the
// agent's variables that hold its weights.
func (a *Agent) policyVariables() (deploy.Config, map[string]*model.Variable, error) {
	c := a.Spec
	g := c.Generator
	cfg := deploy.Config{
		Format: deploy.FormatName, Version: deploy.FormatVersion, Kind: c.Kind,
		ObsDim: c.ObsDim, ActDim: c.ActDim, Horizon: c.Horizon, Candidates: c.Candidates,
		ActionLow: c.ActionLow, ActionHigh: c.ActionHigh,
		Generator: deploy.GeneratorConfig{
			Type: g.Type, Steps: g.Steps, TimeInput: g.TimeInput, TimeFeatures: g.TimeFeatures,
			FourierFrequencies: g.FourierFrequencies,
		},
	}
	actorPrefix := "/" + ActorScope
	switch g.Type {
	case policy.MeanFlow, policy.Flow:
	case policy.Regression:
		actorPrefix += "/policy"
	default:
		return cfg, nil, fmt.Errorf("mvp: agent %q: generator type %q has no deployable form (%s, %s and %s do)",
			c.Kind, g.Type, policy.MeanFlow, policy.Flow, policy.Regression)
	}
	m, err := g.mlp()
	if err != nil {
		return cfg, nil, fmt.Errorf("mvp: agent %q: %w", c.Kind, err)
	}
	cfg.Generator.Net = mlpToDeploy(m)
	if c.UseCritic && c.Candidates > 1 {
		cfg.Critic = &deploy.CriticConfig{Ensemble: c.Critic.Ensemble, Net: mlpToDeploy(c.Critic.mlp())}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("mvp: agent %q: %w", c.Kind, err)
	}
	vars := map[string]*model.Variable{}
	for name := range cfg.WeightShapes() {
		path, err := trainingPath(name, actorPrefix)
		if err != nil {
			return cfg, nil, err
		}
		v := a.Store.GetVariable(path)
		if v == nil {
			return cfg, nil, fmt.Errorf("mvp: agent %q has no variable %s (for the policy's %s): was it initialised?", c.Kind, path, name)
		}
		vars[name] = v
	}
	return cfg, vars, nil
}

// PolicyFromCheckpoint rebuilds the agent saved in ck from its spec (on the pure-Go backend) and
// exports its policy; see Agent.ExportPolicy.
func PolicyFromCheckpoint(ck *Checkpoint) (*deploy.Policy, error) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		return nil, err
	}
	a, err := LoadAgent(backend, ck)
	if err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	p, err := a.ExportPolicy()
	if err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	return p, nil
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
