package mvp

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
)

// Agent is a generator with (optionally) a Q ensemble, acting by generate-and-select. Its
// parameters, optimizer state, target network and the random stream of updates live in Store, so a
// checkpoint of Store is the whole learning state.
type Agent struct {
	Spec    Spec
	Store   *model.Store
	Backend compute.Backend
	Gen     Generator

	mu          sync.Mutex
	updateExec  *model.Exec
	actExec     *model.Exec
	metricNames []string          // names of the update's outputs, known once its graph is built
	actMode     int               // how Act decides (SetDirectAct)
	direct      *actDirect        // the direct decision for the current parameters
	directCfg   deploy.Config     // the deployed policy's config (findDirectVarsLocked)
	directNames []string          // its weight names, sorted
	directVars  []*model.Variable // the variables holding them, in that order
}

// Scope names of the generator and the optimizers under the root scope.
const (
	ActorScope      = "actor"
	actorAdamScope  = "adam_actor"
	criticAdamScope = "adam_critic"
)

// NewAgent builds the agent spec describes, with freshly initialised parameters (target critic =
// online critic).
func NewAgent(backend compute.Backend, spec Spec) (*Agent, error) {
	a, err := newAgentShell(backend, spec)
	if err != nil {
		return nil, err
	}
	if err := a.Store.SetRNGStateFromSeed(spec.Seed); err != nil {
		return nil, fmt.Errorf("mvp: seeding agent: %w", err)
	}
	if err := a.initialize(); err != nil {
		return nil, err
	}
	// The optimizer state is created now rather than at the first update (same initial values), so
	// that a checkpoint of a fresh agent holds every variable the spec declares.
	if err := a.declareVariables(); err != nil {
		return nil, err
	}
	if err := a.Store.InitializeVariables(backend, nil); err != nil {
		return nil, fmt.Errorf("mvp: agent %q: initialising the optimizer state: %w", spec.Kind, err)
	}
	return a, nil
}

// declareVariables compiles, without running, the update graph, which declares every variable of
// the agent (generator, critic, target critic, optimizer state, RNG state) with its shape and
// allocates none of them. The compiled graph is the one the first Update runs.
func (a *Agent) declareVariables() error {
	c := a.Spec
	b, f := c.BatchSize, dtypes.Float32
	_, err := a.updateExec.Compile(shapes.Make(f, b, c.ObsDim), shapes.Make(f, b, c.ChunkDim()), shapes.Make(f, b),
		shapes.Make(f, b, c.ObsDim), shapes.Make(f, b), shapes.Make(f, b, c.Horizon))
	if err != nil {
		return fmt.Errorf("mvp: agent %q: building the update graph: %w", c.Kind, err)
	}
	return nil
}

// newAgentShell builds everything but the variables (used by NewAgent and by checkpoint loading).
func newAgentShell(backend compute.Backend, cfg Spec) (*Agent, error) {
	gen, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	a := &Agent{Spec: cfg, Store: model.NewStore(), Backend: backend, Gen: gen}
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
	c := a.Spec
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

// SelectBestOfN builds generate-and-select with policy.Act, the action graph the exported policy
// runs too: for states s [B, obsDim] and noise eps [B·N, chunkDim] (row b·N+i belongs to state b),
// it samples N clipped candidates per state in one batched generator call, scores them with the
// mean of the online critic ensemble and returns the argmax candidate per state [B, chunkDim].
// Without a critic (or N = 1) it returns the first candidate. The result carries no gradient.
func (a *Agent) SelectBestOfN(scope *model.Scope, s, eps *Node) *Node {
	c := a.Spec
	sample := func(s, eps *Node) *Node { return a.Gen.Sample(scope.At(ActorScope), s, eps) }
	var score policy.Score
	if c.UseCritic {
		score = func(s, act *Node) *Node { return c.Critic.QMean(scope.At(CriticScope), s, act) }
	}
	return StopGradient(policy.Act(sample, score, s, eps, c.ActionLow, c.ActionHigh))
}

// reselectTarget is the policy target of PolicyTargetBestOfN: per batch state, the best of N fresh
// clipped candidates and the batch action act [B, chunkDim] under the online critic's mean, without
// gradient.
func (a *Agent) reselectTarget(scope *model.Scope, s, act *Node) *Node {
	c := a.Spec
	b, n := s.Shape().Dim(0), c.Candidates
	eps := xla.StoreNormal(a.Store, s.Graph(), shapes.Make(s.DType(), b*n, c.ChunkDim()))
	sRep := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n, c.ObsDim), b*n, c.ObsDim)
	cand := ClipScalar(a.Gen.Sample(scope.At(ActorScope), sRep, eps), c.ActionLow, c.ActionHigh)
	all := Concatenate([]*Node{Reshape(StopGradient(cand), b, n, -1), InsertAxes(act, 1)}, 1) // [B, N+1, D]
	sAll := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n+1, c.ObsDim), b*(n+1), c.ObsDim)
	q := Reshape(c.Critic.QMean(scope.At(CriticScope), sAll, Reshape(all, b*(n+1), -1)), b, n+1)
	return StopGradient(policy.SelectArgmax(q, all))
}

// actGraph maps states [B, obsDim] and an RNG state to chunks [B, chunkDim] and the advanced RNG
// state. The RNG state is an input so acting never disturbs the update's random stream and
// evaluation is reproducible on its own.
func (a *Agent) actGraph(scope *model.Scope, s, rng *Node) (*Node, *Node) {
	c := a.Spec
	b := s.Shape().Dim(0)
	rng, eps := xla.Normal(rng, shapes.Make(s.DType(), b*c.Candidates, c.ChunkDim()))
	return a.SelectBestOfN(scope, s, eps), rng
}

// updateGraph is one whole training step, compiled once: generator loss and Adam step on the actor;
// TD target with a* from generate-and-select at s_{k+h}, critic loss, Adam step and Polyak update.
// Its one output is the vector of scalar metrics named in a.metricNames, so that an update reads
// everything back in a single device→host transfer (one synchronisation per update on a GPU).
func (a *Agent) updateGraph(scope *model.Scope, in []*Node) []*Node {
	c := a.Spec
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
		eps := xla.StoreNormal(a.Store, g, shapes.Make(s.DType(), b*c.Candidates, c.ChunkDim()))
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
	for i, x := range outs {
		outs[i] = ConvertDType(Reshape(x), dtypes.Float32)
	}
	return []*Node{Stack(outs, 0)}
}

// Update runs one training step on batch and returns its metrics. The graph is compiled on the
// first call and reused. A non-finite metric is returned as an error wrapping ErrDiverged; the
// parameters have then already taken the bad step, so callers restore the last checkpoint.
func (a *Agent) Update(batch *datasets.Batch) (map[string]float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.Spec
	if err := checkBatchFor(batch, c); err != nil {
		return nil, err
	}
	bs := batch.Size
	ins := []any{
		tensors.FromFlatDataAndDimensions(batch.Observations, bs, c.ObsDim),
		tensors.FromFlatDataAndDimensions(batch.Actions, bs, c.ChunkDim()),
		tensors.FromFlatDataAndDimensions(batch.Rewards, bs),
		tensors.FromFlatDataAndDimensions(batch.NextObservations, bs, c.ObsDim),
		tensors.FromFlatDataAndDimensions(batch.Masks, bs),
		tensors.FromFlatDataAndDimensions(batch.Valid, bs, c.Horizon),
	}
	outs, err := a.updateExec.Call(ins...)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q update: %w", c.Kind, err)
	}
	vals, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q update: reading metrics: %w", c.Kind, err)
	}
	m := make(map[string]float64, len(vals))
	var bad []string
	for i, v32 := range vals {
		v := float64(v32)
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

// checkBatchFor reports a batch whose arrays do not have the sizes of spec c.
func checkBatchFor(b *datasets.Batch, c Spec) error {
	n := b.Size
	for _, f := range []struct {
		name      string
		got, want int
	}{
		{"Observations", len(b.Observations), n * c.ObsDim}, {"Actions", len(b.Actions), n * c.ChunkDim()},
		{"Rewards", len(b.Rewards), n}, {"NextObservations", len(b.NextObservations), n * c.ObsDim},
		{"Masks", len(b.Masks), n}, {"Valid", len(b.Valid), n * c.Horizon},
	} {
		if f.got != f.want {
			return fmt.Errorf("mvp: batch field %s has %d values, want %d (batch %d, obs %d, chunk %d, h %d)",
				f.name, f.got, f.want, n, c.ObsDim, c.ChunkDim(), c.Horizon)
		}
	}
	return nil
}

// Act returns one action chunk per state for obs (B × ObsDim, flat), by generate-and-select with
// noise drawn from rng, which it advances. Use a NewActRNG per independent stream. See SetDirectAct
// for how the decision is computed.
func (a *Agent) Act(obs []float32, rng *ActRNG) ([]float32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.Spec
	if len(obs)%c.ObsDim != 0 || len(obs) == 0 {
		return nil, fmt.Errorf("mvp: Act got %d observation values, not a positive multiple of ObsDim=%d", len(obs), c.ObsDim)
	}
	b := len(obs) / c.ObsDim
	d, err := a.directDecisionLocked()
	if err != nil {
		return nil, err
	}
	if d != nil {
		saved := rng.state
		eps, err := rng.Normal(b * c.Candidates * c.ChunkDim())
		if err != nil {
			return nil, fmt.Errorf("mvp: agent %q act: %w", c.Kind, err)
		}
		chunks, err := d.Act(obs, eps)
		if err != nil {
			rng.state = saved // a refused decision draws nothing
			return nil, fmt.Errorf("mvp: agent %q act: %w", c.Kind, err)
		}
		return chunks, nil
	}
	outs, err := a.actExec.Call(tensors.FromFlatDataAndDimensions(obs, b, c.ObsDim), rng.state)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q act: %w", c.Kind, err)
	}
	rng.state = outs[1]
	return tensors.MustCopyFlatData[float32](outs[0]), nil
}

// ActRNG is the random stream of Act calls. Its state is the graph's RNG state (graph.RNGStateShape):
// a decision on the graph draws its noise with XLA's bit generator, a direct one with Normal.
type ActRNG struct{ state *tensors.Tensor }

// Normal draws n standard normal values on the host and advances the stream: the noise of a
// decision Act computes directly (row b·N+i, of h·ActDim values, is candidate i of state b), and a
// seeded noise source for deploy.Policy.Act. The state's words seed a PCG generator, which draws
// the values and then the next state, so the stream is deterministic and survives MarshalBinary.
// It is not the graph's generator: the same state gives other values than a graph decision draws.
func (r *ActRNG) Normal(n int) ([]float32, error) {
	var w [3]uint64
	if err := r.state.ConstBytes(func(b []byte) {
		for i := range w {
			w[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}); err != nil {
		return nil, fmt.Errorf("mvp: action RNG state: %w", err)
	}
	g := rand.New(rand.NewPCG(w[0], w[1]^w[2]))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(g.NormFloat64())
	}
	next := tensors.FromShape(RNGStateShape)
	if err := next.MutableBytes(func(b []byte) {
		for i := range w {
			binary.LittleEndian.PutUint64(b[8*i:], g.Uint64())
		}
	}); err != nil {
		return nil, fmt.Errorf("mvp: action RNG state: %w", err)
	}
	r.state = next
	return out, nil
}

// NewActRNG returns a stream seeded with seed.
func NewActRNG(seed int64) *ActRNG {
	t, err := RNGStateFromSeed(seed)
	if err != nil {
		panic(err) // only fails on a broken backend-independent shape constant
	}
	return &ActRNG{state: t}
}
