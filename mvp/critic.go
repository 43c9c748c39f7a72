package mvp

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// CriticConfig configures the Q ensemble of method.md §3. Build it with DefaultCriticConfig and
// change fields as needed.
type CriticConfig struct {
	// Hidden are the widths of the hidden layers (default 4×512).
	Hidden []int `json:"hidden"`
	// LayerNorm after each hidden activation (default true: the critic is the only LayerNorm user).
	LayerNorm bool `json:"layer_norm"`
	// Ensemble is the number of Q networks (default 2).
	Ensemble int `json:"ensemble"`
	// Gamma is the per-step discount γ (default 0.99); a chunk of h steps bootstraps with γ^h.
	Gamma float64 `json:"gamma"`
	// Tau is the Polyak rate of the target network, θ' ← (1 − τ)θ' + τθ (default 0.005).
	Tau float64 `json:"tau"`
	// Init is the weight initialiser (MLPConfig.Init; "" is GoMLX's He default).
	Init string `json:"init,omitempty"`
}

// DefaultCriticConfig returns the defaults of method.md §3.
func DefaultCriticConfig() CriticConfig {
	return CriticConfig{Hidden: []int{512, 512, 512, 512}, LayerNorm: true, Ensemble: 2, Gamma: 0.99, Tau: 0.005}
}

// Scope names of the online critic and its Polyak target, under the agent's root scope.
const (
	CriticScope = "critic"
	TargetScope = "critic_target"
)

// mlp is the shared MLP builder with the critic's widths and LayerNorm (GELU, as everywhere).
func (c CriticConfig) mlp() *MLPConfig {
	return NewMLPConfig().WithWidths(c.Hidden...).WithLayerNorm(c.LayerNorm).WithInit(c.Init)
}

// QEnsemble returns Q_i(s, a) for every member i of the ensemble under scope, shaped [E, B].
func (c CriticConfig) QEnsemble(scope *model.Scope, s, a *Node) *Node {
	x := Concatenate([]*Node{s, a}, -1)
	qs := make([]*Node, c.Ensemble)
	for i := range qs {
		q := c.mlp().Build(scope.At("q%d", i), x, 1) // [B, 1]
		qs[i] = Reshape(q, 1, -1)
	}
	return Concatenate(qs, 0)
}

// QMean is the mean over the ensemble, [B]: the score used by selection (online critic) and by the
// TD target (target critic).
func (c CriticConfig) QMean(scope *model.Scope, s, a *Node) *Node {
	return ReduceMean(c.QEnsemble(scope, s, a), 0)
}

// TDTarget is the chunked n-step target y = R + γ^h · mask · qNext of method.md §3, where
// R = Σ_{i<h} γ^i r_{k+i} is the chunk reward, mask is 0 when the episode ends inside the chunk, and
// qNext is mean_i Q'_i(s_{k+h}, a*_{k+h}). All arguments are [B]; the result carries no gradient.
func TDTarget(chunkReward, mask, qNext *Node, gamma float64, h int) *Node {
	gh := 1.0
	for range h {
		gh *= gamma
	}
	return StopGradient(Add(chunkReward, MulScalar(Mul(mask, qNext), gh)))
}

// CriticLoss is Σ_i mean_b w_b (Q_i(s_b, a_b) − y_b)² for q [E, B], y [B] and weights w [B]
// (valid flag of the chunk's last step; nil for all ones). Summing over members gives each Q
// network the same gradient it would get alone.
func CriticLoss(q, y, w *Node) *Node {
	err := Square(Sub(q, InsertAxes(y, 0))) // [E, B]
	if w != nil {
		err = Mul(err, InsertAxes(w, 0))
	}
	return ReduceSum(ReduceMean(err, 1), 0)
}

// PolyakUpdate sets every target variable to (1 − τ)·target + τ·online, using the online values as
// they stand in the graph g (i.e. after this update's optimizer step when called after it).
func PolyakUpdate(store *model.Store, g *Graph, tau float64) {
	for on, tg := range criticPairs(store) {
		t := tg.NodeValue(g)
		o := on.NodeValue(g)
		tg.SetNodeValue(Add(MulScalar(t, 1-tau), MulScalar(o, tau)))
	}
}

// CopyToTarget sets the target network equal to the online one (at initialisation).
func CopyToTarget(store *model.Store, g *Graph) {
	for on, tg := range criticPairs(store) {
		tg.SetNodeValue(on.NodeValue(g))
	}
}

// criticPairs maps each online critic variable to its target twin (creating the twin, untrainable,
// if the target network has not been built yet).
func criticPairs(store *model.Store) map[*model.Variable]*model.Variable {
	pairs := map[*model.Variable]*model.Variable{}
	// Only the member networks (…/q<i>/…): the optimizer keeps its counters under the critic scope too.
	prefix := "/" + CriticScope + "/"
	var online []*model.Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix+"q") {
			online = append(online, v)
		}
	}
	for _, v := range online {
		tpath := "/" + TargetScope + "/" + strings.TrimPrefix(v.Path(), prefix)
		tv := store.GetVariable(tpath)
		if tv == nil {
			tv = store.VariableWithShape(tpath, v.Shape(), initializer.Zero)
		}
		tv.SetTrainable(false)
		pairs[v] = tv
	}
	return pairs
}

// checkFloat32 panics (graph-building convention) when x is not float32.
func checkFloat32(what string, x *Node) {
	if x.DType() != dtypes.Float32 {
		panic(fmt.Sprintf("mvp: %s must be float32, got %s", what, x.Shape()))
	}
}
