package fitbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gomvp/gomvp/mvp"
)

// Config of one fitting run. NewConfig gives the defaults `mvp fit` uses.
type Config struct {
	// Steps of Adam on the generator's loss. Default 2500 (about 4 CPU-minutes for the four methods of `mvp fit`).
	Steps int
	// Batch size. Default 256 (method.md).
	Batch int
	// LearningRate of Adam. Default 1e-3: the toy problem tolerates more than the RL default 3e-4,
	// which buys accuracy within the step budget.
	LearningRate float64
	// CosineDecay anneals the learning rate to 0 over Steps (lr·(1 + cos(π·step/Steps))/2), the
	// same for every method, so each ends at a settled point instead of wherever the last noisy
	// step left it. Default true.
	CosineDecay bool
	// Seed of initialisation, training batches, noise and evaluation. Default 1.
	Seed int64
	// EvalStatesPerFamily held-out states per family. Default 4.
	EvalStatesPerFamily int
	// EvalSamples per held-out state, from the model and from the truth. Default 2048.
	EvalSamples int
	// Projections of the sliced Wasserstein distance. Default 128.
	Projections int
	// MMDSamples is the subsample (of EvalSamples) the O(n²) MMD uses; 0 skips MMD. Default 512.
	MMDSamples int
	// MMDBandwidths of the Gaussian kernels. Default 0.05, 0.1, 0.2, 0.4.
	MMDBandwidths []float64
	// Progress, when set, is called every ProgressEvery steps with the step and the loss.
	Progress      func(step int, loss float64)
	ProgressEvery int
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Steps: 2500, Batch: 256, LearningRate: 1e-3, CosineDecay: true, Seed: 1,
		EvalStatesPerFamily: 4, EvalSamples: 2048, Projections: 128,
		MMDSamples: 512, MMDBandwidths: []float64{0.05, 0.1, 0.2, 0.4},
		ProgressEvery: 500,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Steps < 1:
		return fmt.Errorf("fitbench: steps %d must be ≥ 1", c.Steps)
	case c.Batch < 1:
		return fmt.Errorf("fitbench: batch %d must be ≥ 1", c.Batch)
	case !(c.LearningRate > 0):
		return fmt.Errorf("fitbench: learning rate %g must be > 0", c.LearningRate)
	case c.EvalStatesPerFamily < 1 || c.EvalSamples < 2:
		return fmt.Errorf("fitbench: need ≥ 1 evaluation state per family and ≥ 2 samples")
	case c.Projections < 1:
		return fmt.Errorf("fitbench: projections %d must be ≥ 1", c.Projections)
	case c.MMDSamples < 0 || c.MMDSamples > c.EvalSamples:
		return fmt.Errorf("fitbench: MMD samples %d must be in [0, %d]", c.MMDSamples, c.EvalSamples)
	}
	return nil
}

// Result of fitting one generator.
type Result struct {
	Method string `json:"method"`
	// SW is the sliced 2-Wasserstein distance to the truth, averaged over held-out states.
	SW float64 `json:"sw"`
	// SWByFamily averages SW per family.
	SWByFamily map[string]float64 `json:"sw_by_family"`
	// MMD is the mean MMD to the truth (0 when disabled).
	MMD float64 `json:"mmd,omitempty"`
	// TrainSeconds is the wall time of all training steps, graph compilation included.
	TrainSeconds float64 `json:"train_s"`
	// StepsPerSecond excludes the first (compiling) step.
	StepsPerSecond float64 `json:"steps_per_s"`
	// SampleMillisPerBatch is the wall time of generating one batch of EvalSamples actions.
	SampleMillisPerBatch float64 `json:"sample_ms_per_batch"`
	// FinalLoss is the mean training loss over the last 100 steps.
	FinalLoss float64 `json:"final_loss"`
}

// scopeName is where Fit keeps the generator's variables.
const scopeName = "generator"

// Fit trains gen on task from scratch with Adam and measures it on the held-out states.
func Fit(backend compute.Backend, gen mvp.Generator, task *Task, cfg *Config) (*Result, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, err
	}
	opt := optimizer.Adam().LearningRate(cfg.LearningRate).Done()
	trainExec, err := model.NewExec(backend, store, func(scope *model.Scope, s, a, lr *Node) *Node {
		loss, _ := gen.Loss(scope.At(scopeName), s, a, nil)
		// The learning rate is fed each step (the schedule lives on the host).
		optimizer.LearningRateVarWithValue(scope, lr.DType(), cfg.LearningRate).SetNodeValue(lr)
		opt.UpdateGraph(scope, s.Graph(), loss)
		return loss
	})
	if err != nil {
		return nil, fmt.Errorf("fitbench: %s: building the train step: %w", gen.Name(), err)
	}
	defer trainExec.Finalize()

	res := &Result{Method: gen.Name()}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7ea1))
	sd := task.StateDim()
	start := time.Now()
	var afterFirst time.Time
	lossSum, lossCount := 0.0, 0
	for step := 0; step < cfg.Steps; step++ {
		s, a := task.Batch(rng, cfg.Batch)
		lr := cfg.LearningRate
		if cfg.CosineDecay {
			lr *= (1 + math.Cos(math.Pi*float64(step)/float64(cfg.Steps))) / 2
		}
		out, err := trainExec.Call(tensors.FromFlatDataAndDimensions(s, cfg.Batch, sd),
			tensors.FromFlatDataAndDimensions(a, cfg.Batch, ActDim), float32(lr))
		if err != nil {
			return nil, fmt.Errorf("fitbench: %s: train step %d: %w", gen.Name(), step, err)
		}
		loss := float64(tensors.MustCopyFlatData[float32](out[0])[0])
		_ = out[0].FinalizeAll()
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("fitbench: %s: training diverged at step %d (loss %g)", gen.Name(), step, loss)
		}
		if step == 0 {
			afterFirst = time.Now()
		}
		if step >= cfg.Steps-100 {
			lossSum += loss
			lossCount++
		}
		if cfg.Progress != nil && cfg.ProgressEvery > 0 && (step+1)%cfg.ProgressEvery == 0 {
			cfg.Progress(step+1, loss)
		}
	}
	end := time.Now()
	res.TrainSeconds = end.Sub(start).Seconds()
	if cfg.Steps > 1 {
		res.StepsPerSecond = float64(cfg.Steps-1) / end.Sub(afterFirst).Seconds()
	}
	res.FinalLoss = lossSum / float64(lossCount)

	samples, ms, err := SampleStates(backend, store, gen, task, task.HeldOutStates(cfg.EvalStatesPerFamily), cfg.EvalSamples, cfg.Seed)
	if err != nil {
		return nil, err
	}
	res.SampleMillisPerBatch = ms
	ev, err := Evaluate(task, task.HeldOutStates(cfg.EvalStatesPerFamily), samples, cfg)
	if err != nil {
		return nil, fmt.Errorf("fitbench: %s: %w", gen.Name(), err)
	}
	res.SW, res.SWByFamily, res.MMD = ev.SW, ev.SWByFamily, ev.MMD
	return res, nil
}

// SampleStates generates n clipped actions per state with gen's variables in store (under
// "generator"), from noise seeded by seed and the state's index, so every method sees the same ε.
// It returns flat [n, ActDim] samples per state and the mean milliseconds per n-sample call
// (after one warm-up call that compiles the graph).
func SampleStates(backend compute.Backend, store *model.Store, gen mvp.Generator, task *Task, states []State, n int, seed int64) ([][]float64, float64, error) {
	sampleExec, err := model.NewExec(backend, store, func(scope *model.Scope, s, eps *Node) *Node {
		return mvp.ClipActions(gen.Sample(scope.At(scopeName), s, eps), -1, 1)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("fitbench: %s: building the sampler: %w", gen.Name(), err)
	}
	defer sampleExec.Finalize()
	sd := task.StateDim()
	out := make([][]float64, len(states))
	var elapsed time.Duration
	for i := -1; i < len(states); i++ {
		st := states[max(i, 0)]
		s := make([]float32, n*sd)
		for j := 0; j < n; j++ {
			task.Encode(st, s[j*sd:(j+1)*sd])
		}
		nrng := rand.New(rand.NewPCG(uint64(seed), uint64(1000+max(i, 0))))
		eps := make([]float32, n*ActDim)
		for j := range eps {
			eps[j] = float32(nrng.NormFloat64())
		}
		t0 := time.Now()
		res, err := sampleExec.Call(tensors.FromFlatDataAndDimensions(s, n, sd), tensors.FromFlatDataAndDimensions(eps, n, ActDim))
		if err != nil {
			return nil, 0, fmt.Errorf("fitbench: %s: sampling: %w", gen.Name(), err)
		}
		flat := tensors.MustCopyFlatData[float32](res[0])
		if i >= 0 { // i = −1 is the warm-up call.
			elapsed += time.Since(t0)
			out[i] = make([]float64, len(flat))
			for j, v := range flat {
				out[i][j] = float64(v)
			}
		}
		_ = res[0].FinalizeAll()
	}
	return out, elapsed.Seconds() * 1000 / float64(len(states)), nil
}

// Evaluation is the distance of samples to the truth over a set of states.
type Evaluation struct {
	SW         float64
	SWByFamily map[string]float64
	MMD        float64
}

// Evaluate compares samples[i] (flat [n, ActDim]) with n fresh exact samples of states[i]. The
// truth samples and projection directions depend only on cfg.Seed and i, so methods are compared
// on identical references.
func Evaluate(task *Task, states []State, samples [][]float64, cfg *Config) (*Evaluation, error) {
	if len(samples) != len(states) {
		return nil, fmt.Errorf("fitbench: %d sample sets for %d states", len(samples), len(states))
	}
	ev := &Evaluation{SWByFamily: map[string]float64{}}
	count := map[string]int{}
	for i, st := range states {
		n := len(samples[i]) / ActDim
		truth := SampleActions(rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(2000+i))), st, n)
		sw, err := SlicedWasserstein(samples[i], truth, ActDim, cfg.Projections, rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(3000+i))))
		if err != nil {
			return nil, fmt.Errorf("state %v: %w", st, err)
		}
		ev.SW += sw
		ev.SWByFamily[st.Family.String()] += sw
		count[st.Family.String()]++
		if cfg.MMDSamples > 0 {
			m := cfg.MMDSamples * ActDim
			mmd, err := MMD(samples[i][:m], truth[:m], ActDim, cfg.MMDBandwidths)
			if err != nil {
				return nil, fmt.Errorf("state %v: %w", st, err)
			}
			ev.MMD += mmd
		}
	}
	ev.SW /= float64(len(states))
	ev.MMD /= float64(len(states))
	for k := range ev.SWByFamily {
		ev.SWByFamily[k] /= float64(count[k])
	}
	return ev, nil
}

// TruthFloor is Evaluate applied to a second independent set of exact samples: the distance a
// perfect generator would get with this many samples.
func TruthFloor(task *Task, cfg *Config) (*Evaluation, error) {
	states := task.HeldOutStates(cfg.EvalStatesPerFamily)
	samples := make([][]float64, len(states))
	for i, st := range states {
		samples[i] = SampleActions(rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(4000+i))), st, cfg.EvalSamples)
	}
	return Evaluate(task, states, samples, cfg)
}
