package jvp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomvp/gomvp/xla"
)

func testBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := xla.Default()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randTensor returns a float64 tensor with entries uniform in [lo, hi).
func randTensor(rng *rand.Rand, dims []int, lo, hi float64) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float64, n)
	for i := range data {
		data[i] = lo + (hi-lo)*rng.Float64()
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func flat64(t testing.TB, x *tensors.Tensor) []float64 {
	t.Helper()
	switch x.DType() {
	case dtypes.Float64:
		v, err := tensors.CopyFlatData[float64](x)
		if err != nil {
			t.Fatal(err)
		}
		return v
	case dtypes.Float32:
		v, err := tensors.CopyFlatData[float32](x)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(v))
		for i := range v {
			out[i] = float64(v[i])
		}
		return out
	}
	t.Fatalf("unexpected dtype %s", x.DType())
	return nil
}

// relErr is ‖a − b‖₂ / max(‖b‖₂, floor): relative, but absolute for (near-)zero references.
func relErr(a, b []float64, floor float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), floor)
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

func call(t testing.TB, backend compute.Backend, fn func([]*Node) []*Node, args ...*tensors.Tensor) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(backend, fn)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(toAny(args)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jvpNumeric runs JVP(fn) at x along v and returns the primal and tangent of fn's single output, and
// the node types found in the built graph.
func jvpNumeric(t testing.TB, backend compute.Backend, fn func([]*Node) *Node, x, v []*tensors.Tensor) (y, dy []float64, types map[NodeType]bool) {
	t.Helper()
	n := len(x)
	types = make(map[NodeType]bool)
	out := call(t, backend, func(in []*Node) []*Node {
		outs, touts, err := JVP(func(p []*Node) []*Node { return []*Node{fn(p)} }, in[:n], in[n:])
		if err != nil {
			t.Fatal(err)
		}
		for _, node := range in[0].Graph().Nodes() {
			types[node.Type()] = true
		}
		return []*Node{outs[0], touts[0]}
	}, append(append([]*tensors.Tensor{}, x...), v...)...)
	return flat64(t, out[0]), flat64(t, out[1]), types
}

// centralDifference returns (f(x + h·v) − f(x − h·v)) / 2h, evaluated in float64.
func centralDifference(t testing.TB, backend compute.Backend, fn func([]*Node) *Node, x, v []*tensors.Tensor, h float64) []float64 {
	t.Helper()
	shifted := func(sign float64) []float64 {
		args := make([]*tensors.Tensor, len(x))
		for i := range x {
			xs, vs := flat64(t, x[i]), flat64(t, v[i])
			for j := range xs {
				xs[j] += sign * h * vs[j]
			}
			args[i] = tensors.FromFlatDataAndDimensions(xs, x[i].Shape().Dimensions...)
		}
		out := call(t, backend, func(in []*Node) []*Node { return []*Node{fn(in)} }, args...)
		return flat64(t, out[0])
	}
	plus, minus := shifted(1), shifted(-1)
	for i := range plus {
		plus[i] = (plus[i] - minus[i]) / (2 * h)
	}
	return plus
}

// doubleVJP returns J·v computed by reverse mode twice: g(u) = Jᵀu = ∇ₓ⟨f(x), u⟩ is linear in u,
// so J·v = ∇ᵤ⟨g(u), v⟩. The independent reference for the forward-mode rules.
// u is any node of f(x)'s shape (its value does not matter).
func doubleVJP(fn func([]*Node) *Node, x, v []*Node, u *Node) *Node {
	y := fn(x)
	grads := Gradient(ReduceAllSum(Mul(y, u)), x...)
	var s *Node
	for i, gi := range grads {
		term := ReduceAllSum(Mul(gi, ConvertDType(v[i], gi.DType())))
		if s == nil {
			s = term
		} else {
			s = Add(s, term)
		}
	}
	return Gradient(s, u)[0]
}

func doubleVJPNumeric(t testing.TB, backend compute.Backend, fn func([]*Node) *Node, x, v []*tensors.Tensor, outShape []int, dtype dtypes.DType) []float64 {
	t.Helper()
	n := len(x)
	exec, err := NewExec(backend, func(in []*Node) []*Node {
		return []*Node{doubleVJP(fn, in[:n], in[n:2*n], in[2*n])}
	})
	if err != nil {
		t.Fatal(err)
	}
	args := toAny(append(append([]*tensors.Tensor{}, x...), v...))
	zeros := tensors.FromShape(shapes.Make(dtype, outShape...))
	args = append(args, zeros)
	out, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	return flat64(t, out[0])
}
