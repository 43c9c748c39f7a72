package mvp

import (
	"context"
	"fmt"

	"github.com/gomvp/gomvp/plugins"
)

// EvalResult summarises evaluation episodes. Success is the environment's success flag after the
// episode's last step (method.md §3).
type EvalResult struct {
	Episodes    int     `json:"episodes"`
	SuccessRate float64 `json:"success_rate"`
	MeanReturn  float64 `json:"mean_return"`
	MeanLength  float64 `json:"mean_length"`
	// Interrupted: the evaluation was stopped before all its episodes ran; the means are over
	// the Episodes that finished.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Metrics returns the result as log metrics.
func (r EvalResult) Metrics() map[string]float64 {
	return map[string]float64{"success_rate": r.SuccessRate, "return": r.MeanReturn, "length": r.MeanLength, "episodes": float64(r.Episodes)}
}

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// Episodes to run in total (default 50), spread over the environments.
	Episodes int
	// Seed fixes the environments' reset seeds (Seed + episode index) and the policy's noise, so
	// evaluating the same parameters twice gives the same result.
	Seed int64
	// OnStep, if set, is called after every reset and step of each environment, from the
	// evaluating goroutine (e.g. to render frames of episode 0).
	OnStep func(env, episode, t int, e plugins.Env)
}

// Evaluate runs episodes of the agent's generate-and-select policy on a vector of environments:
// every round, one batched Act call gives each running environment an action chunk, which it
// executes open-loop (envs steps the environments in parallel). The batch always has envs.Len()
// rows, padded for finished environments, so the act graph compiles once.
//
// Cancelling ctx starts no new episode; the running ones finish, and the result of the episodes
// done is returned, marked Interrupted, with ctx's error.
func Evaluate(ctx context.Context, a *Agent, envs *plugins.VecEnv, opt EvalOptions) (EvalResult, error) {
	if envs == nil || envs.Len() == 0 {
		return EvalResult{}, fmt.Errorf("mvp: evaluate: no environments")
	}
	if opt.Episodes <= 0 {
		opt.Episodes = 50
	}
	c := a.Spec
	for i, e := range envs.Envs {
		if e.ObservationDim() != c.ObsDim || e.ActionDim() != c.ActDim {
			return EvalResult{}, fmt.Errorf("mvp: evaluate: environment %d has observation/action dims %d/%d, the agent %d/%d",
				i, e.ObservationDim(), e.ActionDim(), c.ObsDim, c.ActDim)
		}
	}
	type slot struct {
		episode, t int
		obs        []float32
		ret        float64
		success    bool
		done       bool
	}
	n := envs.Len()
	slots := make([]*slot, n)
	next := 0 // next episode index to start
	var res EvalResult
	var successes int
	seeds, reset := make([]int64, n), make([]bool, n)
	// startFree starts the next episodes on the environments without one, in index order.
	startFree := func() error {
		for i := range slots {
			reset[i] = slots[i] == nil && next < opt.Episodes && ctx.Err() == nil
			if reset[i] {
				seeds[i] = opt.Seed + int64(next)
				slots[i] = &slot{episode: next}
				next++
			}
		}
		obs, err := envs.ResetSome(seeds, reset)
		if err != nil {
			return fmt.Errorf("mvp: evaluate: resetting: %w", err)
		}
		for i, o := range obs {
			if reset[i] {
				slots[i].obs = o
				if opt.OnStep != nil {
					opt.OnStep(i, slots[i].episode, 0, envs.Envs[i])
				}
			}
		}
		return nil
	}
	if err := startFree(); err != nil {
		return res, err
	}
	rng := NewActRNG(opt.Seed)
	obs := make([]float32, n*c.ObsDim)
	actions := make([][]float32, n)
	for {
		active := 0
		for i, s := range slots {
			if s != nil {
				copy(obs[i*c.ObsDim:], s.obs)
				active++
			} else {
				clear(obs[i*c.ObsDim : (i+1)*c.ObsDim])
			}
		}
		if active == 0 {
			break
		}
		chunks, err := a.Act(obs, rng)
		if err != nil {
			return res, err
		}
		for k := 0; k < c.Horizon; k++ {
			stepping := 0
			for i, s := range slots {
				actions[i] = nil
				if s != nil && !s.done {
					off := i*c.ChunkDim() + k*c.ActDim
					actions[i] = chunks[off : off+c.ActDim]
					stepping++
				}
			}
			if stepping == 0 {
				break
			}
			steps, err := envs.Step(actions)
			if err != nil {
				return res, fmt.Errorf("mvp: evaluate: step of round %d: %w", k, err)
			}
			for i, s := range slots {
				if actions[i] == nil {
					continue
				}
				st := steps[i]
				s.t++
				s.ret += st.Reward
				s.obs = st.Observation
				s.success = st.Success
				if opt.OnStep != nil {
					opt.OnStep(i, s.episode, s.t, envs.Envs[i])
				}
				if st.Terminated || st.Truncated || (envs.Envs[i].MaxEpisodeSteps() > 0 && s.t >= envs.Envs[i].MaxEpisodeSteps()) {
					s.done = true
				}
			}
		}
		for i, s := range slots {
			if s == nil || !s.done {
				continue
			}
			res.Episodes++
			res.MeanReturn += s.ret
			res.MeanLength += float64(s.t)
			if s.success {
				successes++
			}
			slots[i] = nil
		}
		if err := startFree(); err != nil {
			return res, err
		}
	}
	if res.Episodes > 0 {
		res.SuccessRate = float64(successes) / float64(res.Episodes)
		res.MeanReturn /= float64(res.Episodes)
		res.MeanLength /= float64(res.Episodes)
	}
	if res.Episodes < opt.Episodes && ctx.Err() != nil {
		res.Interrupted = true
		return res, fmt.Errorf("mvp: evaluate: stopped after %d of %d episodes: %w", res.Episodes, opt.Episodes, context.Cause(ctx))
	}
	return res, nil
}
