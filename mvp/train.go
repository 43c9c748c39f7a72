package mvp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp/runlog"
	"github.com/gomvp/gomvp/plugins"
)

// TrainConfig configures offline-to-online training (method.md §3). Start from
// DefaultTrainConfig; every default of the paper's protocol is a field.
type TrainConfig struct {
	Agent Spec `json:"agent"`
	// OfflineSteps of updates on the dataset (paper: 1M), then OnlineSteps environment steps
	// (paper: 1M) with the replay buffer initialised from the dataset.
	OfflineSteps int `json:"offline_steps"`
	OnlineSteps  int `json:"online_steps"`
	// StartSteps: online updates begin after this many environment steps (default 5000).
	StartSteps int `json:"start_steps"`
	// UTD is the number of updates per online environment step (default 1).
	UTD int `json:"utd"`
	// ReplayCapacity bounds the online replay buffer, which starts from the dataset; once it is full
	// each new transition overwrites the oldest row (offline rows first). Default 0: QC's rule
	// datasets.ReplayCapacity(|D|) = max(2M, |D| + 1).
	ReplayCapacity int `json:"replay_capacity,omitempty"`
	// EvalEvery steps (default 100k; 0 disables periodic evaluation), with EvalEpisodes episodes
	// (default 50) over EvalEnvs parallel environments (default 10). Evaluation also runs at the end.
	EvalEvery    int `json:"eval_every"`
	EvalEpisodes int `json:"eval_episodes"`
	EvalEnvs     int `json:"eval_envs"`
	// LogEvery steps, training metrics averaged over the interval are logged (default 1000), with
	// updates_per_s, the rate of the updates alone (the first interval includes compilation).
	LogEvery int `json:"log_every"`
	// CheckpointEvery steps (default 100k, 0 disables periodic checkpoints; one is always written at
	// the end); Keep checkpoints are kept (default 3).
	CheckpointEvery int `json:"checkpoint_every"`
	Keep            int `json:"keep"`
	// Seed of everything: parameters, data sampling, environments, evaluation.
	Seed int64 `json:"seed"`
	// Out is the run directory: checkpoints/, metrics.jsonl, train.csv, eval.csv, TensorBoard events.
	Out string `json:"-"`
	// Progress shows a progress bar on a terminal (default true).
	Progress bool `json:"-"`
	// AllowChange names the settings (of ResumeChangeable, plus "seed") that may differ from the
	// stored run when resuming. Any other difference is an error listing the fields. A listed
	// setting takes the new value, except "seed", which always comes from the run: listing it only
	// says "the seed was not given, take the run's".
	AllowChange []string `json:"-"`
	// Backend names the backend the run uses (xla.Choice.Name), recorded in config.json and the
	// summary; informational, since a run may resume on another backend.
	Backend string `json:"backend,omitempty"`
}

// ResumeChangeable are the settings a resumed run may change with TrainConfig.AllowChange:
// budgets (no lower than the steps already done) and evaluation, logging and retention cadence.
// Everything else would make the resumed run differ from one that ran unbroken.
var ResumeChangeable = []string{"offline_steps", "online_steps", "eval_every", "eval_episodes", "eval_envs", "log_every", "keep"}

// DefaultTrainConfig returns the paper's protocol for agent.
func DefaultTrainConfig(agent Spec) TrainConfig {
	return TrainConfig{
		Agent: agent, OfflineSteps: 1_000_000, OnlineSteps: 1_000_000, StartSteps: 5000, UTD: 1,
		EvalEvery: 100_000, EvalEpisodes: 50, EvalEnvs: 10, LogEvery: 1000,
		CheckpointEvery: 100_000, Keep: 3, Progress: true,
	}
}

// TrainSummary is what Train returns (and the CLI prints as its last line).
type TrainSummary struct {
	Agent       string             `json:"agent"`
	Backend     string             `json:"backend,omitempty"`
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
	// Online held every online transition in version-1 checkpoints; it is read, never written:
	// the transitions now live in replay segments (replay.go).
	Online *datasets.Dataset `json:"online,omitempty"`
	// Streams are the random streams in use, so that a run stopped between checkpoint boundaries
	// (by a signal) continues the same sequences; nil in checkpoints written before they were kept.
	Streams *streamState `json:"streams,omitempty"`
	// LogSum and LogN are the training metrics accumulated since the last log line.
	LogSum map[string]float64 `json:"log_sum,omitempty"`
	LogN   int                `json:"log_n,omitempty"`
	// FinalEval is the final evaluation once it was done; a finished run is not evaluated again.
	FinalEval *EvalResult `json:"final_eval,omitempty"`
	// EvalPending: the periodic evaluation at Step was interrupted; a resumed run does it first.
	EvalPending bool `json:"eval_pending,omitempty"`
	// Config is the run's configuration, compared with the given one on resume.
	Config *TrainConfig `json:"config,omitempty"`
}

// streamState is the state of the batch sampler and of the collection policy's noise in a phase.
type streamState struct {
	Phase   string `json:"phase"` // "offline" or "online": a phase's streams are not the next one's
	Sampler []byte `json:"sampler"`
	Act     []byte `json:"act,omitempty"`
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

	state trainState
	// replay lists the replay segments written so far; restored holds their transitions after a
	// resume until the online phase puts them back into the buffer; pending collects the
	// transitions since the last checkpoint, written as the next segment.
	replay   []ReplaySegment
	restored *datasets.Dataset
	pending  *datasets.Dataset
	resumed  int64
	log      *runlog.Logger
	bar      *runlog.Progress
	lastCkp  string
	// ckpAt is (updates, environment steps) of the state in lastCkp.
	ckpAt [2]int64
	// smp, actRNG and phase are the streams in use, saved with every checkpoint.
	smp    *datasets.Sampler
	actRNG *ActRNG
	phase  string
	ac     acc
	lastM  map[string]float64
	// lastEval is the latest evaluation (shown on the progress bar), done at step lastEvalAt.
	lastEval   *EvalResult
	lastEvalAt int64
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
		t.Agent, err = LoadAgent(backend, ck)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(ck.State, &t.state); err != nil {
			return nil, fmt.Errorf("mvp: checkpoint %s: training state: %w", ck.Path, err)
		}
		if err := t.checkResume(ck); err != nil {
			return nil, err
		}
		if err := t.restoreReplay(ck); err != nil {
			return nil, err
		}
		t.resumed = t.state.Step
		t.lastCkp = ck.Path
		t.ckpAt = [2]int64{t.state.Step, t.state.EnvSteps}
		t.ac = acc{sum: t.state.LogSum, n: t.state.LogN}
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

// checkResume compares the stored run with t.Config: fields that differ are an error unless
// allowed; allowed ones take the new value, except the seed, which is always the run's.
func (t *Trainer) checkResume(ck *Checkpoint) error {
	given := t.Config
	given.Agent.Seed = given.Seed
	// Version-1 checkpoints stored no settings: only their spec and seed are compared.
	stored := given
	if t.state.Config != nil {
		stored = *t.state.Config
	}
	stored.Agent, stored.Seed = ck.Spec, ck.Spec.Seed
	stored.Backend = given.Backend // a run may resume on another backend
	diff := trainConfigDiff(stored, given)
	allowed := map[string]bool{}
	for _, f := range given.AllowChange {
		f = strings.ReplaceAll(strings.TrimSpace(f), "-", "_")
		if f != "seed" && !slices.Contains(ResumeChangeable, f) {
			return fmt.Errorf("mvp: train: setting %q cannot change on resume (changeable: %s)", f, strings.Join(ResumeChangeable, ", "))
		}
		allowed[f] = true
	}
	var bad []string
	for _, d := range diff {
		name, _, _ := strings.Cut(d, ":")
		if !allowed[strings.TrimPrefix(name, "agent.")] || name == "agent.seed" && !allowed["seed"] {
			bad = append(bad, d)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("mvp: train: %s holds a run whose settings differ (stored → given): %s; "+
			"resume with the run's settings or use a new output directory (only %s may change, when allowed)",
			t.Config.Out, strings.Join(bad, "; "), strings.ReplaceAll(strings.Join(ResumeChangeable, ", "), "_", "-"))
	}
	if t.state.Step > int64(given.OfflineSteps) && given.OfflineSteps < stored.OfflineSteps {
		return fmt.Errorf("mvp: train: offline_steps %d is below the %d updates the run has done", given.OfflineSteps, t.state.Step)
	}
	if t.state.EnvSteps > int64(given.OnlineSteps) {
		return fmt.Errorf("mvp: train: online_steps %d is below the %d environment steps the run has done", given.OnlineSteps, t.state.EnvSteps)
	}
	t.Config.Agent, t.Config.Seed = ck.Spec, ck.Spec.Seed
	return nil
}

// restoreReplay reads the online transitions the checkpoint covers: its replay segments, or the
// JSON copy of a version-1 checkpoint (written as the first segment at the next checkpoint).
func (t *Trainer) restoreReplay(ck *Checkpoint) error {
	c := t.Config.Agent
	if old := t.state.Online; old != nil {
		t.state.Online = nil
		if old.Len() != int(t.state.EnvSteps) {
			return fmt.Errorf("mvp: train: checkpoint %s holds %d online transitions for %d environment steps", ck.Path, old.Len(), t.state.EnvSteps)
		}
		t.restored, t.pending = old, old.Clone()
		return nil
	}
	var rows int64
	for _, s := range ck.Replay {
		rows += int64(s.Rows)
	}
	if rows != t.state.EnvSteps {
		return fmt.Errorf("mvp: train: checkpoint %s covers %d online transitions in its replay segments for %d environment steps", ck.Path, rows, t.state.EnvSteps)
	}
	if err := RemoveReplayAfter(t.checkpointDir(), rows); err != nil {
		return err
	}
	if len(ck.Replay) == 0 {
		return nil
	}
	d, err := ReadReplay(t.checkpointDir(), ck.Replay, c.ObsDim, c.ActDim)
	if err != nil {
		return fmt.Errorf("mvp: train: resuming from %s: %w", ck.Path, err)
	}
	t.replay, t.restored = ck.Replay, d
	return nil
}

// trainConfigDiff lists the settings where b differs from a ("field: a → b").
func trainConfigDiff(a, b TrainConfig) []string { return jsonDiff(a, b) }

func (t *Trainer) checkpointDir() string { return filepath.Join(t.Config.Out, "checkpoints") }

// Run trains until OfflineSteps + OnlineSteps, evaluating, logging and checkpointing on the way.
// Cancelling ctx stops training where it can resume exactly (after the current update offline, at
// the end of the current episode online; an evaluation stops after its running episodes and is
// not logged), writes a checkpoint and returns an *InterruptedError naming it. A NaN or Inf stops
// training with an error wrapping ErrDiverged and writes no checkpoint of the bad state.
// The logs are first cut back to the resumed step, so a resumed run logs no step twice.
func (t *Trainer) Run(ctx context.Context) (*TrainSummary, error) {
	if err := runlog.Truncate(t.Config.Out, t.state.Step); err != nil {
		return nil, err
	}
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
	if t.state.EvalPending {
		if _, err := t.evaluate(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, t.interrupt(ctx, "evaluation")
			}
			return nil, err
		}
		t.state.EvalPending = false
	}
	if err := t.offline(ctx); err != nil {
		return nil, err
	}
	if err := t.online(ctx); err != nil {
		return nil, err
	}
	var final EvalResult
	switch {
	case t.state.FinalEval != nil:
		final = *t.state.FinalEval
	case t.lastEval != nil && t.lastEvalAt == t.state.Step:
		// A periodic evaluation at the last step (a pure function of the parameters and the step)
		// is the final one; it is not run and logged twice.
		final = *t.lastEval
		t.state.FinalEval = &final
		if err := t.checkpoint(); err != nil {
			return nil, err
		}
	default:
		if final, err = t.evaluate(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, t.interrupt(ctx, "final evaluation")
			}
			return nil, err
		}
		t.state.FinalEval = &final
		if err := t.checkpoint(); err != nil {
			return nil, err
		}
	}
	el := time.Since(start).Seconds()
	return &TrainSummary{
		Backend: t.Config.Backend,
		Agent:   t.Config.Agent.Kind, Steps: t.state.Step, EnvSteps: t.state.EnvSteps, ResumedFrom: t.resumed,
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

// interrupt writes a checkpoint of the current state unless the last one holds it, and returns
// the *InterruptedError of Run.
func (t *Trainer) interrupt(ctx context.Context, during string) error {
	if t.bar != nil {
		done := t.state.Step
		if t.phase == "online" {
			done = t.state.EnvSteps
		}
		t.bar.Finish(done)
	}
	if t.ckpAt != [2]int64{t.state.Step, t.state.EnvSteps} || t.lastCkp == "" && t.state.Step+t.state.EnvSteps > 0 {
		if err := t.checkpoint(); err != nil {
			return fmt.Errorf("mvp: train: interrupted at step %d, and writing its checkpoint failed: %w", t.state.Step, err)
		}
	}
	return &InterruptedError{Step: t.state.Step, EnvSteps: t.state.EnvSteps, Checkpoint: t.lastCkp, During: during, Err: ctx.Err(), Cause: context.Cause(ctx)}
}

// restoreStreams continues phase's streams from the checkpoint when it stopped inside that phase;
// otherwise s and rng keep their fresh seeds.
func (t *Trainer) restoreStreams(phase string, s *datasets.Sampler, rng *ActRNG) error {
	t.smp, t.actRNG, t.phase = s, rng, phase
	st := t.state.Streams
	if st == nil || st.Phase != phase {
		return nil
	}
	if err := s.UnmarshalBinary(st.Sampler); err != nil {
		return fmt.Errorf("mvp: train: resuming the %s sampler: %w", phase, err)
	}
	if rng != nil && st.Act != nil {
		if err := rng.UnmarshalBinary(st.Act); err != nil {
			return fmt.Errorf("mvp: train: resuming the %s collection noise: %w", phase, err)
		}
	}
	return nil
}

// update runs one update and the bookkeeping after it (logging, evaluation, checkpoints).
func (t *Trainer) update(ctx context.Context, s *datasets.Sampler, b *datasets.Batch, ac *acc, total int64) error {
	t0 := time.Now()
	if err := s.SampleInto(b); err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	m, err := t.Agent.Update(b)
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
		// An evaluation cut short by ctx is not logged but redone first when the run resumes (online,
		// where the run goes on to the episode's end, ctx does not cut it short).
		if _, err := t.evaluate(ctx); err != nil {
			if ctx.Err() == nil {
				return err
			}
			t.state.EvalPending = true
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
	t.state.FinalEval = nil // a longer budget: the run goes on and is evaluated again at its new end
	c := t.Config.Agent
	b := datasets.NewBatch(c.BatchSize, c.ObsDim, c.ActDim, c.Horizon)
	s := t.sampler(t.Data)
	if err := t.restoreStreams("offline", s, nil); err != nil {
		return err
	}
	if t.bar != nil {
		t.bar.Start("offline "+c.Kind, t.state.Step, total)
	}
	for t.state.Step < total {
		if ctx.Err() != nil {
			return t.interrupt(ctx, "offline training")
		}
		if err := t.update(ctx, s, b, &t.ac, total+int64(t.Config.OnlineSteps)*int64(t.Config.UTD)); err != nil {
			return err
		}
		if t.boundary(t.state.Step) && t.state.Step < total {
			// The next segment's stream is seeded before the checkpoint, which then holds it.
			s = t.sampler(t.Data)
			t.smp = s
			if err := t.checkpoint(); err != nil {
				return err
			}
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
	t.state.FinalEval = nil
	if ctx.Err() != nil {
		return t.interrupt(ctx, "online training")
	}
	env, err := t.MakeEnv(-1)
	if err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	defer env.Close()
	c := cfg.Agent
	if t.pending == nil {
		t.pending = &datasets.Dataset{Name: "online", ObsDim: c.ObsDim, ActDim: c.ActDim}
	}
	capacity := cfg.ReplayCapacity
	if capacity <= 0 {
		capacity = datasets.ReplayCapacity(t.Data.Len())
	}
	buf, err := datasets.NewReplayBuffer(t.Data, capacity)
	if err != nil {
		return fmt.Errorf("mvp: train: %w", err)
	}
	if t.restored != nil {
		if err := buf.AddDataset(t.restored); err != nil {
			return fmt.Errorf("mvp: train: restoring online transitions: %w", err)
		}
		t.restored = nil
	}
	b := datasets.NewBatch(c.BatchSize, c.ObsDim, c.ActDim, c.Horizon)
	s := t.sampler(buf)
	rng := NewActRNG(mixSeed(cfg.Seed, streamCollect, t.state.Step))
	if err := t.restoreStreams("online", s, rng); err != nil {
		return err
	}
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
		t.pending.AppendTransition(tr)
		t.state.EnvSteps++
		obs = st.Observation
		if t.state.EnvSteps > int64(cfg.StartSteps) {
			for range cfg.UTD {
				if err := t.update(context.WithoutCancel(ctx), s, b, &t.ac, total); err != nil {
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
				s = t.sampler(buf)
				rng = NewActRNG(mixSeed(cfg.Seed, streamCollect, t.state.Step))
				t.smp, t.actRNG = s, rng
				if err := t.checkpoint(); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return t.interrupt(ctx, "online training")
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

func pendingLen(d *datasets.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

// evaluate runs the periodic evaluation (a pure function of the parameters and the step) and
// logs it; one cut short by ctx is returned with ctx's error and not logged.
func (t *Trainer) evaluate(ctx context.Context) (EvalResult, error) {
	cfg := t.Config
	if t.MakeEnv == nil || cfg.EvalEpisodes <= 0 {
		return EvalResult{}, nil
	}
	n := max(1, min(cfg.EvalEnvs, cfg.EvalEpisodes))
	envs, err := plugins.StartVecEnv(n, func(i int) (plugins.Env, error) { return t.MakeEnv(i) })
	if err != nil {
		return EvalResult{}, fmt.Errorf("mvp: train: evaluation environments: %w", err)
	}
	defer envs.Close()
	r, err := Evaluate(ctx, t.Agent, envs, EvalOptions{Episodes: cfg.EvalEpisodes, Seed: mixSeed(cfg.Seed, streamEval)})
	if err != nil {
		return r, err
	}
	t.lastEval, t.lastEvalAt = &r, t.state.Step
	return r, t.log.Log(runlog.Record{Step: t.state.Step, Phase: "eval", Metrics: r.Metrics()})
}

func (t *Trainer) checkpoint() error {
	t.state.Streams = nil
	if t.smp != nil {
		st := &streamState{Phase: t.phase}
		var err error
		if st.Sampler, err = t.smp.MarshalBinary(); err != nil {
			return fmt.Errorf("mvp: train: checkpoint: %w", err)
		}
		if t.actRNG != nil {
			if st.Act, err = t.actRNG.MarshalBinary(); err != nil {
				return fmt.Errorf("mvp: train: checkpoint: %w", err)
			}
		}
		t.state.Streams = st
	}
	t.state.LogSum, t.state.LogN = t.ac.sum, t.ac.n
	for _, v := range t.ac.sum {
		if math.IsNaN(v) || math.IsInf(v, 0) { // not JSON; the next log line averages fewer updates
			t.state.LogSum, t.state.LogN = nil, 0
			break
		}
	}
	cfg := t.Config
	t.state.Config = &cfg
	replay := t.replay
	if n := pendingLen(t.pending); n > 0 {
		// Only the transitions since the last checkpoint are written; older segments stay as they are.
		seg, err := WriteReplaySegment(t.checkpointDir(), t.state.EnvSteps-int64(n), t.pending)
		if err != nil {
			return err
		}
		replay = append(slices.Clone(replay), seg)
	}
	p, err := WriteCheckpoint(t.checkpointDir(), t.state.Step, t.Agent, CheckpointContent{State: t.state, Replay: replay}, t.Config.Keep)
	if err != nil {
		return err
	}
	t.lastCkp, t.replay = p, replay
	t.ckpAt = [2]int64{t.state.Step, t.state.EnvSteps}
	if pendingLen(t.pending) > 0 {
		t.pending = &datasets.Dataset{Name: "online", ObsDim: t.pending.ObsDim, ActDim: t.pending.ActDim}
	}
	return nil
}
