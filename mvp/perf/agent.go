package perf

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gomlx/compute"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp"
)

// Spec returns the spec of kind at these sizes: the kind table's defaults (mvp.DefaultSpec) with
// the sizes applied, so a benchmark runs the graph `mvp train` runs.
func (s Sizes) Spec(kind string) (mvp.Spec, error) {
	c, err := mvp.DefaultSpec(kind, s.ObsDim, s.ActDim)
	if err != nil {
		return c, err
	}
	c.Horizon, c.Candidates, c.BatchSize = s.Horizon, s.Candidates, s.Batch
	c.Generator.Hidden = append([]int(nil), s.ActorHidden...)
	c.Critic.Hidden = append([]int(nil), s.CriticHidden...)
	c.Critic.Ensemble = s.Ensemble
	c.Seed = 1
	return c, nil
}

// RandomBatch returns a batch of cfg's sizes filled with seeded random data (all steps valid, no
// terminal), the shape and value ranges of real chunked transitions.
func RandomBatch(cfg mvp.Spec, seed uint64) *datasets.Batch {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := cfg.BatchSize
	normal := func(k int) []float32 {
		x := make([]float32, k)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	act := make([]float32, n*cfg.ChunkDim())
	for i := range act {
		act[i] = float32(cfg.ActionLow + (cfg.ActionHigh-cfg.ActionLow)*r.Float64())
	}
	ones := func(k int) []float32 {
		x := make([]float32, k)
		for i := range x {
			x[i] = 1
		}
		return x
	}
	return &datasets.Batch{
		Size: n, Observations: normal(n * cfg.ObsDim), Actions: act, Rewards: normal(n),
		NextObservations: normal(n * cfg.ObsDim), Masks: ones(n), Valid: ones(n * cfg.Horizon),
	}
}

// UpdateResult is the timing of Agent.Update.
type UpdateResult struct {
	StepsPerSec float64 `json:"steps_per_s"`
	MedianMs    float64 `json:"median_ms"`
	CPUMs       float64 `json:"cpu_ms"` // process CPU time per step, all threads
	Iters       int     `json:"iters"`
	CompileSec  float64 `json:"compile_s"` // first call: graph building, compilation and one step
	FLOPs       float64 `json:"flops"`     // matmul FLOPs of one update (see Sizes)
	FLOPsPerSec float64 `json:"flops_per_s"`
}

// BenchUpdate builds an agent of kind (with or without its critic) on backend and times
// Agent.Update on a fixed random batch for about minTime after one untimed warm-up call.
func BenchUpdate(backend compute.Backend, s Sizes, kind string, withCritic bool, minTime time.Duration) (UpdateResult, error) {
	cfg, err := s.Spec(kind)
	if err != nil {
		return UpdateResult{}, fmt.Errorf("perf: %w", err)
	}
	cfg.UseCritic = withCritic
	agent, err := mvp.NewAgent(backend, cfg)
	if err != nil {
		return UpdateResult{}, fmt.Errorf("perf: %s agent: %w", kind, err)
	}
	batch := RandomBatch(cfg, 7)
	t0 := time.Now()
	if _, err := agent.Update(batch); err != nil {
		return UpdateResult{}, fmt.Errorf("perf: first %s update: %w", kind, err)
	}
	res := UpdateResult{CompileSec: time.Since(t0).Seconds()}
	t, err := TimeLoop(func() error { _, err := agent.Update(batch); return err }, 1, 3, minTime)
	if err != nil {
		return res, fmt.Errorf("perf: %s update: %w", kind, err)
	}
	res.StepsPerSec, res.MedianMs, res.Iters = t.Rate(), ms(t.Median()), len(t.Durations)
	res.CPUMs = ms(t.CPUPerCall())
	res.FLOPs = s.updateFLOPs(kind, withCritic)
	res.FLOPsPerSec = res.FLOPs * res.StepsPerSec
	return res, nil
}

func (s Sizes) updateFLOPs(kind string, withCritic bool) float64 {
	isFlow := kind != mvp.KindMVP && kind != mvp.KindMVPLambda0
	switch {
	case kind == mvp.KindMVPLambda0 && !withCritic:
		return s.MVPLambda0ActorFLOPs()
	case isFlow && withCritic:
		return s.QCUpdateFLOPs()
	case isFlow:
		return s.FlowActorFLOPs()
	case withCritic:
		return s.MVPUpdateFLOPs()
	}
	return s.MVPActorFLOPs()
}

// ActResult is the latency of one action decision, Agent.Act on a single state.
type ActResult struct {
	Backend     string  `json:"backend"`
	States      int     `json:"states"`
	MedianMs    float64 `json:"median_ms"`
	P99Ms       float64 `json:"p99_ms"`
	CPUMs       float64 `json:"cpu_ms"` // process CPU time per decision, all threads
	Iters       int     `json:"iters"`
	FLOPs       float64 `json:"flops"`
	FLOPsPerSec float64 `json:"flops_per_s"` // at the median latency
}

// BenchAct builds an MVP agent on backend and times Agent.Act on states states at once (N
// candidates each, critic scoring, argmax, noise drawn in a graph from the ActRNG) for about
// minTime after a warm-up. states = 1 is the latency of acting in one environment. The decision
// runs on the agent's action graph, or directly when name is DirectActName (the noise graph still
// runs on backend).
func BenchAct(backend compute.Backend, name string, s Sizes, states int, minTime time.Duration) (ActResult, error) {
	cfg, err := s.Spec(mvp.KindMVP)
	if err != nil {
		return ActResult{}, fmt.Errorf("perf: %w", err)
	}
	agent, err := mvp.NewAgent(backend, cfg)
	if err != nil {
		return ActResult{}, fmt.Errorf("perf: act agent on %s: %w", name, err)
	}
	if err := agent.SetDirectAct(name == DirectActName); err != nil {
		return ActResult{}, fmt.Errorf("perf: act %s: %w", name, err)
	}
	if states < 1 || states > cfg.BatchSize {
		return ActResult{}, fmt.Errorf("perf: act on %d states, want 1…%d", states, cfg.BatchSize)
	}
	obs := RandomBatch(cfg, 11).Observations[:states*cfg.ObsDim]
	rng := mvp.NewActRNG(3)
	t, err := TimeLoop(func() error { _, err := agent.Act(obs, rng); return err }, 20, 200, minTime)
	if err != nil {
		return ActResult{}, fmt.Errorf("perf: act on %s: %w", name, err)
	}
	r := ActResult{Backend: name, MedianMs: ms(t.Median()), P99Ms: ms(t.Percentile(99)), Iters: len(t.Durations),
		CPUMs: ms(t.CPUPerCall()),
		FLOPs: float64(states) * s.ActFLOPs(), States: states}
	r.FLOPsPerSec = r.FLOPs / t.Median().Seconds()
	return r, nil
}

// DirectActName is the act "backend" of the graph-free decision (Agent.SetDirectAct(true)).
const DirectActName = "direct"

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
