package deploy

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
	. "github.com/gomlx/gomlx/support/exceptions" //nolint:staticcheck
)

// Weight names, relative to a network prefix ("actor", "critic/q0", …): hidden layer i has
// layer_<i>/weights [in, width], layer_<i>/biases [width] and, with LayerNorm,
// layer_<i>/norm_gain and layer_<i>/norm_offset [width]; the linear output layer has
// output/weights and output/biases.
const (
	ActorPrefix  = "actor"
	CriticPrefix = "critic"
)

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
		p := fmt.Sprintf("%s/layer_%d/", prefix, i)
		w[p+"weights"] = []int{in, width}
		w[p+"biases"] = []int{width}
		if m.LayerNorm {
			w[p+"norm_gain"] = []int{width}
			w[p+"norm_offset"] = []int{width}
		}
		in = width
	}
	w[prefix+"/output/weights"] = []int{in, out}
	w[prefix+"/output/biases"] = []int{out}
}

// timeFeatureDim is the number of time features the generator's trunk sees.
func (c *Config) timeFeatureDim() int {
	g := &c.Generator
	per := 1
	if g.TimeFeatures == "fourier" {
		per = 2 * g.FourierFrequencies
	}
	switch g.Type {
	case GenMeanFlow:
		return 2 * per
	case GenFlow:
		return per
	}
	return 0
}

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
	// Row b·N+i holds candidate i of state b, as in training's generate-and-select.
	sRep := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n, c.ObsDim), b*n, c.ObsDim)
	eps := Reshape(noise, b*n, chunk)
	cand := ClipScalar(c.generate(w, sRep, eps), c.ActionLow, c.ActionHigh)
	var act *Node
	if c.Critic == nil || n == 1 {
		act = Reshape(Slice(Reshape(cand, b, n, -1), AxisRange(), AxisElem(0), AxisRange()), b, -1)
	} else {
		q := Reshape(c.qMean(w, sRep, cand), b, n)
		oneHot := OneHot(ArgMax(q, 1, dtypes.Int32), n, cand.DType()) // [B, N]
		act = ReduceSum(Mul(Reshape(cand, b, n, -1), InsertAxes(oneHot, -1)), 1)
	}
	if nz := c.ActNorm; nz != nil {
		steps := Reshape(act, b, c.Horizon, c.ActDim)
		steps = Add(Mul(steps, Const(g, [][][]float32{{nz.Scale}})), Const(g, [][][]float32{{nz.Shift}}))
		act = Reshape(steps, b, chunk)
	}
	return act
}

// generate maps noise eps [M, chunk] to (unclipped) actions given states s [M, ObsDim].
func (c *Config) generate(w weightFn, s, eps *Node) *Node {
	g := &c.Generator
	m := eps.Shape().Dim(0)
	timeCol := func(v float64) *Node {
		return BroadcastToShape(ConstAsDType(eps.Graph(), eps.DType(), v), shapes.Make(eps.DType(), m, 1))
	}
	net := func(a *Node, taus ...*Node) *Node {
		parts := []*Node{a}
		for _, tau := range taus {
			parts = append(parts, c.timeFeatures(tau))
		}
		parts = append(parts, s)
		return mlp(w, ActorPrefix, &g.Net, Concatenate(parts, -1))
	}
	switch g.Type {
	case GenRegression:
		return mlp(w, ActorPrefix, &g.Net, s)
	case GenFlow:
		a := eps
		dt := 1 / float64(g.Steps)
		for k := range g.Steps {
			v := net(a, timeCol(float64(k)*dt))
			a = Add(a, MulScalar(v, dt))
		}
		return a
	}
	// Mean flow: a ← a + (r − t)·u(a, t, r, s); one step is a = ε + u(ε, 0, 1, s).
	a := eps
	for k := range g.Steps {
		t := float64(k) / float64(g.Steps)
		r := float64(k+1) / float64(g.Steps)
		tau2 := timeCol(r)
		if g.TimeInput == "t,r-t" {
			tau2 = Sub(timeCol(r), timeCol(t))
		}
		a = Add(a, MulScalar(net(a, timeCol(t), tau2), r-t))
	}
	return a
}

// timeFeatures encodes τ [M, 1] as configured.
func (c *Config) timeFeatures(tau *Node) *Node {
	g := &c.Generator
	if g.TimeFeatures != "fourier" {
		return tau
	}
	freqs := make([]float64, g.FourierFrequencies)
	for k := range freqs {
		freqs[k] = 2 * math.Pi * math.Exp2(float64(k))
	}
	phase := Mul(tau, ConstAsDType(tau.Graph(), tau.DType(), [][]float64{freqs}))
	return Concatenate([]*Node{Sin(phase), Cos(phase)}, -1)
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
		p := fmt.Sprintf("%s/layer_%d/", prefix, i)
		// As layers.DenseWithBias, then the activation, then norm.LayerNorm (which reshapes its
		// parameters to broadcast over the batch axis).
		x = activation.Apply(act, nn.Dense(x, w(p+"weights"), w(p+"biases"), compute.DenseLayoutInputOutputs))
		if m.LayerNorm {
			gain, offset := Reshape(w(p+"norm_gain"), 1, -1), Reshape(w(p+"norm_offset"), 1, -1)
			x = nn.LayerNorm(x, []int{x.Rank() - 1}, m.LayerNormEpsilon, gain, offset, nil)
		}
	}
	return nn.Dense(x, w(prefix+"/output/weights"), w(prefix+"/output/biases"), compute.DenseLayoutInputOutputs)
}
