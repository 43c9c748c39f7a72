package mvp

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Agent kinds selectable by name (method.md §3–4).
const (
	KindMVP        = "mvp"         // MVP one-step generator, best-of-N with the critic
	KindMVPLambda0 = "mvp-lambda0" // MVP without the IVC term (λ = 0)
	KindQC         = "qc"          // flow matching, K = 10 Euler steps, chunk h = 5, N = 32
	KindQCK1       = "qc-k1"       // QC sampled with one Euler step
	KindBFN        = "bfn"         // flow matching, K = 10, no chunking (h = 1), N = 4
	KindBFNK1      = "bfn-k1"      // BFN sampled with one Euler step
	KindBC         = "bc"          // deterministic behaviour cloning of chunks by regression; no critic
	KindFQL        = "fql"         // flow Q-learning: one-step policy distilled from a flow BC policy plus Q, h = 1
	KindQCFQL      = "qc-fql"      // FQL on chunks, h = 5 (QC's QC-FQL)
)

// Kinds lists every agent kind, in the order results are reported.
var Kinds = []string{KindMVP, KindQC, KindBFN, KindQCK1, KindBFNK1, KindMVPLambda0, KindBC, KindFQL, KindQCFQL}

// AgentConfig configures an agent. Start from DefaultAgentConfig and change fields as needed; every
// default of method.md §3 is a field here.
type AgentConfig struct {
	// Kind is one of Kinds; it picks the generator and the defaults of Horizon and Candidates.
	Kind string
	// ObsDim and ActDim are the observation size and the per-step action size.
	ObsDim, ActDim int
	// Horizon h is the chunk length (default 5; BFN 1). The generator works on h·ActDim actions.
	Horizon int
	// Candidates N of best-of-N selection (default 32; BFN 4; BC 1).
	Candidates int
	// Critic configures the Q ensemble; UseCritic false trains the generator alone (BC).
	Critic    CriticConfig
	UseCritic bool
	// ActorHidden are the generator's hidden widths (default 4×512), passed to its constructor.
	ActorHidden []int
	// LearningRate of Adam for both actor and critic (default 3e-4).
	LearningRate float64
	// BatchSize of an update (default 256).
	BatchSize int
	// ActionLow and ActionHigh bound every action coordinate (default −1, 1); samples are clipped.
	ActionLow, ActionHigh float64
	// Seed initialises parameters and the in-graph random stream of updates.
	Seed int64
	// PolicyTarget is what the generator imitates: PolicyTargetBatch (default, QC's choice: the
	// batch's actions, which online are the executed a*) or PolicyTargetBestOfN (a* re-selected by
	// the critic at the batch states among N fresh candidates and the batch action: the paper's
	// "target action for policy training" read literally). Agents without a critic use the batch.
	PolicyTarget string `json:",omitempty"`
	// Generator overrides the one Kind implies (nil: NewGeneratorForKind).
	Generator Generator `json:"-"`
}

// Policy targets (AgentConfig.PolicyTarget).
const (
	PolicyTargetBatch   = "batch"
	PolicyTargetBestOfN = "best-of-n"
)

// DefaultAgentConfig returns the defaults of method.md §3 for kind.
func DefaultAgentConfig(kind string, obsDim, actDim int) AgentConfig {
	c := AgentConfig{
		Kind: kind, ObsDim: obsDim, ActDim: actDim,
		Horizon: 5, Candidates: 32, Critic: DefaultCriticConfig(), UseCritic: true,
		ActorHidden:  []int{512, 512, 512, 512},
		LearningRate: 3e-4, BatchSize: 256, ActionLow: -1, ActionHigh: 1,
	}
	switch kind {
	case KindBFN, KindBFNK1:
		c.Horizon, c.Candidates = 1, 4
	case KindBC:
		c.Candidates, c.UseCritic = 1, false
	case KindFQL, KindQCFQL: // acts with the one-step policy alone
		c.Candidates = 1
		if kind == KindFQL {
			c.Horizon = 1
		}
	}
	return c
}

// ChunkDim is the size of one (flattened) action chunk, h·ActDim.
func (c AgentConfig) ChunkDim() int { return c.Horizon * c.ActDim }

// Validate reports the first inconsistent field.
func (c AgentConfig) Validate() error {
	switch {
	case c.ObsDim <= 0 || c.ActDim <= 0:
		return fmt.Errorf("mvp: agent %q: ObsDim=%d and ActDim=%d must be positive", c.Kind, c.ObsDim, c.ActDim)
	case c.Horizon <= 0:
		return fmt.Errorf("mvp: agent %q: Horizon=%d must be positive", c.Kind, c.Horizon)
	case c.Candidates <= 0:
		return fmt.Errorf("mvp: agent %q: Candidates=%d must be positive", c.Kind, c.Candidates)
	case c.BatchSize <= 0:
		return fmt.Errorf("mvp: agent %q: BatchSize=%d must be positive", c.Kind, c.BatchSize)
	case c.UseCritic && c.Critic.Ensemble <= 0:
		return fmt.Errorf("mvp: agent %q: Critic.Ensemble=%d must be positive", c.Kind, c.Critic.Ensemble)
	case !(c.ActionLow < c.ActionHigh):
		return fmt.Errorf("mvp: agent %q: ActionLow=%g must be below ActionHigh=%g", c.Kind, c.ActionLow, c.ActionHigh)
	case c.PolicyTarget != "" && c.PolicyTarget != PolicyTargetBatch && c.PolicyTarget != PolicyTargetBestOfN:
		return fmt.Errorf("mvp: agent %q: PolicyTarget=%q: want %q or %q", c.Kind, c.PolicyTarget, PolicyTargetBatch, PolicyTargetBestOfN)
	}
	return nil
}

// Batch is one update's data, flat row-major float32: B rows of chunk windows.
type Batch struct {
	Size        int
	Obs         []float32 // B × ObsDim: s_k
	Actions     []float32 // B × h·ActDim: a_k … a_{k+h−1}
	ChunkReward []float32 // B: R_k = Σ_{i<h} γ^i r_{k+i} (zero past the episode end)
	NextObs     []float32 // B × ObsDim: s_{k+h} (or the last state of the episode)
	Mask        []float32 // B: 0 when the episode terminates inside the chunk (no bootstrap)
	Valid       []float32 // B × h: 1 for chunk steps inside the episode
}

// Agent is a generator with (optionally) a Q ensemble, acting by generate-and-select. Its
// parameters, optimizer state, target network and the random stream of updates live in Store, so a
// checkpoint of Store is the whole learning state.
type Agent struct {
	Config  AgentConfig
	Store   *model.Store
	Backend compute.Backend
	Gen     Generator

	mu          sync.Mutex
	updateExec  *model.Exec
	actExec     *model.Exec
	metricNames []string // names of the update's outputs, known once its graph is built
}

// Scope names of the generator and the optimizers under the root scope.
const (
	ActorScope      = "actor"
	actorAdamScope  = "adam_actor"
	criticAdamScope = "adam_critic"
)

// NewAgent builds an agent with freshly initialised parameters (target critic = online critic).
func NewAgent(backend compute.Backend, cfg AgentConfig) (*Agent, error) {
	a, err := newAgentShell(backend, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.Store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, fmt.Errorf("mvp: seeding agent: %w", err)
	}
	if err := a.initialize(); err != nil {
		return nil, err
	}
	return a, nil
}

// newAgentShell builds everything but the variables (used by NewAgent and by checkpoint loading).
func newAgentShell(backend compute.Backend, cfg AgentConfig) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gen := cfg.Generator
	if gen == nil {
		var err error
		gen, err = NewGeneratorForKind(cfg)
		if err != nil {
			return nil, err
		}
	}
	a := &Agent{Config: cfg, Store: model.NewStore(), Backend: backend, Gen: gen}
	var err error
	a.updateExec, err = model.NewExec(backend, a.Store, a.updateGraph)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q: update executor: %w", cfg.Kind, err)
	}
	a.updateExec.WithName("update_" + cfg.Kind)
	a.actExec, err = model.NewExec(backend, a.Store, a.actGraph)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q: act executor: %w", cfg.Kind, err)
	}
	a.actExec.WithName("act_" + cfg.Kind)
	return a, nil
}

// initialize creates every parameter (generator, critic) and copies the critic into its target.
func (a *Agent) initialize() error {
	c := a.Config
	initFn := func(scope *model.Scope, s, eps *Node) *Node {
		out := a.Gen.Sample(scope.At(ActorScope), s, eps)
		if c.UseCritic {
			q := c.Critic.QEnsemble(scope.At(CriticScope), s, out)
			CopyToTarget(a.Store, s.Graph())
			qt := c.Critic.QEnsemble(scope.At(TargetScope), s, out)
			return Add(ReduceAllSum(out), Add(ReduceAllSum(q), ReduceAllSum(qt)))
		}
		return ReduceAllSum(out)
	}
	s := tensors.FromShape(shapes.Make(dtypes.Float32, 1, c.ObsDim))
	eps := tensors.FromShape(shapes.Make(dtypes.Float32, 1, c.ChunkDim()))
	if _, err := model.CallOnceN(a.Backend, a.Store, initFn, s, eps); err != nil {
		return fmt.Errorf("mvp: agent %q: initialising parameters: %w", c.Kind, err)
	}
	return nil
}

// SelectBestOfN builds generate-and-select: for states s [B, obsDim] and noise eps [B·N, chunkDim]
// (N per state, row b·N+i belongs to state b), it samples N clipped candidates per state in one
// batched generator call, scores them with the mean of the online critic ensemble and returns the
// argmax candidate per state [B, chunkDim]. Without a critic (or N = 1) it returns the first
// candidate. The result carries no gradient.
func (a *Agent) SelectBestOfN(scope *model.Scope, s, eps *Node) *Node {
	c := a.Config
	b := s.Shape().Dim(0)
	n := eps.Shape().Dim(0) / b
	sRep := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n, c.ObsDim), b*n, c.ObsDim)
	cand := ClipScalar(a.Gen.Sample(scope.At(ActorScope), sRep, eps), c.ActionLow, c.ActionHigh)
	cand = StopGradient(cand)
	if !c.UseCritic || n == 1 {
		return Reshape(Slice(Reshape(cand, b, n, -1), AxisRange(), AxisElem(0), AxisRange()), b, -1)
	}
	q := Reshape(c.Critic.QMean(scope.At(CriticScope), sRep, cand), b, n)
	return SelectArgmax(q, Reshape(cand, b, n, -1))
}

// reselectTarget is the policy target of PolicyTargetBestOfN: per batch state, the best of N fresh
// clipped candidates and the batch action act [B, chunkDim] under the online critic's mean, without
// gradient.
func (a *Agent) reselectTarget(scope *model.Scope, s, act *Node) *Node {
	c := a.Config
	b := s.Shape().Dim(0)
	n := c.Candidates
	eps := a.Store.RandomNormal(s.Graph(), shapes.Make(s.DType(), b*n, c.ChunkDim()))
	sRep := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n, c.ObsDim), b*n, c.ObsDim)
	cand := ClipScalar(a.Gen.Sample(scope.At(ActorScope), sRep, eps), c.ActionLow, c.ActionHigh)
	all := Concatenate([]*Node{Reshape(StopGradient(cand), b, n, -1), InsertAxes(act, 1)}, 1) // [B, N+1, D]
	sAll := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n+1, c.ObsDim), b*(n+1), c.ObsDim)
	q := Reshape(c.Critic.QMean(scope.At(CriticScope), sAll, Reshape(all, b*(n+1), -1)), b, n+1)
	return SelectArgmax(q, all)
}

// SelectArgmax returns, for scores q [B, N] and candidates [B, N, D], the candidate of highest
// score per row [B, D] (the first one on ties).
func SelectArgmax(q, cand *Node) *Node {
	n := q.Shape().Dim(1)
	oneHot := OneHot(ArgMax(q, 1, dtypes.Int32), n, cand.DType()) // [B, N]
	return StopGradient(ReduceSum(Mul(cand, InsertAxes(oneHot, -1)), 1))
}

// actGraph maps states [B, obsDim] and an RNG state to chunks [B, chunkDim] and the advanced RNG
// state. The RNG state is an input so acting never disturbs the update's random stream and
// evaluation is reproducible on its own.
func (a *Agent) actGraph(scope *model.Scope, s, rng *Node) (*Node, *Node) {
	c := a.Config
	b := s.Shape().Dim(0)
	rng, eps := RandomNormal(rng, shapes.Make(s.DType(), b*c.Candidates, c.ChunkDim()))
	return a.SelectBestOfN(scope, s, eps), rng
}

// updateGraph is one whole training step, compiled once: generator loss and Adam step on the actor;
// TD target with a* from generate-and-select at s_{k+h}, critic loss, Adam step and Polyak update.
// Its outputs are scalar metrics, named in a.metricNames.
func (a *Agent) updateGraph(scope *model.Scope, in []*Node) []*Node {
	c := a.Config
	s, act, rew, sNext, mask, valid := in[0], in[1], in[2], in[3], in[4], in[5]
	g := s.Graph()
	b := s.Shape().Dim(0)
	names := []string{}
	var outs []*Node
	emit := func(name string, x *Node) { names = append(names, name); outs = append(outs, x) }

	actorScope := scope.At(ActorScope)
	target := act
	if c.PolicyTarget == PolicyTargetBestOfN && c.UseCritic {
		target = a.reselectTarget(scope, s, act)
	}
	pLoss, terms := a.Gen.Loss(actorScope, s, target, valid)
	emit("actor_loss", pLoss)
	termNames := make([]string, 0, len(terms))
	for k := range terms {
		termNames = append(termNames, k)
	}
	sort.Strings(termNames)
	for _, k := range termNames {
		emit("actor_"+k, terms[k])
	}

	if c.UseCritic {
		criticScope := scope.At(CriticScope)
		eps := a.Store.RandomNormal(g, shapes.Make(s.DType(), b*c.Candidates, c.ChunkDim()))
		aNext := a.SelectBestOfN(scope, sNext, eps)
		qNext := c.Critic.QMean(scope.At(TargetScope), sNext, aNext)
		y := TDTarget(rew, mask, qNext, c.Critic.Gamma, c.Horizon)
		q := c.Critic.QEnsemble(criticScope, s, act)
		lastValid := Reshape(Slice(valid, AxisRange(), AxisElem(c.Horizon-1)), b)
		cLoss := CriticLoss(q, y, lastValid)
		emit("critic_loss", cLoss)
		emit("q_mean", ReduceAllMean(q))
		emit("target_mean", ReduceAllMean(y))

		optimizer.Adam().Scope(criticAdamScope).LearningRate(c.LearningRate).Done().
			UpdateGraph(criticScope, g, cLoss)
		PolyakUpdate(a.Store, g, c.Critic.Tau)
	}
	optimizer.Adam().Scope(actorAdamScope).LearningRate(c.LearningRate).Done().
		UpdateGraph(actorScope, g, pLoss)
	a.metricNames = names
	return outs
}

// Update runs one training step on batch and returns its metrics. The graph is compiled on the
// first call and reused. A non-finite metric is returned as an error wrapping ErrDiverged; the
// parameters have then already taken the bad step, so callers restore the last checkpoint.
func (a *Agent) Update(batch *Batch) (map[string]float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.Config
	if err := batch.check(c); err != nil {
		return nil, err
	}
	bs := batch.Size
	ins := []any{
		tensors.FromFlatDataAndDimensions(batch.Obs, bs, c.ObsDim),
		tensors.FromFlatDataAndDimensions(batch.Actions, bs, c.ChunkDim()),
		tensors.FromFlatDataAndDimensions(batch.ChunkReward, bs),
		tensors.FromFlatDataAndDimensions(batch.NextObs, bs, c.ObsDim),
		tensors.FromFlatDataAndDimensions(batch.Mask, bs),
		tensors.FromFlatDataAndDimensions(batch.Valid, bs, c.Horizon),
	}
	outs, err := a.updateExec.Call(ins...)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q update: %w", c.Kind, err)
	}
	m := make(map[string]float64, len(outs))
	var bad []string
	for i, t := range outs {
		v := scalarOf(t)
		m[a.metricNames[i]] = v
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, fmt.Sprintf("%s=%v", a.metricNames[i], v))
		}
	}
	if len(bad) > 0 {
		return m, fmt.Errorf("%w: %v", ErrDiverged, bad)
	}
	return m, nil
}

// ErrDiverged is wrapped by errors reporting a NaN or Inf in training.
var ErrDiverged = fmt.Errorf("mvp: training diverged (non-finite value)")

func (b *Batch) check(c AgentConfig) error {
	n := b.Size
	for _, f := range []struct {
		name      string
		got, want int
	}{
		{"Obs", len(b.Obs), n * c.ObsDim}, {"Actions", len(b.Actions), n * c.ChunkDim()},
		{"ChunkReward", len(b.ChunkReward), n}, {"NextObs", len(b.NextObs), n * c.ObsDim},
		{"Mask", len(b.Mask), n}, {"Valid", len(b.Valid), n * c.Horizon},
	} {
		if f.got != f.want {
			return fmt.Errorf("mvp: batch field %s has %d values, want %d (batch %d, obs %d, chunk %d, h %d)",
				f.name, f.got, f.want, n, c.ObsDim, c.ChunkDim(), c.Horizon)
		}
	}
	return nil
}

// Act returns one action chunk per state for obs (B × ObsDim, flat), by generate-and-select with
// noise drawn from rng, which it advances. Use a NewActRNG per independent stream.
func (a *Agent) Act(obs []float32, rng *ActRNG) ([]float32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.Config
	if len(obs)%c.ObsDim != 0 || len(obs) == 0 {
		return nil, fmt.Errorf("mvp: Act got %d observation values, not a positive multiple of ObsDim=%d", len(obs), c.ObsDim)
	}
	b := len(obs) / c.ObsDim
	outs, err := a.actExec.Call(tensors.FromFlatDataAndDimensions(obs, b, c.ObsDim), rng.state)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q act: %w", c.Kind, err)
	}
	rng.state = outs[1]
	return tensors.MustCopyFlatData[float32](outs[0]), nil
}

// ActRNG is the random stream of Act calls.
type ActRNG struct{ state *tensors.Tensor }

// NewActRNG returns a stream seeded with seed.
func NewActRNG(seed int64) *ActRNG {
	t, err := RNGStateFromSeed(seed)
	if err != nil {
		panic(err) // only fails on a broken backend-independent shape constant
	}
	return &ActRNG{state: t}
}

func scalarOf(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	}
	return math.NaN()
}
