package jvp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
)

// The MVP-sized mean-velocity network u_θ(a, t, r, s): 4×512 Dense → GELU → LayerNorm on the
// concatenated inputs, then a linear head, batch 256, float32.
const (
	mlpBatch  = 256
	mlpAct    = 8
	mlpObs    = 32
	mlpWidth  = 512
	mlpLayers = 4
)

// mlpParams are the network's weights; they are fed as graph inputs after the 4 data inputs.
func mlpParams(rng *rand.Rand) []*tensors.Tensor {
	var ps []*tensors.Tensor
	in := mlpAct + 2 + mlpObs
	for range mlpLayers {
		ps = append(ps, randFloat32(rng, []int{in, mlpWidth}, 1/math.Sqrt(float64(in))),
			randFloat32(rng, []int{mlpWidth}, 0.1), // bias
			randFloat32Around1(rng, mlpWidth),      // gamma
			randFloat32(rng, []int{mlpWidth}, 0.1)) // beta
		in = mlpWidth
	}
	return append(ps, randFloat32(rng, []int{in, mlpAct}, 1/math.Sqrt(float64(in))), randFloat32(rng, []int{mlpAct}, 0.1))
}

func mlpInputs(rng *rand.Rand) []*tensors.Tensor {
	return []*tensors.Tensor{
		randFloat32(rng, []int{mlpBatch, mlpAct}, 1),
		randFloat32Uniform01(rng, mlpBatch),
		randFloat32Uniform01(rng, mlpBatch),
		randFloat32(rng, []int{mlpBatch, mlpObs}, 1),
	}
}

// mlp is u_θ(a, t, r, s) with θ = params.
func mlp(a, t, r, s *Node, params []*Node) *Node {
	x := Concatenate([]*Node{a, t, r, s}, -1)
	for l := range mlpLayers {
		w, b, gamma, beta := params[4*l], params[4*l+1], params[4*l+2], params[4*l+3]
		x = nn.Dense(x, w, b, compute.DenseLayoutInputOutputs)
		x = activation.Gelu(x)
		x = nn.LayerNorm(x, []int{-1}, 1e-5, gamma, beta, nil)
	}
	return nn.Dense(x, params[4*mlpLayers], params[4*mlpLayers+1], compute.DenseLayoutInputOutputs)
}

// mlpJVP returns u and du/dt = ∂_a u·v + ∂_t u, i.e. tangents (v, 1, 0, 0).
func mlpJVP(in []*Node) (u, dudt *Node, err error) {
	a, t, r, s, v, params := in[0], in[1], in[2], in[3], in[4], in[5:]
	outs, touts, err := JVP(func(p []*Node) []*Node { return []*Node{mlp(p[0], p[1], p[2], p[3], params)} },
		[]*Node{a, t, r, s}, []*Node{v, OnesLike(t), nil, nil})
	if err != nil {
		return nil, nil, err
	}
	return outs[0], touts[0], nil
}

// mlpDoubleVJP is the reference du/dt by reverse mode twice.
func mlpDoubleVJP(in []*Node) (u, dudt *Node) {
	a, t, r, s, v, params := in[0], in[1], in[2], in[3], in[4], in[5:]
	u = mlp(a, t, r, s, params)
	fn := func(x []*Node) *Node { return mlp(x[0], x[1], x[2], x[3], params) }
	dudt = doubleVJP(fn, []*Node{a, t, r, s}, []*Node{v, OnesLike(t), ZerosLike(r), ZerosLike(s)}, ZerosLike(u))
	return u, dudt
}

func TestMVPNetworkAgainstDoubleVJP(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(11, 12))
	args := append(mlpInputs(rng), randFloat32(rng, []int{mlpBatch, mlpAct}, 1))
	args = append(args, mlpParams(rng)...)
	var fusedTypes []NodeType
	got := call(t, backend, func(in []*Node) []*Node {
		u, dudt, err := mlpJVP(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range u.Graph().Nodes() {
			switch n.Type() {
			case NodeTypeFusedDense, NodeTypeFusedGelu, NodeTypeFusedLayerNorm:
				fusedTypes = append(fusedTypes, n.Type())
			}
		}
		return []*Node{u, dudt}
	}, args...)
	if len(fusedTypes) == 0 {
		t.Error("the network was built without fused ops: the fused rules were not exercised")
	}
	want := call(t, backend, func(in []*Node) []*Node {
		u, dudt := mlpDoubleVJP(in)
		return []*Node{u, dudt}
	}, args...)
	if got[1].DType() != dtypes.Float32 {
		t.Fatalf("tangent dtype %s, want float32", got[1].DType())
	}
	if e := relErr(flat64(t, got[0]), flat64(t, want[0]), 1e-6); e > 1e-6 {
		t.Errorf("primal u differs from the plain forward pass: relative error %.3g", e)
	}
	e := relErr(flat64(t, got[1]), flat64(t, want[1]), 1e-6)
	t.Logf("du/dt: forward mode vs double-VJP, relative error %.3g (float32)", e)
	if e > 1e-4 {
		t.Errorf("du/dt: forward mode vs double-VJP relative error %.3g > 1e-4", e)
	}
}

func randFloat32(rng *rand.Rand, dims []int, scale float64) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(scale * rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func randFloat32Around1(rng *rand.Rand, n int) *tensors.Tensor {
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(1 + 0.1*rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, n)
}

func randFloat32Uniform01(rng *rand.Rand, batch int) *tensors.Tensor {
	data := make([]float32, batch)
	for i := range data {
		data[i] = rng.Float32()
	}
	return tensors.FromFlatDataAndDimensions(data, batch, 1)
}

var _ = fmt.Sprint
