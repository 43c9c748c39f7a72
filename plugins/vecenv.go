package plugins

import (
	"errors"
	"fmt"
	"sync"
)

// VecEnv runs several environments side by side, one goroutine per environment and call, for
// parallel evaluation (each remote environment is its own process, so this uses several cores).
// It is not safe for concurrent use itself.
type VecEnv struct {
	Envs []Env
}

// NewVecEnv groups envs, which should all be the same environment.
func NewVecEnv(envs ...Env) *VecEnv { return &VecEnv{Envs: envs} }

// MakeVecEnv makes n instances of spec in parallel, the i-th with seed opts.Seed+i. On any failure
// the instances already made are closed.
func MakeVecEnv(spec string, n int, opts EnvOptions) (*VecEnv, error) {
	if n < 1 {
		return nil, fmt.Errorf("plugins: MakeVecEnv(%s): %d environments requested", spec, n)
	}
	return StartVecEnv(n, func(i int) (Env, error) {
		o := opts
		o.Seed = opts.Seed + int64(i)
		return MakeEnv(spec, o)
	})
}

// StartVecEnv calls start(i) for i in [0, n) in parallel and groups the environments it returns.
// Starting is what takes time for process-backed environments, so it is not done one by one.
// On any failure the environments already started are closed and the errors are joined.
func StartVecEnv(n int, start func(i int) (Env, error)) (*VecEnv, error) {
	envs := make([]Env, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, err := start(i)
			if err != nil {
				errs[i] = err
				return
			}
			envs[i] = env
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range envs {
			if e != nil {
				e.Close()
			}
		}
		return nil, err
	}
	return NewVecEnv(envs...), nil
}

// Len is the number of environments.
func (v *VecEnv) Len() int { return len(v.Envs) }

// Reset resets environment i from seeds[i], all in parallel.
func (v *VecEnv) Reset(seeds []int64) ([][]float32, error) {
	if len(seeds) != len(v.Envs) {
		return nil, fmt.Errorf("plugins: VecEnv.Reset: %d seeds for %d environments", len(seeds), len(v.Envs))
	}
	obs := make([][]float32, len(v.Envs))
	err := v.parallel(func(i int) (err error) {
		obs[i], err = v.Envs[i].Reset(seeds[i])
		return err
	})
	return obs, err
}

// ResetSome resets environment i from seeds[i] where reset[i] is true, all in parallel; the
// others are left alone and get a nil observation.
func (v *VecEnv) ResetSome(seeds []int64, reset []bool) ([][]float32, error) {
	if len(seeds) != len(v.Envs) || len(reset) != len(v.Envs) {
		return nil, fmt.Errorf("plugins: VecEnv.ResetSome: %d seeds and %d flags for %d environments", len(seeds), len(reset), len(v.Envs))
	}
	obs := make([][]float32, len(v.Envs))
	err := v.parallel(func(i int) (err error) {
		if !reset[i] {
			return nil
		}
		obs[i], err = v.Envs[i].Reset(seeds[i])
		return err
	})
	return obs, err
}

// Step steps environment i with actions[i], all in parallel; a nil action leaves that environment
// alone (its Step is the zero value), so finished episodes can wait for the others.
func (v *VecEnv) Step(actions [][]float32) ([]Step, error) {
	if len(actions) != len(v.Envs) {
		return nil, fmt.Errorf("plugins: VecEnv.Step: %d actions for %d environments", len(actions), len(v.Envs))
	}
	steps := make([]Step, len(v.Envs))
	err := v.parallel(func(i int) (err error) {
		if actions[i] == nil {
			return nil
		}
		steps[i], err = v.Envs[i].Step(actions[i])
		return err
	})
	return steps, err
}

// Close closes every environment and returns their errors joined.
func (v *VecEnv) Close() error {
	return v.parallel(func(i int) error { return v.Envs[i].Close() })
}

func (v *VecEnv) parallel(f func(i int) error) error {
	errs := make([]error, len(v.Envs))
	var wg sync.WaitGroup
	for i := range v.Envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(i); err != nil {
				errs[i] = fmt.Errorf("environment %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
