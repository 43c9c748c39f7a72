package deploy

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
	. "github.com/gomlx/gomlx/support/exceptions" //nolint:staticcheck

	"github.com/gomvp/gomvp/mvp/policy"
)

// Weight names, relative to a network prefix ("actor", "critic/q0", …): hidden layer i has
// layer_<i>/weights [in, width], layer_<i>/biases [width] and, with LayerNorm,
// layer_<i>/norm_gain and layer_<i>/norm_offset [width]; the linear output layer has
// output/weights and output/biases.
const (
	ActorPrefix  = "actor"
	CriticPrefix = "critic"
)

// layerPrefix and outputPrefix name the weights of a network's hidden layer i and of its output
// layer, under the network's prefix.
func layerPrefix(network string, i int) string { return fmt.Sprintf("%s/layer_%d/", network, i) }
func outputPrefix(network string) string       { return network + "/output/" }

// CriticMemberPrefix is the weight prefix of ensemble member i.
func CriticMemberPrefix(i int) string { return fmt.Sprintf("%s/q%d", CriticPrefix, i) }

// WeightShapes lists every tensor the policy needs, with its shape: the checkpoint must hold
// exactly these.
func (c *Config) WeightShapes() map[string][]int {
	w := map[string][]int{}
	chunk := c.ChunkDim()
	in := chunk + c.timeFeatureDim() + c.ObsDim
	if c.Generator.Type == GenRegression {
		in = c.ObsDim
	}
	mlpShapes(w, ActorPrefix, &c.Generator.Net, in, chunk)
	if c.Critic != nil {
		for i := range c.Critic.Ensemble {
			mlpShapes(w, CriticMemberPrefix(i), &c.Critic.Net, c.ObsDim+chunk, 1)
		}
	}
	return w
}

func mlpShapes(w map[string][]int, prefix string, m *MLPConfig, in, out int) {
	for i, width := range m.Widths {
		p := layerPrefix(prefix, i)
		w[p+"weights"] = []int{in, width}
		w[p+"biases"] = []int{width}
		if m.LayerNorm {
			w[p+"norm_gain"] = []int{width}
			w[p+"norm_offset"] = []int{width}
		}
		in = width
	}
	w[outputPrefix(prefix)+"weights"] = []int{in, out}
	w[outputPrefix(prefix)+"biases"] = []int{out}
}

// timeFeatureDim is the number of time features the generator's trunk sees.
func (c *Config) timeFeatureDim() int { return c.Generator.Sampler().TimeFeatureDim() }

// weightFn returns the graph node of a named weight.
type weightFn func(name string) *Node

// ActionGraph is the deployed action function: for observations obs [B, ObsDim] and noise
// [B, N, h·ActDim] (N = Candidates, ε ~ N(0, I)) it returns the selected chunks [B, h·ActDim]:
// a_i = clip(generate(ε_i, s)), a* = argmax_i mean_e Q_e(s, a_i).
func (c *Config) ActionGraph(w weightFn, obs, noise *Node) *Node {
	chunk, n := c.ChunkDim(), c.Candidates
	if obs.DType() != dtypes.Float32 || noise.DType() != dtypes.Float32 {
		Panicf("deploy: observation and noise must be float32, got %s and %s", obs.Shape(), noise.Shape())
	}
	if obs.Rank() != 2 || obs.Shape().Dim(1) != c.ObsDim {
		Panicf("deploy: observation must be [batch, %d], got %s", c.ObsDim, obs.Shape())
	}
	b := obs.Shape().Dim(0)
	if noise.Rank() != 3 || noise.Shape().Dim(0) != b || noise.Shape().Dim(1) != n || noise.Shape().Dim(2) != chunk {
		Panicf("deploy: noise must be [%d, %d, %d] (batch, candidates, chunk), got %s", b, n, chunk, noise.Shape())
	}
	g := obs.Graph()
	s := obs
	if nz := c.ObsNorm; nz != nil {
		s = Div(Sub(s, Const(g, [][]float32{nz.Shift})), Const(g, [][]float32{nz.Scale}))
	}
	sample := func(s, eps *Node) *Node {
		net := func(x *Node) *Node { return mlp(w, ActorPrefix, &c.Generator.Net, x) }
		return policy.Sample(c.Generator.Sampler(), net, s, eps)
	}
	var score policy.Score
	if c.Critic != nil {
		score = func(s, a *Node) *Node { return c.qMean(w, s, a) }
	}
	// The action graph training runs: row b·N+i of the noise is candidate i of state b.
	act := policy.Act(sample, score, s, Reshape(noise, b*n, chunk), c.ActionLow, c.ActionHigh)
	if nz := c.ActNorm; nz != nil {
		steps := Reshape(act, b, c.Horizon, c.ActDim)
		steps = Add(Mul(steps, Const(g, [][][]float32{{nz.Scale}})), Const(g, [][][]float32{{nz.Shift}}))
		act = Reshape(steps, b, chunk)
	}
	return act
}

// qMean is the ensemble mean of Q(s, a) [M].
func (c *Config) qMean(w weightFn, s, a *Node) *Node {
	x := Concatenate([]*Node{s, a}, -1)
	qs := make([]*Node, c.Critic.Ensemble)
	for i := range qs {
		qs[i] = Reshape(mlp(w, CriticMemberPrefix(i), &c.Critic.Net, x), 1, -1)
	}
	return ReduceMean(Concatenate(qs, 0), 0)
}

// mlp applies the network under prefix to x [M, in].
func mlp(w weightFn, prefix string, m *MLPConfig, x *Node) *Node {
	act, err := activationType(m.Activation)
	if err != nil {
		panic(err)
	}
	for i := range m.Widths {
		p := layerPrefix(prefix, i)
		// As layers.DenseWithBias, then the activation, then norm.LayerNorm (which reshapes its
		// parameters to broadcast over the batch axis).
		x = activation.Apply(act, nn.Dense(x, w(p+"weights"), w(p+"biases"), compute.DenseLayoutInputOutputs))
		if m.LayerNorm {
			gain, offset := Reshape(w(p+"norm_gain"), 1, -1), Reshape(w(p+"norm_offset"), 1, -1)
			x = nn.LayerNorm(x, []int{x.Rank() - 1}, m.LayerNormEpsilon, gain, offset, nil)
		}
	}
	return nn.Dense(x, w(outputPrefix(prefix)+"weights"), w(outputPrefix(prefix)+"biases"), compute.DenseLayoutInputOutputs)
}
