package mvp

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/mvp/deploy"
)

// How Act computes its decision (SetDirectAct).
const (
	actUndecided = iota
	actOnGraph
	actDirectly
)

// actDirect is Act's graph-free decision for the parameter values it was packed from.
type actDirect struct {
	d      *deploy.Direct
	values []*tensors.Tensor // the variables' values, in the order of Agent.directVars
}

// SetDirectAct chooses how Act computes a decision: directly (deploy.Direct, the decision the
// exported policy makes) when on, with the agent's action graph when off. By default Act computes
// directly where deploy.DirectAccelerated and no GPU is visible, for every generator with a
// deployable form; $MVP_DIRECT=0 or 1 changes that default (deploy.DirectEnv). Both ways compute
// the same function of the noise (to float32 rounding) and are deterministic; they draw their
// noise from the ActRNG differently (see ActRNG.Normal).
func (a *Agent) SetDirectAct(on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.direct = nil
	if !on {
		a.actMode = actOnGraph
		return nil
	}
	if err := a.findDirectVarsLocked(); err != nil {
		return err
	}
	a.actMode = actDirectly
	return nil
}

// DecidesDirectly reports whether Act computes its decision directly (true) or on the graph.
func (a *Agent) DecidesDirectly() (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, err := a.directDecisionLocked()
	return d != nil, err
}

// findDirectVarsLocked finds, once, the deployed policy's config and the variables holding its
// weights, and fails where deploy.Direct cannot compute the policy.
func (a *Agent) findDirectVarsLocked() error {
	if a.directVars != nil {
		return nil
	}
	cfg, vars, err := a.policyVariables()
	if err != nil {
		return err
	}
	if err := deploy.DirectSupported(&cfg); err != nil {
		return fmt.Errorf("mvp: agent %q: %w", a.Spec.Kind, err)
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	a.directCfg, a.directNames, a.directVars = cfg, names, make([]*model.Variable, len(names))
	for i, name := range names {
		a.directVars[i] = vars[name]
	}
	return nil
}

// directDecisionLocked returns the Direct decision for the current parameters, or nil when Act runs
// the graph. The packed weights are rebuilt when any parameter tensor has been replaced (by an
// update, a restore or the user).
func (a *Agent) directDecisionLocked() (*deploy.Direct, error) {
	if a.actMode == actUndecided {
		a.actMode = actOnGraph
		if deploy.DirectByDefault(false) && a.findDirectVarsLocked() == nil {
			a.actMode = actDirectly
		}
	}
	if a.actMode != actDirectly {
		return nil, nil
	}
	values := make([]*tensors.Tensor, len(a.directVars))
	for i, v := range a.directVars {
		var err error
		if values[i], err = v.Value(); err != nil {
			return nil, fmt.Errorf("mvp: agent %q: %w", a.Spec.Kind, err)
		}
	}
	if a.direct != nil && slices.Equal(a.direct.values, values) {
		return a.direct.d, nil
	}
	// Direct packs its own copy of the weights, so the policy can use the variables' tensors.
	weights := make(map[string]*tensors.Tensor, len(values))
	for i, name := range a.directNames {
		weights[name] = values[i]
	}
	p, err := deploy.New(a.directCfg, weights)
	if err == nil {
		a.direct = &actDirect{values: values}
		a.direct.d, err = p.Direct()
	}
	if err != nil {
		a.direct = nil
		return nil, fmt.Errorf("mvp: agent %q: %w", a.Spec.Kind, err)
	}
	return a.direct.d, nil
}
