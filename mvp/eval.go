package mvp

import (
	"fmt"
	"sync"

	"github.com/gomvp/gomvp/plugins"
)

// EvalResult summarises evaluation episodes. Success is the environment's success flag after the
// episode's last step (method.md §3).
type EvalResult struct {
	Episodes    int     `json:"episodes"`
	SuccessRate float64 `json:"success_rate"`
	MeanReturn  float64 `json:"mean_return"`
	MeanLength  float64 `json:"mean_length"`
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
	// OnStep, if set, is called after every reset and step of each environment, from that
	// environment's goroutine (e.g. to render frames of episode 0).
	OnStep func(env, episode, t int, e plugins.Env)
}

// Evaluate runs episodes of the agent's generate-and-select policy on a vector of environments:
// every round, one batched Act call gives each running environment an action chunk, which it
// executes open-loop (the environments step in parallel). The batch always has len(envs) rows,
// padded for finished environments, so the act graph compiles once.
func Evaluate(a *Agent, envs []plugins.Env, opt EvalOptions) (EvalResult, error) {
	if len(envs) == 0 {
		return EvalResult{}, fmt.Errorf("mvp: evaluate: no environments")
	}
	if opt.Episodes <= 0 {
		opt.Episodes = 50
	}
	c := a.Spec
	for i, e := range envs {
		if e.ObservationDim() != c.ObsDim || e.ActionDim() != c.ActDim {
			return EvalResult{}, fmt.Errorf("mvp: evaluate: environment %d has observation/action dims %d/%d, the agent %d/%d",
				i, e.ObservationDim(), e.ActionDim(), c.ObsDim, c.ActDim)
		}
	}
	type slot struct {
		episode, t int
		obs        []float32
		ret        float64
		done       bool
	}
	n := len(envs)
	slots := make([]*slot, n)
	next := 0 // next episode index to start
	var res EvalResult
	var successes int
	start := func(i int) error {
		if next >= opt.Episodes {
			slots[i] = nil
			return nil
		}
		ep := next
		next++
		obs, err := envs[i].Reset(opt.Seed + int64(ep))
		if err != nil {
			return fmt.Errorf("mvp: evaluate: resetting environment %d: %w", i, err)
		}
		slots[i] = &slot{episode: ep, obs: obs}
		if opt.OnStep != nil {
			opt.OnStep(i, ep, 0, envs[i])
		}
		return nil
	}
	for i := range envs {
		if err := start(i); err != nil {
			return res, err
		}
	}
	rng := NewActRNG(opt.Seed)
	obs := make([]float32, n*c.ObsDim)
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
		var wg sync.WaitGroup
		errs := make([]error, n)
		successFlags := make([]bool, n)
		for i, s := range slots {
			if s == nil {
				continue
			}
			wg.Add(1)
			go func(i int, s *slot) {
				defer wg.Done()
				chunk := chunks[i*c.ChunkDim() : (i+1)*c.ChunkDim()]
				for k := 0; k < c.Horizon && !s.done; k++ {
					st, err := envs[i].Step(chunk[k*c.ActDim : (k+1)*c.ActDim])
					if err != nil {
						errs[i] = fmt.Errorf("mvp: evaluate: environment %d, episode %d, step %d: %w", i, s.episode, s.t, err)
						return
					}
					s.t++
					s.ret += st.Reward
					s.obs = st.Observation
					successFlags[i] = st.Success
					if opt.OnStep != nil {
						opt.OnStep(i, s.episode, s.t, envs[i])
					}
					if st.Terminated || st.Truncated || (envs[i].MaxEpisodeSteps() > 0 && s.t >= envs[i].MaxEpisodeSteps()) {
						s.done = true
					}
				}
			}(i, s)
		}
		wg.Wait()
		for i, s := range slots {
			if errs[i] != nil {
				return res, errs[i]
			}
			if s == nil || !s.done {
				continue
			}
			res.Episodes++
			res.MeanReturn += s.ret
			res.MeanLength += float64(s.t)
			if successFlags[i] {
				successes++
			}
			if err := start(i); err != nil {
				return res, err
			}
		}
	}
	if res.Episodes > 0 {
		res.SuccessRate = float64(successes) / float64(res.Episodes)
		res.MeanReturn /= float64(res.Episodes)
		res.MeanLength /= float64(res.Episodes)
	}
	return res, nil
}
