package robomimic

import (
	"fmt"

	"github.com/gomvp/gomvp/plugins"
)

// RewardOffset is added to every robosuite reward, offline (the dataset's rewards) and online
// (the simulator's): QC's convention, which turns the sparse {0, 1} success reward into {−1, 0} so
// that every step before success costs as much as in OGBench's tasks.
const RewardOffset = -1

// SimulatorPrefix is the registry prefix of the environments that run robosuite (the remote
// plugin's Python server); import that plugin for the robomimic environments to exist.
const SimulatorPrefix = simulatorPlugin + ":robomimic:"

// simulatorPlugin is the environment plugin that runs robosuite.
const simulatorPlugin = "remote"

// newEnv makes the robosuite task of a dataset name ("lift-mh", "square-ph", or just "lift"),
// through the registry, with its rewards shifted like the dataset's, so that training with
// --dataset robomimic:lift-mh sees one reward scale offline and online.
func newEnv(name string, opts plugins.EnvOptions) (plugins.Env, error) {
	task := name
	if n, err := ParseName(name); err == nil {
		task = n.Task
	}
	if _, ok := Horizons[task]; !ok {
		return nil, fmt.Errorf("robomimic: no environment for %q: want lift, can or square (optionally with a dataset type, e.g. lift-mh)", name)
	}
	env, err := plugins.MakeEnv(SimulatorPrefix+task, opts)
	if err != nil {
		return nil, fmt.Errorf("robomimic: environment %s: %w", task, err)
	}
	return &shiftedEnv{Env: env}, nil
}

// shiftedEnv adds RewardOffset to the rewards of the environment it wraps.
type shiftedEnv struct{ plugins.Env }

func (e *shiftedEnv) Step(action []float32) (plugins.Step, error) {
	st, err := e.Env.Step(action)
	if err == nil {
		st.Reward += RewardOffset
	}
	return st, err
}
