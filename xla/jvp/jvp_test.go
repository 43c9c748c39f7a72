package jvp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
)

// smallNet is a composite function of (x, w1, b1, gamma, beta, w2): Dense → GELU → LayerNorm →
// Dense → Softmax·Tanh, using the fused ops gomlx emits.
func smallNet(in []*Node) *Node {
	x, w1, b1, gamma, beta, w2 := in[0], in[1], in[2], in[3], in[4], in[5]
	h := nn.Dense(x, w1, b1, compute.DenseLayoutInputOutputs)
	h = activation.Gelu(h)
	h = nn.LayerNorm(h, []int{-1}, 1e-5, gamma, beta, nil)
	y := nn.Dense(h, w2, nil, compute.DenseLayoutInputOutputs)
	return Add(Mul(Softmax(y, -1), Tanh(y)), MulScalar(ReduceAndKeep(y, ReduceMax, -1), 0.1))
}

var smallNetDims = [][]int{{4, 3}, {3, 6}, {6}, {6}, {6}, {6, 5}}

// smallNetOut is the shape of smallNet's output: ReduceMax(y, -1) broadcasts over [4, 5].
func randInputs(rng *rand.Rand, dims [][]int) (x, v []*tensors.Tensor) {
	for _, d := range dims {
		x = append(x, randTensor(rng, d, -1.5, 1.5))
		v = append(v, randTensor(rng, d, -1, 1))
	}
	return
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// ⟨J·v, w⟩ = ⟨v, Jᵀ·w⟩, with Jᵀ·w from graph.Gradient.
func TestAdjointIdentity(t *testing.T) {
	backend := testBackend(t)
	for _, fusion := range []string{"1", "0"} {
		t.Run("fusion="+fusion, func(t *testing.T) {
			t.Setenv(FusionEnv, fusion)
			rng := rand.New(rand.NewPCG(7, 7))
			x, v := randInputs(rng, smallNetDims)
			y, jv, _ := jvpNumeric(t, backend, smallNet, x, v)
			w := randTensor(rng, []int{4, 5}, -1, 1)
			if len(y) != 20 {
				t.Fatalf("unexpected output size %d", len(y))
			}
			n := len(x)
			out := call(t, backend, func(in []*Node) []*Node {
				return Gradient(ReduceAllSum(Mul(smallNet(in[:n]), in[n])), in[:n]...)
			}, append(append([]*tensors.Tensor{}, x...), w)...)
			lhs := dot(jv, flat64(t, w))
			var rhs float64
			for i := range out {
				rhs += dot(flat64(t, v[i]), flat64(t, out[i]))
			}
			if e := math.Abs(lhs-rhs) / math.Max(math.Abs(rhs), 1); e > 1e-10 {
				t.Errorf("⟨Jv, w⟩ = %.15g, ⟨v, Jᵀw⟩ = %.15g: relative error %.3g", lhs, rhs, e)
			}
		})
	}
}

// The tangent is an ordinary node: the gradient of a loss on it w.r.t. the weights matches central
// differences of that loss.
func TestTangentsAreDifferentiable(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(3, 9))
	x, v := randInputs(rng, smallNetDims)
	c := randTensor(rng, []int{4, 5}, -1, 1)
	// loss(w1) = ⟨∂_x smallNet · v_x, c⟩ + ⟨smallNet, c⟩: tangent and primal paths both carry gradient.
	loss := func(in []*Node) *Node {
		// in: x..., vx, c
		n := len(smallNetDims)
		tangents := make([]*Node, n)
		tangents[0] = in[n]
		outs, touts, err := JVP(func(p []*Node) []*Node { return []*Node{smallNet(p)} }, in[:n], tangents)
		if err != nil {
			panic(err)
		}
		return ReduceAllSum(Mul(Add(touts[0], outs[0]), in[n+1]))
	}
	args := append(append([]*tensors.Tensor{}, x...), v[0], c)
	grads := call(t, backend, func(in []*Node) []*Node {
		return Gradient(loss(in), in[1], in[5]) // w1 and w2.
	}, args...)
	for gi, wi := range []int{1, 5} {
		dir := v[wi]
		h := 1e-5
		shifted := func(sign float64) float64 {
			a := append([]*tensors.Tensor{}, args...)
			w, d := flat64(t, x[wi]), flat64(t, dir)
			for j := range w {
				w[j] += sign * h * d[j]
			}
			a[wi] = tensors.FromFlatDataAndDimensions(w, x[wi].Shape().Dimensions...)
			return flat64(t, call(t, backend, func(in []*Node) []*Node { return []*Node{loss(in)} }, a...)[0])[0]
		}
		fd := (shifted(1) - shifted(-1)) / (2 * h)
		got := dot(flat64(t, grads[gi]), flat64(t, dir))
		if e := math.Abs(got-fd) / math.Max(math.Abs(fd), 1e-3); e > 1e-6 {
			t.Errorf("input %d: ⟨∇loss, d⟩ = %.12g, central difference %.12g: relative error %.3g", wi, got, fd, e)
		}
	}
}

func TestErrors(t *testing.T) {
	backend := testBackend(t)
	g := NewGraph(backend, "errors")
	x := Parameter(g, "x", shapes.Make(dtypes.Float64, 3, 4))
	ident := func(in []*Node) []*Node { return []*Node{Sin(in[0])} }
	cases := []struct {
		name     string
		fn       func([]*Node) []*Node
		primals  []*Node
		tangents []*Node
		want     []string
	}{
		{"shape", ident, []*Node{x}, []*Node{Zeros(g, shapes.Make(dtypes.Float64, 3, 5))}, []string{"tangents #0", "shape"}},
		{"dtype", ident, []*Node{x}, []*Node{Zeros(g, shapes.Make(dtypes.Float32, 3, 4))}, []string{"tangents #0", "Float32"}},
		{"count", ident, []*Node{x}, nil, []string{"1 primals but 0 tangents"}},
		{"nil primal", ident, []*Node{nil}, []*Node{nil}, []string{"primals #0 is nil"}},
		{"fn panics", func(in []*Node) []*Node { return []*Node{Add(in[0], Zeros(g, shapes.Make(dtypes.Float64, 2)))} },
			[]*Node{x}, []*Node{OnesLike(x)}, []string{"building fn"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := JVP(tc.fn, tc.primals, tc.tangents)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	t.Run("unsupported op", func(t *testing.T) {
		saved := Rules[NodeTypeSin]
		delete(Rules, NodeTypeSin)
		defer func() { Rules[NodeTypeSin] = saved }()
		_, _, err := JVP(ident, []*Node{x}, []*Node{OnesLike(x)})
		if err == nil || !strings.Contains(err.Error(), "op Sin") || !strings.Contains(err.Error(), "Node #") {
			t.Fatalf("want an error naming op Sin and its node, got %v", err)
		}
	})
	t.Run("rule fails", func(t *testing.T) {
		saved := Rules[NodeTypeSin]
		Rules[NodeTypeSin] = func(node *Node, _ []*Node) (*Node, error) {
			return Add(node, Zeros(g, shapes.Make(dtypes.Float64, 7))), nil // Panics: bad shapes.
		}
		defer func() { Rules[NodeTypeSin] = saved }()
		_, _, err := JVP(ident, []*Node{x}, []*Node{OnesLike(x)})
		if err == nil || !strings.Contains(err.Error(), "rule for op Sin") {
			t.Fatalf("want the rule's panic as an error, got %v", err)
		}
	})
}

// A replaced rule is the one used.
func TestRulesAreExtendable(t *testing.T) {
	backend := testBackend(t)
	saved := Rules[NodeTypeSin]
	Rules[NodeTypeSin] = func(node *Node, t []*Node) (*Node, error) { return MulScalar(t[0], 42), nil }
	defer func() { Rules[NodeTypeSin] = saved }()
	rng := rand.New(rand.NewPCG(1, 1))
	x, v := randInputs(rng, [][]int{{2}})
	_, dy, _ := jvpNumeric(t, backend, func(in []*Node) *Node { return Sin(in[0]) }, x, v)
	want := flat64(t, v[0])
	for i := range dy {
		if dy[i] != 42*want[i] {
			t.Fatalf("custom rule not used: got %v, want 42·%v", dy, want)
		}
	}
}

// Nil tangents cost nothing, outputs that don't depend on the primals get zeros, and a primal passed
// twice carries each tangent separately.
func TestZeroAndRepeatedTangents(t *testing.T) {
	backend := testBackend(t)
	out := call(t, backend, func(in []*Node) []*Node {
		a, b := in[0], in[1]
		before := len(a.Graph().Nodes())
		outs, touts, err := JVP(func(p []*Node) []*Node {
			return []*Node{Mul(p[0], p[1]), Exp(p[2]), Const(a.Graph(), 3.0)}
		}, []*Node{a, a, b}, []*Node{OnesLike(a), MulScalar(OnesLike(a), 10), nil})
		if err != nil {
			t.Fatal(err)
		}
		// No Exp' (Mul by Exp) for the nil tangent of b: only the ops of a·a' + a'·a.
		for _, n := range a.Graph().Nodes()[before:] {
			if n.Type() == NodeTypeExp && n != outs[1] {
				t.Errorf("unexpected tangent work on the nil-tangent path: %s", n)
			}
		}
		return append(outs[:1], touts...)
	}, tensors.FromValue([]float64{2, 3}), tensors.FromValue([]float64{1, 1}))
	// d(a·a)/dε along (1, 10) = 10·a + 1·a = 11·a.
	if got := flat64(t, out[1]); got[0] != 22 || got[1] != 33 {
		t.Errorf("tangent of p0·p1 with p0 = p1 = a: got %v, want [22 33]", got)
	}
	for i, want := range [][]float64{{0, 0}, {0}} {
		if got := flat64(t, out[2+i]); len(got) != len(want) || got[0] != 0 {
			t.Errorf("tangent output %d: got %v, want zeros", 1+i, got)
		}
	}
}

func TestGeluAtZero(t *testing.T) {
	backend := testBackend(t)
	_, dy, _ := jvpNumeric(t, backend, func(in []*Node) *Node { return activation.Gelu(in[0]) },
		[]*tensors.Tensor{tensors.FromValue([]float64{0, -0.0})}, []*tensors.Tensor{tensors.FromValue([]float64{1, 2})})
	if dy[0] != 0.5 || dy[1] != 1 {
		t.Errorf("GELU'(0)·v = %v, want [0.5 1]", dy)
	}
}

// A fused op without a rule is differentiated through the decomposed twin GoMLX keeps for reverse
// mode.
func TestFusedFallbackToDecomposition(t *testing.T) {
	backend := testBackend(t)
	saved := Rules[NodeTypeFusedSoftmax]
	delete(Rules, NodeTypeFusedSoftmax)
	defer func() { Rules[NodeTypeFusedSoftmax] = saved }()
	rng := rand.New(rand.NewPCG(5, 5))
	x, v := randInputs(rng, [][]int{{3, 4}})
	fn := func(in []*Node) *Node { return Softmax(in[0], -1) }
	_, dy, types := jvpNumeric(t, backend, fn, x, v)
	if !types[NodeTypeFusedSoftmax] {
		t.Fatal("no FusedSoftmax node: the fallback was not exercised")
	}
	fd := centralDifference(t, backend, fn, x, v, 1e-5)
	if e := relErr(dy, fd, 1e-3); e > 1e-6 {
		t.Errorf("fallback JVP vs central differences: relative error %.3g", e)
	}
}
