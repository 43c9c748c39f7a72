package toy

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/gomvp/gomvp/datasets"
)

// DemoConfig sets how many demonstrations Generate records and how imperfect the scripted
// demonstrators are. The mistakes make the data a mixture of successful and failing behaviour that
// share their first steps, so cloning the data reproduces the mistakes at their rate, while a policy
// that ranks candidate actions with a critic can avoid them.
type DemoConfig struct {
	// Episodes is the number of demonstrations. Default 1000.
	Episodes int
	// Seed fixes every episode. Default 0.
	Seed int64
	// Noise is the standard deviation of the Gaussian noise added to each action before clipping.
	// Default 0.2.
	Noise float64

	// MissGrasp is the probability that the cube demonstrator closes the gripper too high above
	// the cube and lifts nothing. Default 0.3.
	MissGrasp float64
	// Retry is the probability that a missed grasp is noticed and retried. Default 0.3.
	Retry float64
	// WrongPlace is the probability that the cube is carried to a spot 7–10 cm off the goal and
	// left there. Default 0.25.
	WrongPlace float64

	// Stuck is the probability that the point-mass demonstrator heads straight into the central
	// obstacle; half of those then go around it, the others keep pushing. Default 0.4.
	Stuck float64
	// Straight is the probability that the detour demonstrator heads straight for the goal and
	// wrecks the mass on the barrier. Default 0.2.
	Straight float64
}

// DefaultDemoConfig returns the defaults documented on DemoConfig.
func DefaultDemoConfig() DemoConfig {
	return DemoConfig{Episodes: 1000, Noise: 0.2, MissGrasp: 0.3, Retry: 0.3, WrongPlace: 0.25, Stuck: 0.4, Straight: 0.2}
}

// Validation returns the configuration of the matching validation split: like OGBench's -val
// files, a tenth as many episodes, drawn from other seeds.
func (c DemoConfig) Validation() DemoConfig {
	c.Episodes = max(1, c.Episodes/10)
	c.Seed += 1_000_003
	return c
}

// DemoOptionKeys are the plugin options DemoConfigFromExtra reads.
var DemoOptionKeys = []string{"episodes", "seed", "noise", "miss_grasp", "retry", "wrong_place", "stuck", "straight"}

// DemoConfigFromExtra reads DemoConfig fields from plugin options: "episodes", "seed", "noise",
// "miss_grasp", "retry", "wrong_place", "stuck", "straight"; absent keys keep their defaults.
func DemoConfigFromExtra(extra map[string]string) (DemoConfig, error) {
	cfg := DefaultDemoConfig()
	for k, v := range extra {
		var err error
		switch k {
		case "episodes":
			cfg.Episodes, err = strconv.Atoi(v)
			if err == nil && cfg.Episodes < 1 {
				err = fmt.Errorf("must be at least 1")
			}
		case "seed":
			cfg.Seed, err = strconv.ParseInt(v, 10, 64)
		case "noise":
			cfg.Noise, err = parseUnit(v, 10)
		case "miss_grasp":
			cfg.MissGrasp, err = parseUnit(v, 1)
		case "retry":
			cfg.Retry, err = parseUnit(v, 1)
		case "wrong_place":
			cfg.WrongPlace, err = parseUnit(v, 1)
		case "stuck":
			cfg.Stuck, err = parseUnit(v, 1)
		case "straight":
			cfg.Straight, err = parseUnit(v, 1)
		default:
			continue // other plugins' or loaders' keys
		}
		if err != nil {
			return cfg, fmt.Errorf("toy: option %s=%q: %w", k, v, err)
		}
	}
	return cfg, nil
}

func parseUnit(v string, hi float64) (float64, error) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if !(x >= 0 && x <= hi) {
		return 0, fmt.Errorf("must be in [0, %g]", hi)
	}
	return x, nil
}

// demonstrator is a scripted policy with privileged access to its task's state.
type demonstrator interface {
	// reset draws the episode's choices (route, mistakes) after the task was reset.
	reset(rng *rand.Rand)
	// act writes the next action, noise included, into a.
	act(a []float32)
}

// Demos are recorded demonstrations in OGBench's row layout: each trajectory stores its T+1
// observations (the last one has no transition of its own), and Terminals marks each trajectory's
// last row. A trajectory that reaches success keeps one more step, so that the success state has a
// transition of its own, as in OGBench's play data.
type Demos struct {
	Task                             string // full name, "toy:cube-task2"
	ObsDim, ActDim, QposDim, QvelDim int
	Observations                     []float32 // rows × ObsDim
	Actions                          []float32 // rows × ActDim, in [−1, 1]
	Terminals                        []bool    // rows
	Qpos                             []float32 // rows × QposDim
	Qvel                             []float32 // rows × QvelDim
	// Successes tells, per trajectory, whether the demonstrator solved the task.
	Successes []bool

	task Task
}

// Rows returns the number of stored rows (transitions plus one per trajectory).
func (d *Demos) Rows() int { return len(d.Terminals) }

// SuccessRate is the fraction of trajectories that solved the task.
func (d *Demos) SuccessRate() float64 {
	n := 0
	for _, s := range d.Successes {
		if s {
			n++
		}
	}
	return float64(n) / float64(max(1, len(d.Successes)))
}

// Generate records cfg.Episodes demonstrations of the task named name (without the prefix).
func Generate(name string, cfg DemoConfig) (*Demos, error) {
	if cfg.Episodes < 1 {
		return nil, fmt.Errorf("toy: Generate %s: %d episodes requested", name, cfg.Episodes)
	}
	task, err := New(name)
	if err != nil {
		return nil, err
	}
	demo := task.newDemonstrator(cfg)
	d := &Demos{Task: Prefix + ":" + task.Name(), ObsDim: task.ObservationDim(), ActDim: task.ActionDim(),
		QposDim: task.QposDim(), QvelDim: task.QvelDim(), task: task}
	action := make([]float32, d.ActDim)
	for ep := range cfg.Episodes {
		episodeSeed := cfg.Seed*1_000_003 + int64(ep)
		obs, err := task.Reset(episodeSeed)
		if err != nil {
			return nil, err
		}
		demo.reset(seededRand(episodeSeed, 2))
		success, final := false, false
		for {
			demo.act(action)
			d.Observations = append(d.Observations, obs...)
			d.Actions = append(d.Actions, action...)
			d.Qpos = append(d.Qpos, task.Qpos()...)
			d.Qvel = append(d.Qvel, task.Qvel()...)
			d.Terminals = append(d.Terminals, false)
			if final {
				break
			}
			if success {
				// One more step from the success state, so that it has a transition of its own.
				task.resume()
			}
			st, err := task.Step(action)
			if err != nil {
				return nil, fmt.Errorf("toy: Generate %s, episode %d: %w", name, ep, err)
			}
			obs = st.Observation
			switch {
			case success || st.Truncated:
				final = true
			case st.Success:
				success = true
			}
		}
		d.Terminals[len(d.Terminals)-1] = true
		d.Successes = append(d.Successes, success)
	}
	return d, nil
}

// Dataset applies OGBench's standard loading and single-task relabelling to the rows: the last
// row of each trajectory only serves as the previous row's next observation, the last remaining
// transition of each trajectory is terminal, reward = 0 if the row's state solves the task else −1,
// and mask = 0 on those rows.
func (d *Demos) Dataset() (*datasets.Dataset, error) {
	task := d.task
	if task == nil {
		var err error
		if task, err = taskOf(d.Task); err != nil {
			return nil, err
		}
	}
	rows := d.Rows()
	if len(d.Observations) != rows*d.ObsDim || len(d.Actions) != rows*d.ActDim || len(d.Qpos) != rows*d.QposDim {
		return nil, fmt.Errorf("toy: demos of %s have inconsistent array lengths (rows %d: observations %d, actions %d, qpos %d)",
			d.Task, rows, len(d.Observations), len(d.Actions), len(d.Qpos))
	}
	if d.QposDim != task.QposDim() || d.ObsDim != task.ObservationDim() || d.ActDim != task.ActionDim() {
		return nil, fmt.Errorf("toy: demos of %s have dims obs %d, action %d, qpos %d; the task has %d, %d, %d",
			d.Task, d.ObsDim, d.ActDim, d.QposDim, task.ObservationDim(), task.ActionDim(), task.QposDim())
	}
	if rows > 0 && !d.Terminals[rows-1] {
		return nil, fmt.Errorf("toy: demos of %s: the last row is not terminal (truncated file?)", d.Task)
	}
	n := 0
	for i := 0; i < rows; i++ {
		if !d.Terminals[i] {
			n++
		}
	}
	ds := &datasets.Dataset{Name: d.Task, ObsDim: d.ObsDim, ActDim: d.ActDim,
		Observations: make([]float32, 0, n*d.ObsDim), Actions: make([]float32, 0, n*d.ActDim),
		NextObservations: make([]float32, 0, n*d.ObsDim),
		Rewards:          make([]float32, 0, n), Masks: make([]float32, 0, n), Terminals: make([]float32, 0, n)}
	for i := 0; i+1 < rows; i++ {
		if d.Terminals[i] {
			continue
		}
		ds.Observations = append(ds.Observations, d.Observations[i*d.ObsDim:(i+1)*d.ObsDim]...)
		ds.Actions = append(ds.Actions, d.Actions[i*d.ActDim:(i+1)*d.ActDim]...)
		ds.NextObservations = append(ds.NextObservations, d.Observations[(i+1)*d.ObsDim:(i+2)*d.ObsDim]...)
		var r, m float32 = -1, 1
		if task.SuccessFromQpos(d.Qpos[i*d.QposDim : (i+1)*d.QposDim]) {
			r, m = 0, 0
		}
		ds.Rewards = append(ds.Rewards, r)
		ds.Masks = append(ds.Masks, m)
		var term float32
		if d.Terminals[i+1] {
			term = 1
		}
		ds.Terminals = append(ds.Terminals, term)
	}
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	return ds, nil
}

// taskOf resolves "toy:name" or "name".
func taskOf(full string) (Task, error) {
	name := full
	if len(full) > len(Prefix)+1 && full[:len(Prefix)+1] == Prefix+":" {
		name = full[len(Prefix)+1:]
	}
	return New(name)
}
