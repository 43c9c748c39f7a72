package mvp

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/core/tensors"
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
	values []*tensors.Tensor // the variables' values, in sorted weight-name order
}

// SetDirectAct chooses how Act computes a decision: directly (deploy.Direct, the decision the
// exported policy makes) when on, with the agent's action graph when off. By default Act computes
// directly where deploy.DirectAccelerated and no GPU is visible, for every generator with a
// deployable form; $MVP_DIRECT=0 or 1 changes that default (deploy.DirectEnv). Both ways compute the same function of the noise (to float32 rounding) and are
// deterministic; they draw their noise from the ActRNG differently (see ActRNG.Normal).
func (a *Agent) SetDirectAct(on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.direct = nil
	if !on {
		a.actMode = actOnGraph
		return nil
	}
	if _, _, err := a.policyVariables(); err != nil {
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

// directDecisionLocked returns the Direct decision for the current parameters, or nil when Act runs
// the graph. The packed weights are rebuilt when any parameter tensor has been replaced (by an
// update, a restore or the user).
func (a *Agent) directDecisionLocked() (*deploy.Direct, error) {
	if a.actMode == actUndecided {
		a.actMode = actOnGraph
		if deploy.DirectByDefault(false) {
			if cfg, _, err := a.policyVariables(); err == nil && deploy.DirectSupported(&cfg) == nil {
				a.actMode = actDirectly
			}
		}
	}
	if a.actMode != actDirectly {
		return nil, nil
	}
	if a.directVars == nil {
		_, vars, err := a.policyVariables()
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(vars))
		for name := range vars {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			a.directVars = append(a.directVars, vars[name])
		}
	}
	values := make([]*tensors.Tensor, len(a.directVars))
	for i, v := range a.directVars {
		var err error
		if values[i], err = v.Value(); err != nil {
			return nil, fmt.Errorf("mvp: agent %q: %w", a.Spec.Kind, err)
		}
	}
	if a.direct != nil && equalPointers(a.direct.values, values) {
		return a.direct.d, nil
	}
	p, err := a.ExportPolicy()
	if err != nil {
		return nil, err
	}
	d, err := p.Direct()
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q: %w", a.Spec.Kind, err)
	}
	a.direct = &actDirect{d: d, values: values}
	return d, nil
}

func equalPointers(x, y []*tensors.Tensor) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
