package mvp

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomvp/gomvp/mvp/policy"
)

// Spec is everything that defines an agent, short of its weights: the generator and every field
// of it, the critic, the chunk length h, the number N of candidates, the optimizer and the action
// box. It marshals to JSON; a checkpoint stores it, and eval, export and deploy rebuild exactly
// the agent that was trained from it. Start from DefaultSpec (the kind table) and change fields.
type Spec struct {
	// Kind names the row of the kind table the spec started from ("mvp", "qc", …).
	Kind string `json:"kind"`
	// ObsDim and ActDim are the observation size and the per-step action size.
	ObsDim int `json:"obs_dim"`
	ActDim int `json:"act_dim"`
	// Horizon h is the chunk length. The generator works on h·ActDim actions.
	Horizon int `json:"horizon"`
	// Candidates N of best-of-N selection.
	Candidates int `json:"candidates"`
	// Generator is the generative model of action chunks.
	Generator GeneratorSpec `json:"generator"`
	// UseCritic false trains the generator alone (BC); Critic configures the Q ensemble.
	UseCritic bool         `json:"use_critic"`
	Critic    CriticConfig `json:"critic"`
	// LearningRate of Adam for both actor and critic, and BatchSize of an update.
	LearningRate float64 `json:"learning_rate"`
	BatchSize    int     `json:"batch_size"`
	// ActionLow and ActionHigh bound every action coordinate; samples are clipped.
	ActionLow  float64 `json:"action_low"`
	ActionHigh float64 `json:"action_high"`
	// Seed initialises parameters and the in-graph random stream of updates.
	Seed int64 `json:"seed"`
	// PolicyTarget is what the generator imitates: PolicyTargetBatch ("" or "batch", the default
	// and QC's choice: the batch's actions, which online are the executed a*) or
	// PolicyTargetBestOfN (a* re-selected by the critic at the batch states among N fresh
	// candidates and the batch action: the paper's "target action for policy training" read
	// literally). Agents without a critic imitate the batch.
	PolicyTarget string `json:"policy_target,omitempty"`
}

// Policy targets (Spec.PolicyTarget).
const (
	PolicyTargetBatch   = "batch"
	PolicyTargetBestOfN = "best-of-n"
)

// GeneratorSpec is a generator: its sampler (policy.Sampler: type, steps k, time input, time
// features), its network and, for mean flow, its loss. The defaults are those of NewConfig
// (MVP), NewFlowConfig (flow) and NewMLPConfig.
type GeneratorSpec struct {
	policy.Sampler
	// Hidden widths, activation and LayerNorm of the generator's MLP.
	Hidden           []int   `json:"hidden"`
	Activation       string  `json:"activation"`
	LayerNorm        bool    `json:"layer_norm"`
	LayerNormEpsilon float64 `json:"layer_norm_epsilon"`
	// Init is the weight initialiser (MLPConfig.Init; "" is GoMLX's He default).
	Init string `json:"init,omitempty"`
	// Lambda weighs L_IVC in L_MF + λ·L_IVC (mean flow).
	Lambda float64 `json:"lambda"`
	// TimeSampling of (t, r) ("uniform-sorted" or "logit-normal" with LogitNormalMu/Sigma), and
	// the fraction of pairs forced to r = t (mean flow).
	TimeSampling     string  `json:"time_sampling,omitempty"`
	LogitNormalMu    float64 `json:"logit_normal_mu"`
	LogitNormalSigma float64 `json:"logit_normal_sigma"`
	DiagonalFraction float64 `json:"diagonal_fraction"`
	// AdaptiveWeight enables MeanFlow's 1/(‖err‖² + c)^p weight (mean flow).
	AdaptiveWeight  bool    `json:"adaptive_weight"`
	AdaptiveWeightC float64 `json:"adaptive_weight_c"`
	AdaptiveWeightP float64 `json:"adaptive_weight_p"`
	// FQL holds the settings of the FQL generator (agent_fql.go); zero and omitted for the others.
	FQL FQLSpec `json:"fql,omitzero"`
}

// Agent kinds of the kind table (method.md §3–4).
const (
	KindMVP        = "mvp"         // MVP one-step generator, best-of-N with the critic
	KindMVPLambda0 = "mvp-lambda0" // MVP without the IVC term (λ = 0)
	KindQC         = "qc"          // flow matching, K = 10 Euler steps, chunk h = 5, N = 32
	KindQCK1       = "qc-k1"       // QC sampled with one Euler step
	KindBFN        = "bfn"         // flow matching, K = 10, no chunking (h = 1), N = 4
	KindBFNK1      = "bfn-k1"      // BFN sampled with one Euler step
	KindBC         = "bc"          // deterministic behaviour cloning of chunks by regression; no critic
)

// KindEntry is one row of the kind table.
type KindEntry struct {
	Kind string
	// Doc is a one-line description, shown by the CLI.
	Doc string
	// Defaults returns the kind's spec with ObsDim and ActDim left zero.
	Defaults func() Spec
}

// kindTable is the one place the defaults of every agent kind live: the CLI's flags, notebooks,
// sweeps and tests start from it. Adding a kind is adding a row (RegisterKind) and, for a new
// generator, its generator file (RegisterGenerator).
var kindTable = []KindEntry{
	{KindMVP, "MVP one-step generator (λ = 1), best-of-N with the critic", func() Spec {
		return baseSpec(KindMVP, mvpGeneratorSpec(NewConfig()))
	}},
	{KindQC, "flow matching, K = 10 Euler steps, h = 5, N = 32", func() Spec {
		return baseSpec(KindQC, flowGeneratorSpec(NewFlowConfig()))
	}},
	{KindBFN, "flow matching, K = 10, no chunking (h = 1), N = 4", func() Spec {
		s := baseSpec(KindBFN, flowGeneratorSpec(NewFlowConfig()))
		s.Horizon, s.Candidates = 1, 4
		return s
	}},
	{KindQCK1, "QC sampled with one Euler step", func() Spec {
		return baseSpec(KindQCK1, flowGeneratorSpec(NewFlowConfig().WithSteps(1)))
	}},
	{KindBFNK1, "BFN sampled with one Euler step", func() Spec {
		s := baseSpec(KindBFNK1, flowGeneratorSpec(NewFlowConfig().WithSteps(1)))
		s.Horizon, s.Candidates = 1, 4
		return s
	}},
	{KindMVPLambda0, "MVP without the IVC term (λ = 0)", func() Spec {
		return baseSpec(KindMVPLambda0, mvpGeneratorSpec(NewConfig().WithLambda(0)))
	}},
	{KindBC, "deterministic behaviour cloning of chunks by regression; no critic, N = 1", func() Spec {
		s := baseSpec(KindBC, bcGeneratorSpec(NewMLPConfig()))
		s.Candidates, s.UseCritic = 1, false
		return s
	}},
}

// baseSpec is what every kind shares (method.md §3): h = 5, N = 32, a 4×512 critic ensemble of 2,
// Adam 3e-4, batch 256, actions in [−1, 1].
func baseSpec(kind string, gen GeneratorSpec) Spec {
	return Spec{
		Kind: kind, Horizon: 5, Candidates: 32, Generator: gen,
		UseCritic: true, Critic: DefaultCriticConfig(),
		LearningRate: 3e-4, BatchSize: 256, ActionLow: -1, ActionHigh: 1,
	}
}

// Kinds lists every agent kind, in the order results are reported.
var Kinds = kindNames()

func kindNames() []string {
	out := make([]string, len(kindTable))
	for i, e := range kindTable {
		out[i] = e.Kind
	}
	return out
}

// KindTable returns the rows of the kind table, in the order of Kinds.
func KindTable() []KindEntry { return slices.Clone(kindTable) }

// RegisterKind adds a row to the kind table (call it from an init function). A kind registered
// twice is an error.
func RegisterKind(e KindEntry) error {
	if _, err := lookupKind(e.Kind); err == nil {
		return fmt.Errorf("mvp: agent kind %q is already registered", e.Kind)
	}
	kindTable = append(kindTable, e)
	Kinds = append(Kinds, e.Kind)
	return nil
}

func lookupKind(kind string) (KindEntry, error) {
	for _, e := range kindTable {
		if e.Kind == kind {
			return e, nil
		}
	}
	return KindEntry{}, fmt.Errorf("mvp: unknown agent kind %q (kinds: %s)", kind, strings.Join(Kinds, ", "))
}

// DefaultSpec returns the kind's spec from the kind table for the given dimensions.
func DefaultSpec(kind string, obsDim, actDim int) (Spec, error) {
	e, err := lookupKind(kind)
	if err != nil {
		return Spec{}, err
	}
	s := e.Defaults()
	s.ObsDim, s.ActDim = obsDim, actDim
	return s, nil
}

// ChunkDim is the size of one (flattened) action chunk, h·ActDim.
func (s Spec) ChunkDim() int { return s.Horizon * s.ActDim }

// Validate reports the first inconsistent field.
func (s Spec) Validate() error {
	switch {
	case s.ObsDim <= 0 || s.ActDim <= 0:
		return fmt.Errorf("mvp: agent %q: obs_dim=%d and act_dim=%d must be positive", s.Kind, s.ObsDim, s.ActDim)
	case s.Horizon <= 0:
		return fmt.Errorf("mvp: agent %q: horizon=%d must be positive", s.Kind, s.Horizon)
	case s.Candidates <= 0:
		return fmt.Errorf("mvp: agent %q: candidates=%d must be positive", s.Kind, s.Candidates)
	case s.BatchSize <= 0:
		return fmt.Errorf("mvp: agent %q: batch_size=%d must be positive", s.Kind, s.BatchSize)
	case !(s.LearningRate > 0):
		return fmt.Errorf("mvp: agent %q: learning_rate=%g must be positive", s.Kind, s.LearningRate)
	case s.UseCritic && s.Critic.Ensemble <= 0:
		return fmt.Errorf("mvp: agent %q: critic ensemble=%d must be positive", s.Kind, s.Critic.Ensemble)
	case !(s.ActionLow < s.ActionHigh):
		return fmt.Errorf("mvp: agent %q: action_low=%g must be below action_high=%g", s.Kind, s.ActionLow, s.ActionHigh)
	case s.Generator.Lambda < 0:
		return fmt.Errorf("mvp: agent %q: generator lambda=%g must be ≥ 0", s.Kind, s.Generator.Lambda)
	case s.PolicyTarget != "" && s.PolicyTarget != PolicyTargetBatch && s.PolicyTarget != PolicyTargetBestOfN:
		return fmt.Errorf("mvp: agent %q: policy_target %q is not %q or %q", s.Kind, s.PolicyTarget, PolicyTargetBatch, PolicyTargetBestOfN)
	}
	for name, init := range map[string]string{"generator.init": s.Generator.Init, "critic.init": s.Critic.Init} {
		if init != "" && init != InitHe && init != InitGlorotUniform {
			return fmt.Errorf("mvp: agent %q: %s %q is not %q or %q", s.Kind, name, init, InitHe, InitGlorotUniform)
		}
	}
	// Bounds far above any real agent, so that a crafted spec cannot make the graph absurd.
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{
		{"obs_dim", s.ObsDim, 1 << 24}, {"act_dim", s.ActDim, 1 << 16}, {"horizon", s.Horizon, 1 << 12},
		{"candidates", s.Candidates, 1 << 16}, {"batch_size", s.BatchSize, 1 << 24},
		{"critic.ensemble", s.Critic.Ensemble, 1 << 10}, {"generator.steps", s.Generator.Steps, 1 << 12},
		{"generator.fourier_frequencies", s.Generator.FourierFrequencies, 64},
		{"generator.hidden layers", len(s.Generator.Hidden), 1 << 8}, {"critic.hidden layers", len(s.Critic.Hidden), 1 << 8},
	} {
		if f.v > f.max {
			return fmt.Errorf("mvp: agent %q: %s=%d is above %d", s.Kind, f.name, f.v, f.max)
		}
	}
	for _, w := range append(slices.Clone(s.Generator.Hidden), s.Critic.Hidden...) {
		if w <= 0 || w > 1<<16 {
			return fmt.Errorf("mvp: agent %q: hidden width %d must be in [1, %d]", s.Kind, w, 1<<16)
		}
	}
	switch s.Generator.Type {
	case policy.MeanFlow, policy.Flow, policy.Regression:
		if err := s.Generator.Sampler.Validate(); err != nil {
			return fmt.Errorf("mvp: agent %q: generator.%w", s.Kind, err)
		}
	}
	if _, ok := generatorBuilders[s.Generator.Type]; !ok {
		return fmt.Errorf("mvp: agent %q: generator.type %q is not one of %v", s.Kind, s.Generator.Type, GeneratorTypes())
	}
	return nil
}

// generatorBuilders maps a generator type to the function that builds it from a spec.
var generatorBuilders = map[string]func(Spec) (Generator, error){
	policy.MeanFlow:   func(s Spec) (Generator, error) { return mvpFromSpec(s) },
	policy.Flow:       func(s Spec) (Generator, error) { return flowFromSpec(s) },
	policy.Regression: func(s Spec) (Generator, error) { return bcFromSpec(s) },
}

// RegisterGenerator makes a new generator type buildable from a spec (call it from an init
// function next to the generator's code).
func RegisterGenerator(typ string, build func(Spec) (Generator, error)) error {
	if _, dup := generatorBuilders[typ]; dup {
		return fmt.Errorf("mvp: generator type %q is already registered", typ)
	}
	generatorBuilders[typ] = build
	return nil
}

// GeneratorTypes lists the registered generator types.
func GeneratorTypes() []string {
	out := make([]string, 0, len(generatorBuilders))
	for k := range generatorBuilders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewGenerator builds the generator the spec describes.
func NewGenerator(s Spec) (Generator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	g, err := generatorBuilders[s.Generator.Type](s)
	if err != nil {
		return nil, fmt.Errorf("mvp: agent %q: generator: %w", s.Kind, err)
	}
	return g, nil
}

// mlp is the generator's MLP.
func (g GeneratorSpec) mlp() (*MLPConfig, error) {
	act, err := activation.TypeString(g.Activation)
	if err != nil {
		return nil, fmt.Errorf("generator activation %q is not supported", g.Activation)
	}
	m := NewMLPConfig().WithWidths(g.Hidden...).WithActivation(act).WithLayerNorm(g.LayerNorm).WithInit(g.Init)
	m.LayerNormEpsilon = g.LayerNormEpsilon
	return m, m.Validate()
}

// network is the generator's velocity network.
func (g GeneratorSpec) network() (*NetworkConfig, error) {
	m, err := g.mlp()
	if err != nil {
		return nil, err
	}
	net := NewNetworkConfig().WithMLP(m)
	if net.TimeInput, err = ParseTimeInput(g.TimeInput); err != nil {
		return nil, err
	}
	if net.TimeFeatures, err = ParseTimeFeatures(g.TimeFeatures); err != nil {
		return nil, err
	}
	if net.TimeFeatures == TimeFourier {
		net.FourierFrequencies = g.FourierFrequencies
	}
	return net, net.Validate()
}

// mlpSpec fills the network fields of a generator spec from m.
func mlpSpec(g *GeneratorSpec, m *MLPConfig) {
	g.Hidden = slices.Clone(m.Widths)
	g.Activation = strings.ToLower(m.Activation.String())
	g.LayerNorm, g.LayerNormEpsilon = m.LayerNorm, m.LayerNormEpsilon
}

// SpecDiff lists, as "field: stored → given", every field where b differs from a (JSON field
// paths, e.g. "generator.hidden" or "learning_rate"). Empty when the specs are equal.
func SpecDiff(a, b Spec) []string { return jsonDiff(a, b) }

// jsonDiff lists the fields ("path: a → b") where the JSON encodings of a and b differ, sorted.
func jsonDiff(a, b any) []string {
	var ma, mb map[string]any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	var out []string
	diffJSON("", ma, mb, &out)
	sort.Strings(out)
	return out
}

func diffJSON(prefix string, a, b map[string]any, out *[]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		va, vb := a[k], b[k]
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		sa, okA := va.(map[string]any)
		sb, okB := vb.(map[string]any)
		if okA && okB {
			diffJSON(name, sa, sb, out)
			continue
		}
		if !reflect.DeepEqual(va, vb) {
			*out = append(*out, fmt.Sprintf("%s: %s → %s", name, jsonValue(va), jsonValue(vb)))
		}
	}
}

func jsonValue(v any) string {
	if v == nil {
		return "unset"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
