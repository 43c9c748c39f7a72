package mvp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp/runlog"
	"github.com/gomvp/gomvp/plugins"
)

// TrainConfig configures offline-to-online training (method.md §3). Start from
// DefaultTrainConfig; every default of the paper's protocol is a field.
type TrainConfig struct {
	Agent AgentConfig
	// OfflineSteps of updates on the dataset (paper: 1M), then OnlineSteps environment steps
	// (paper: 1M) with the replay buffer initialised from the dataset.
	OfflineSteps, OnlineSteps int
	// StartSteps: online updates begin after this many environment steps (default 5000).
	StartSteps int
	// UTD is the number of updates per online environment step (default 1).
	UTD int
	// ReplayCapacity bounds the online replay buffer, which starts from the dataset; once it is full
	// each new transition overwrites the oldest row (offline rows first). Default 0: QC's rule
	// datasets.ReplayCapacity(|D|) = max(2M, |D| + 1).
	ReplayCapacity int
	// EvalEvery steps (default 100k; 0 disables periodic evaluation), with EvalEpisodes episodes
	// (default 50) over EvalEnvs parallel environments (default 10). Evaluation also runs at the end.
	EvalEvery, EvalEpisodes, EvalEnvs int
	// LogEvery steps, training metrics averaged over the interval are logged (default 1000), with
	// updates_per_s, the rate of the updates alone (the first interval includes compilation).
	LogEvery int
	// CheckpointEvery steps (default 100k, 0 disables periodic checkpoints; one is always written at
	// the end); Keep checkpoints are kept (default 3).
	CheckpointEvery, Keep int
	// Seed of everything: parameters, data sampling, environments, evaluation.
	Seed int64
	// Out is the run directory: checkpoints/, metrics.jsonl, train.csv, eval.csv, TensorBoard events.
	Out string
	// Progress shows a progress bar on a terminal (default true).
	Progress bool
}

// DefaultTrainConfig returns the paper's protocol for agent.
func DefaultTrainConfig(agent AgentConfig) TrainConfig {
	return TrainConfig{
		Agent: agent, OfflineSteps: 1_000_000, OnlineSteps: 1_000_000, StartSteps: 5000, UTD: 1,
		EvalEvery: 100_000, EvalEpisodes: 50, EvalEnvs: 10, LogEvery: 1000,
		CheckpointEvery: 100_000, Keep: 3, Progress: true,
	}
}

// TrainSummary is what Train returns (and the CLI prints as its last line).
type TrainSummary struct {
	Agent       string             `json:"agent"`
	Steps       int64              `json:"steps"`
	EnvSteps    int64              `json:"env_steps"`
	ResumedFrom int64              `json:"resumed_from,omitempty"`
	Final       EvalResult         `json:"final_eval"`
	Checkpoint  string             `json:"checkpoint"`
	Seconds     float64            `json:"seconds"`
	UpdatesPerS float64            `json:"updates_per_s"`
	LastMetrics map[string]float64 `json:"last_train_metrics,omitempty"`
}

// trainState is the part of the learning state that is not in the agent's store.
type trainState struct {
	Step     int64 `json:"step"`      // updates done (offline + online)
	EnvSteps int64 `json:"env_steps"` // online environment steps done
	Episodes int64 `json:"episodes"`  // online episodes finished
	// Online holds the transitions collected online, so a resumed run rebuilds the same buffer.
	Online *datasets.Dataset `json:"online,omitempty"`
}

// EnvMaker creates the i-th environment instance (0 … for evaluation, collection uses its own).
type EnvMaker func(i int) (plugins.Env, error)

// Trainer runs TrainConfig. Build it with NewTrainer, then call Run.
type Trainer struct {
	Config  TrainConfig
	Agent   *Agent
	Data    *datasets.Dataset
	MakeEnv EnvMaker
	// AfterUpdate, if set, is called after every update with its step and metrics (live plots in
	// a notebook, custom stopping rules).
	AfterUpdate func(step int64, metrics map[string]float64)

	state   trainState
	resumed int64
	log     *runlog.Logger
	bar     *runlog.Progress
	lastCkp string
	lastM   map[string]float64
	// lastEval is the latest evaluation, shown on the progress bar.
	lastEval *EvalResult
}

// mixSeed derives independent seeds for the parts of a run (splitmix64 of the inputs).
func mixSeed(parts ...int64) int64 {
	var x uint64 = 0x9e3779b97f4a7c15
	for _, p := range parts {
		x ^= uint64(p) + 0x9e3779b97f4a7c15 + (x << 6) + (x >> 2)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
	}
	return int64(x >> 1)
}

// Seed stream identifiers.
const (
	streamSampler = iota + 1
	streamEval
	streamCollect
	streamReset
)

// NewTrainer prepares a run in cfg.Out. If cfg.Out holds a checkpoint, the run resumes from the
// newest valid one (its agent config wins over cfg.Agent); otherwise a fresh agent is built.
func NewTrainer(backend compute.Backend, cfg TrainConfig, data *datasets.Dataset, makeEnv EnvMaker) (*Trainer, error) {
	if cfg.Out == "" {
		return nil, fmt.Errorf("mvp: train: no output directory")
	}
	if data == nil {
		return nil, fmt.Errorf("mvp: train: no dataset")
	}
	if err := data.Validate(); err != nil {
		return nil, fmt.Errorf("mvp: train: %w", err)
	}
	if data.ObsDim != cfg.Agent.ObsDim || data.ActDim != cfg.Agent.ActDim {
		return nil, fmt.Errorf("mvp: train: dataset %s has observation/action dims %d/%d, the agent %d/%d",
			data.Name, data.ObsDim, data.ActDim, cfg.Agent.ObsDim, cfg.Agent.ActDim)
	}
	if cfg.UTD <= 0 {
		cfg.UTD = 1
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = 1000
	}
	t := &Trainer{Config: cfg, Data: data, MakeEnv: makeEnv, bar: runlog.NewProgress()}
	if !cfg.Progress {
		t.bar = nil
	}
	ck, err := LatestCheckpoint(t.checkpointDir())
	if err != nil {
		return nil, err
	}
	if ck != nil {
		t.Agent, err = LoadAgent(backend, ck, cfg.Agent.Generator)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(ck.State, &t.state); err != nil {
			return nil, fmt.Errorf("mvp: checkpoint %s: training state: %w", ck.Path, err)
		}
		t.resumed = t.state.Step
		t.lastCkp = ck.Path
		t.Config.Agent = ck.Agent
		t.Config.Agent.Generator = cfg.Agent.Generator
	} else {
		ac := cfg.Agent
		ac.Seed = cfg.Seed
		t.Config.Agent = ac
		t.Agent, err = NewAgent(backend, ac)
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Trainer) checkpointDir() string { return filepath.Join(t.Config.Out, "checkpoints") }

// Run trains until OfflineSteps + OnlineSteps, evaluating, logging and checkpointing on the way.
// Cancelling ctx stops after the current step with ctx's error; the last checkpoint stays valid.
// A NaN or Inf stops training with an error wrapping ErrDiverged and writes no checkpoint of the
// bad state.
func (t *Trainer) Run(ctx context.Context) (*TrainSummary, error) {
	var err error
	t.log, err = runlog.Open(t.Config.Out)
	if err != nil {
		return nil, err
	}
	defer t.log.Close()
	cfgJSON, _ := json.MarshalIndent(t.Config, "", "  ")
	_ = os.WriteFile(filepath.Join(t.Config.Out, "config.json"), cfgJSON, 0o644)

	start := time.Now()
	startStep := t.state.Step
	if err := t.offline(ctx); err != nil {
		return nil, err
	}
	if err := t.online(ctx); err != nil {
		return nil, err
	}
	final, err := t.evaluate()
	if err != nil {
		return nil, err
	}
	if t.state.Step != t.resumed || t.lastCkp == "" {
		if err := t.checkpoint(); err != nil {
			return nil, err
		}
	}
	el := time.Since(start).Seconds()
	return &TrainSummary{
		Agent: t.Config.Agent.Kind, Steps: t.state.Step, EnvSteps: t.state.EnvSteps, ResumedFrom: t.resumed,
		Final: final, Checkpoint: t.lastCkp, Seconds: el,
		UpdatesPerS: float64(t.state.Step-startStep) / math.Max(el, 1e-9), LastMetrics: t.lastM,
	}, nil
}

// sampler returns the batch sampler for the segment starting at the current step: re-seeded at
// every checkpoint boundary so that a resumed run draws the same batches as an unbroken one.
func (t *Trainer) sampler(src datasets.Source) *datasets.Sampler {
	c := t.Config.Agent
	return datasets.NewSampler(src).BatchSize(c.BatchSize).Horizon(c.Horizon).Discount(c.Critic.Gamma).
		Seed(uint64(mixSeed(t.Config.Seed, streamSampler, t.state.Step)))
}

func (t *Trainer) boundary(step int64) bool {
	return t.Config.CheckpointEvery > 0 && step%int64(t.Config.CheckpointEvery) == 0
}

// acc averages training metrics between log lines and times the updates themselves (sampling
// and the update call, not evaluations or checkpoints) for the updates_per_s metric.
type acc struct {
	sum  map[string]float64
	n    int
	busy time.Duration
}

func (a *acc) add(m map[string]float64) {
	if a.sum == nil {
		a.sum = map[string]float64{}
	}
	for k, v := range m {
		a.sum[k] += v
	}
	a.n++
}

func (a *acc) mean() map[string]float64 {
	out := make(map[string]float64, len(a.sum))
	for k, v := range a.sum {
		out[k] = v / float64(a.n)
	}
	if a.busy > 0 {
		out["updates_per_s"] = float64(a.n) / a.busy.Seconds()
	}
	a.sum, a.n, a.busy = nil, 0, 0
	return out
}

// update runs one update and the bookkeeping after it (logging, evaluation, checkpoints).
func (t *Trainer) update(ctx context.Context, s *datasets.Sampler, b *datasets.Batch, ac *acc, total int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := s.SampleInto(b); err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	m, err := t.Agent.Update(&Batch{Size: b.Size, Obs: b.Observations, Actions: b.Actions, ChunkReward: b.Rewards,
		NextObs: b.NextObservations, Mask: b.Masks, Valid: b.Valid})
	ac.busy += time.Since(t0)
	if err != nil {
		if errors.Is(err, ErrDiverged) {
			where := "no checkpoint was written yet"
			if t.lastCkp != "" {
				where = "the last good checkpoint is " + t.lastCkp
			}
			return fmt.Errorf("mvp: train: step %d: %w; stopped, %s (lower the learning rate or check the data)", t.state.Step+1, err, where)
		}
		return err
	}
	t.state.Step++
	ac.add(m)
	step := t.state.Step
	if t.AfterUpdate != nil {
		t.AfterUpdate(step, m)
	}
	if t.bar != nil {
		t.bar.Update(step)
	}
	if step%int64(t.Config.LogEvery) == 0 {
		mm := ac.mean()
		t.lastM = mm
		if t.bar != nil {
			t.bar.SetMetrics(map[string]float64{"actor": mm["actor_loss"], "critic": mm["critic_loss"], "success": t.lastSuccess()})
		}
		if err := t.log.Log(runlog.Record{Step: step, Phase: "train", Metrics: mm}); err != nil {
			return err
		}
	}
	if t.Config.EvalEvery > 0 && step%int64(t.Config.EvalEvery) == 0 && step < total {
		if _, err := t.evaluate(); err != nil {
			return err
		}
	}
	return nil
}

func (t *Trainer) lastSuccess() float64 {
	if t.lastEval == nil {
		return math.NaN()
	}
	return t.lastEval.SuccessRate
}

func (t *Trainer) offline(ctx context.Context) error {
	total := int64(t.Config.OfflineSteps)
	if t.state.Step >= total {
		return nil
	}
	c := t.Config.Agent
	b := datasets.NewBatch(c.BatchSize, c.ObsDim, c.ActDim, c.Horizon)
	s := t.sampler(t.Data)
	var ac acc
	if t.bar != nil {
		t.bar.Start("offline "+c.Kind, t.state.Step, total)
	}
	for t.state.Step < total {
		if err := t.update(ctx, s, b, &ac, total+int64(t.Config.OnlineSteps)*int64(t.Config.UTD)); err != nil {
			return err
		}
		if t.boundary(t.state.Step) && t.state.Step < total {
			if err := t.checkpoint(); err != nil {
				return err
			}
			s = t.sampler(t.Data)
		}
	}
	if t.bar != nil {
		t.bar.Finish(t.state.Step)
	}
	return nil
}

// online collects OnlineSteps environment steps with generate-and-select, executing each chunk
// open-loop, and updates UTD times per step once StartSteps steps were collected. Checkpoints are
// taken at episode ends (an environment's state cannot be saved), the first after each boundary.
func (t *Trainer) online(ctx context.Context) error {
	cfg := t.Config
	if cfg.OnlineSteps <= 0 || t.state.EnvSteps >= int64(cfg.OnlineSteps) {
		return nil
	}
	if t.MakeEnv == nil {
		return fmt.Errorf("mvp: train: online steps need an environment")
	}
	env, err := t.MakeEnv(-1)
	if err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	defer env.Close()
	c := cfg.Agent
	if t.state.Online == nil {
		t.state.Online = &datasets.Dataset{Name: "online", ObsDim: c.ObsDim, ActDim: c.ActDim}
	}
	capacity := cfg.ReplayCapacity
	if capacity <= 0 {
		capacity = datasets.ReplayCapacity(t.Data.Len())
	}
	buf, err := datasets.NewReplayBuffer(t.Data, capacity)
	if err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	if t.state.Online.Len() > 0 {
		if err := buf.AddDataset(t.state.Online); err != nil {
			return fmt.Errorf("mvp: train: restoring online transitions: %w", err)
		}
	}
	b := datasets.NewBatch(c.BatchSize, c.ObsDim, c.ActDim, c.Horizon)
	s := t.sampler(buf)
	rng := NewActRNG(mixSeed(cfg.Seed, streamCollect, t.state.Step))
	var ac acc
	total := int64(cfg.OfflineSteps) + int64(cfg.OnlineSteps)*int64(cfg.UTD)
	if t.bar != nil {
		t.bar.Start("online "+c.Kind, t.state.EnvSteps, int64(cfg.OnlineSteps))
	}
	lastBoundary := t.state.Step / int64(max(cfg.CheckpointEvery, 1))
	obs, err := env.Reset(mixSeed(cfg.Seed, streamReset, t.state.Episodes))
	if err != nil {
		return fmt.Errorf("mvp: train: resetting environment: %w", err)
	}
	epSteps := 0
	var chunk []float32
	k := c.Horizon
	on := t.state.Online
	for t.state.EnvSteps < int64(cfg.OnlineSteps) {
		if k == c.Horizon {
			chunk, err = t.Agent.Act(obs, rng)
			if err != nil {
				return err
			}
			k = 0
		}
		act := chunk[k*c.ActDim : (k+1)*c.ActDim]
		k++
		st, err := env.Step(act)
		if err != nil {
			return fmt.Errorf("mvp: train: environment step %d: %w", t.state.EnvSteps, err)
		}
		epSteps++
		end := st.Terminated || st.Truncated || (env.MaxEpisodeSteps() > 0 && epSteps >= env.MaxEpisodeSteps())
		tr := datasets.Transition{Observation: obs, Action: act, Reward: float32(st.Reward), NextObservation: st.Observation, Mask: 1}
		if st.Terminated {
			tr.Mask = 0
		}
		if end {
			tr.Terminal = 1
		}
		if err := buf.Add(tr); err != nil {
			return fmt.Errorf("mvp: train: %w", err)
		}
		appendTransition(on, tr)
		t.state.EnvSteps++
		obs = st.Observation
		if t.state.EnvSteps > int64(cfg.StartSteps) {
			for range cfg.UTD {
				if err := t.update(ctx, s, b, &ac, total); err != nil {
					return err
				}
			}
		}
		if t.bar != nil {
			t.bar.Update(t.state.EnvSteps)
		}
		if end {
			t.state.Episodes++
			if bnd := t.state.Step / int64(max(cfg.CheckpointEvery, 1)); cfg.CheckpointEvery > 0 && bnd > lastBoundary {
				lastBoundary = bnd
				if err := t.checkpoint(); err != nil {
					return err
				}
				s = t.sampler(buf)
				rng = NewActRNG(mixSeed(cfg.Seed, streamCollect, t.state.Step))
			}
			obs, err = env.Reset(mixSeed(cfg.Seed, streamReset, t.state.Episodes))
			if err != nil {
				return fmt.Errorf("mvp: train: resetting environment: %w", err)
			}
			epSteps, k = 0, c.Horizon
		}
	}
	if t.bar != nil {
		t.bar.Finish(t.state.EnvSteps)
	}
	return nil
}

func appendTransition(d *datasets.Dataset, tr datasets.Transition) {
	d.Observations = append(d.Observations, tr.Observation...)
	d.Actions = append(d.Actions, tr.Action...)
	d.NextObservations = append(d.NextObservations, tr.NextObservation...)
	d.Rewards = append(d.Rewards, tr.Reward)
	d.Masks = append(d.Masks, tr.Mask)
	d.Terminals = append(d.Terminals, tr.Terminal)
}

// evaluate runs the periodic evaluation (a pure function of the parameters and the step) and logs it.
func (t *Trainer) evaluate() (EvalResult, error) {
	cfg := t.Config
	if t.MakeEnv == nil || cfg.EvalEpisodes <= 0 {
		return EvalResult{}, nil
	}
	n := max(1, min(cfg.EvalEnvs, cfg.EvalEpisodes))
	envs := make([]plugins.Env, 0, n)
	defer func() {
		for _, e := range envs {
			e.Close()
		}
	}()
	for i := range n {
		e, err := t.MakeEnv(i)
		if err != nil {
			return EvalResult{}, fmt.Errorf("mvp: train: evaluation environment %d: %w", i, err)
		}
		envs = append(envs, e)
	}
	r, err := Evaluate(t.Agent, envs, EvalOptions{Episodes: cfg.EvalEpisodes, Seed: mixSeed(cfg.Seed, streamEval)})
	if err != nil {
		return r, err
	}
	t.lastEval = &r
	return r, t.log.Log(runlog.Record{Step: t.state.Step, Phase: "eval", Metrics: r.Metrics()})
}

func (t *Trainer) checkpoint() error {
	p, err := SaveCheckpoint(t.checkpointDir(), t.state.Step, t.Agent, t.state, t.Config.Keep)
	if err != nil {
		return err
	}
	t.lastCkp = p
	return nil
}
