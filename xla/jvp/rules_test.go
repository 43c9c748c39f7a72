package jvp

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
)

type ruleCase struct {
	name   string
	dims   [][]int
	lo, hi float64 // range of the random inputs; default [-2, 2)
	fn     func(x []*Node) *Node
	// ref computes the same function with ops that graph.Gradient supports, for the double-VJP
	// reference; nil means fn. noVJP: no such expression, FD only.
	ref   func(x []*Node) *Node
	noVJP bool
	// want: op types that must appear in the graph, so the rule under test really ran.
	want []NodeType
	// fdFixed: inputs held fixed (zero tangent) by the finite differences.
	fdFixed []int
	// unsupported: the op may be missing in the backend (the test is skipped there, with the reason).
	unsupported bool
	// linear functions are checked with a large FD step (exact up to rounding).
	linear bool
}

func un(f func(*Node) *Node) func([]*Node) *Node { return func(x []*Node) *Node { return f(x[0]) } }
func bin(f func(a, b *Node) *Node) func([]*Node) *Node {
	return func(x []*Node) *Node { return f(x[0], x[1]) }
}

var m34 = []int{3, 4}

func ruleCases() []ruleCase {
	one := [][]int{m34}
	two := [][]int{m34, m34}
	return []ruleCase{
		{name: "Neg", dims: one, fn: un(Neg), want: []NodeType{NodeTypeNeg}, linear: true},
		{name: "Abs", dims: one, fn: un(Abs), want: []NodeType{NodeTypeAbs}},
		{name: "Sign", dims: one, fn: un(func(x *Node) *Node { return Add(Square(x), Mul(Sign(x), x)) }),
			want: []NodeType{NodeTypeSign}},
		{name: "Exp", dims: one, fn: un(Exp), want: []NodeType{NodeTypeExp}},
		{name: "Expm1", dims: one, fn: un(Expm1), ref: un(func(x *Node) *Node { return AddScalar(Exp(x), -1) }),
			want: []NodeType{NodeTypeExpm1}},
		{name: "Log", dims: one, lo: 0.5, hi: 3, fn: un(Log), want: []NodeType{NodeTypeLog}},
		{name: "Log1p", dims: one, lo: -0.5, hi: 3, fn: un(Log1p), want: []NodeType{NodeTypeLog1p}},
		{name: "Sqrt", dims: one, lo: 0.5, hi: 3, fn: un(Sqrt), want: []NodeType{NodeTypeSqrt}},
		{name: "Rsqrt", dims: one, lo: 0.5, hi: 3, fn: un(Rsqrt), ref: un(func(x *Node) *Node { return Reciprocal(Sqrt(x)) }),
			want: []NodeType{NodeTypeRsqrt}},
		{name: "Sin", dims: one, fn: un(Sin), want: []NodeType{NodeTypeSin}},
		{name: "Cos", dims: one, fn: un(Cos), want: []NodeType{NodeTypeCos}},
		{name: "Tanh", dims: one, fn: un(Tanh), want: []NodeType{NodeTypeTanh}},
		{name: "Logistic", dims: one, fn: un(Logistic), want: []NodeType{NodeTypeLogistic}},
		{name: "Erf", dims: one, fn: un(Erf), want: []NodeType{NodeTypeErf}},
		{name: "FloorCeilRound", dims: one,
			fn:  un(func(x *Node) *Node { return Add(Square(x), Add(Floor(x), Add(Ceil(x), Round(x)))) }),
			ref: un(Square), want: []NodeType{NodeTypeFloor, NodeTypeCeil, NodeTypeRound}},

		{name: "Add", dims: two, fn: bin(Add), want: []NodeType{NodeTypeAdd}, linear: true},
		{name: "AddScalarBroadcast", dims: [][]int{m34, {}}, fn: bin(Add), want: []NodeType{NodeTypeAdd}, linear: true},
		{name: "Sub", dims: two, fn: bin(Sub), want: []NodeType{NodeTypeSub}, linear: true},
		{name: "Mul", dims: two, fn: bin(Mul), want: []NodeType{NodeTypeMul}},
		{name: "Div", dims: two, lo: 0.5, hi: 2, fn: bin(Div), want: []NodeType{NodeTypeDiv}},
		{name: "Pow", dims: two, lo: 0.5, hi: 2, fn: bin(Pow), want: []NodeType{NodeTypePow}},
		{name: "Max", dims: two, fn: bin(Max), want: []NodeType{NodeTypeMax}},
		{name: "Min", dims: two, fn: bin(Min), want: []NodeType{NodeTypeMin}},
		{name: "Atan2", dims: two, fn: bin(Atan2), noVJP: true, want: []NodeType{NodeTypeAtan2}},
		{name: "Rem", dims: two, lo: 0.5, hi: 5, fn: bin(Rem),
			ref: bin(func(a, b *Node) *Node {
				q := StopGradient(Div(Sub(a, Rem(a, b)), b))
				return Sub(a, Mul(b, q))
			}), want: []NodeType{NodeTypeRem}},
		{name: "Where", dims: [][]int{m34, m34, m34},
			fn:   func(x []*Node) *Node { return Where(GreaterThan(x[0], x[1]), Mul(x[0], x[2]), Sin(x[1])) },
			want: []NodeType{NodeTypeWhere, NodeTypeGreaterThan}},
		{name: "Clamp", dims: [][]int{m34, m34, m34},
			fn:   func(x []*Node) *Node { return Clamp(x[0], x[1], AddScalar(x[2], 1)) },
			ref:  func(x []*Node) *Node { return Min(Max(x[1], x[0]), AddScalar(x[2], 1)) },
			want: []NodeType{NodeTypeClamp}},
		{name: "ComparisonsLogical", dims: two,
			fn: bin(func(a, b *Node) *Node {
				m := LogicalAnd(GreaterOrEqual(a, b), LogicalNot(Equal(a, b)))
				return Add(Mul(ConvertDType(m, a.DType()), Mul(a, b)), a)
			}),
			want: []NodeType{NodeTypeLogicalAnd, NodeTypeGreaterOrEqual, NodeTypeConvertDType}},
		{name: "DotGeneralMatMul", dims: [][]int{{3, 4}, {4, 5}}, fn: bin(DotProduct), want: []NodeType{NodeTypeDotGeneral}},
		{name: "DotGeneralBatched", dims: [][]int{{2, 3, 4}, {2, 4, 5}},
			fn: bin(func(a, b *Node) *Node { return Einsum("bij,bjk->bik", a, b) }), want: []NodeType{NodeTypeDotGeneral}},
		{name: "ConvertDType", dims: one,
			fn: un(func(x *Node) *Node {
				return ConvertDType(MulScalar(ConvertDType(x, dtypes.Float32), 3), dtypes.Float64)
			}),
			want: []NodeType{NodeTypeConvertDType}, linear: true},
		{name: "Reshape", dims: one, fn: un(func(x *Node) *Node { return Reshape(Square(x), 2, 6) }), want: []NodeType{NodeTypeReshape}},
		{name: "Transpose", dims: [][]int{{2, 3, 4}}, fn: un(func(x *Node) *Node { return TransposeAllAxes(Square(x), 2, 0, 1) }),
			want: []NodeType{NodeTypeTranspose}},
		{name: "BroadcastInDim", dims: [][]int{{3, 1}}, fn: un(func(x *Node) *Node { return BroadcastToDims(Square(x), 3, 5) }),
			want: []NodeType{NodeTypeBroadcastInDim}},
		{name: "Slice", dims: one, fn: un(func(x *Node) *Node { return Slice(Square(x), AxisRange(1, 3), AxisRange(0, 4).Stride(2)) }),
			// Slice's VJP is a Pad, which has no VJP: select with constant matrices instead.
			ref: un(func(x *Node) *Node {
				g := x.Graph()
				rows := Const(g, [][]float64{{0, 1, 0}, {0, 0, 1}})
				cols := Const(g, [][]float64{{1, 0}, {0, 0}, {0, 1}, {0, 0}})
				return DotProduct(DotProduct(rows, Square(x)), cols)
			}),
			want: []NodeType{NodeTypeSlice}},
		{name: "Concatenate", dims: [][]int{m34, {3, 2}},
			fn: bin(func(a, b *Node) *Node { return Concatenate([]*Node{Square(a), b, a}, 1) }), want: []NodeType{NodeTypeConcatenate}},
		{name: "Pad", dims: [][]int{m34, {}},
			fn: bin(func(x, fill *Node) *Node {
				return Pad(Square(x), fill, compute.PadAxis{}, compute.PadAxis{Start: 1, End: 2})
			}),
			ref: bin(func(x, fill *Node) *Node {
				return Concatenate([]*Node{BroadcastToDims(fill, 3, 1), Square(x), BroadcastToDims(fill, 3, 2)}, 1)
			}),
			want: []NodeType{NodeTypePad}},
		{name: "Reverse", dims: one, fn: un(func(x *Node) *Node { return Reverse(Square(x), 1) }),
			ref: un(func(x *Node) *Node {
				antiIdentity := Const(x.Graph(), [][]float64{{0, 0, 0, 1}, {0, 0, 1, 0}, {0, 1, 0, 0}, {1, 0, 0, 0}})
				return DotProduct(Square(x), antiIdentity)
			}),
			want: []NodeType{NodeTypeReverse}},
		{name: "Gather", dims: [][]int{{5, 3}},
			fn: un(func(x *Node) *Node {
				return Gather(Square(x), Const(x.Graph(), [][]int32{{4}, {0}, {2}, {4}}))
			}), want: []NodeType{NodeTypeGather}},
		{name: "DynamicSlice", dims: one,
			fn: un(func(x *Node) *Node {
				g := x.Graph()
				return DynamicSlice(Square(x), []*Node{Const(g, int32(1)), Const(g, int32(2))}, []int{2, 2})
			}), want: []NodeType{NodeTypeDynamicSlice}, unsupported: true},
		{name: "DynamicUpdateSlice", dims: [][]int{m34, {2, 2}},
			fn: bin(func(x, u *Node) *Node {
				g := x.Graph()
				return DynamicUpdateSlice(Square(x), Sin(u), []*Node{Const(g, int32(1)), Const(g, int32(1))})
			}), want: []NodeType{NodeTypeDynamicUpdateSlice}, unsupported: true},
		{name: "ReduceSum", dims: [][]int{{2, 3, 4}}, fn: un(func(x *Node) *Node { return ReduceSum(Square(x), 0, 2) }),
			want: []NodeType{NodeTypeReduceSum}},
		{name: "ReduceMax", dims: [][]int{{2, 3, 4}}, fn: un(func(x *Node) *Node { return ReduceMax(Square(x), 1) }),
			want: []NodeType{NodeTypeReduceMax}},
		{name: "ReduceMinAll", dims: one, fn: un(func(x *Node) *Node { return ReduceAllMin(Sin(x)) }),
			want: []NodeType{NodeTypeReduceMin}},
		{name: "ReduceProduct", dims: one, lo: 0.5, hi: 2, fn: un(func(x *Node) *Node { return ReduceMultiply(x, 1) }),
			ref:  un(func(x *Node) *Node { return Exp(ReduceSum(Log(x), 1)) }), // x > 0.
			want: []NodeType{NodeTypeReduceProduct}},
		{name: "IotaConstant", dims: one,
			fn: un(func(x *Node) *Node {
				return Mul(Add(x, Iota(x.Graph(), x.Shape(), 1)), Const(x.Graph(), [][]float64{{1, 2, 3, 4}}))
			}), want: []NodeType{NodeTypeIota, NodeTypeConstant}},
		{name: "StopGradient", dims: two, fn: bin(func(a, b *Node) *Node { return Mul(a, StopGradient(Exp(b))) }),
			// The stopped branch is a constant: differences are taken with b held fixed.
			fdFixed: []int{1}, want: []NodeType{NodeTypeIdentity}},

		// Fused ops, as gomlx layers emit them.
		{name: "FusedDense", dims: [][]int{{5, 4}, {4, 3}, {3}},
			fn:   func(x []*Node) *Node { return nn.Dense(x[0], x[1], x[2], compute.DenseLayoutInputOutputs) },
			want: []NodeType{NodeTypeFusedDense}},
		{name: "FusedDenseGelu", dims: [][]int{{5, 4}, {4, 3}, {3}},
			fn: func(x []*Node) *Node {
				return nn.Dense(x[0], x[1], x[2], compute.DenseLayoutInputOutputs, activation.TypeGelu)
			}, want: []NodeType{NodeTypeFusedDense}},
		{name: "FusedGelu", dims: one, fn: un(activation.Gelu), want: []NodeType{NodeTypeFusedGelu}},
		// The rule switches to a series for |x| < 1e-3.
		{name: "FusedGeluNearZero", dims: [][]int{{40}}, lo: -2e-3, hi: 2e-3, fn: un(activation.Gelu),
			want: []NodeType{NodeTypeFusedGelu}},
		{name: "FusedLayerNorm", dims: [][]int{{5, 6}, {6}, {6}},
			fn:   func(x []*Node) *Node { return nn.LayerNorm(x[0], []int{-1}, 1e-5, x[1], x[2], nil) },
			want: []NodeType{NodeTypeFusedLayerNorm}},
		{name: "FusedLayerNormGammaOnlyTwoAxes", dims: [][]int{{2, 3, 4}, {3, 4}},
			fn: func(x []*Node) *Node { return nn.LayerNorm(AddScalar(x[0], 30), []int{-2, -1}, 1e-3, x[1], nil, nil) }},
		{name: "FusedLayerNormPlain", dims: [][]int{{5, 6}},
			fn:   func(x []*Node) *Node { return nn.LayerNorm(x[0], []int{-1}, 1e-5, nil, nil, nil) },
			want: []NodeType{NodeTypeFusedLayerNorm}},
		{name: "FusedSoftmax", dims: one, fn: un(func(x *Node) *Node { return Softmax(x, -1) }),
			want: []NodeType{NodeTypeFusedSoftmax}},
		// Activations built from primitives.
		{name: "ReluSiluTanh", dims: one,
			fn: un(func(x *Node) *Node {
				return Add(activation.Relu(x), Add(activation.Swish(x), Tanh(x)))
			})},
	}
}

func TestRules(t *testing.T) {
	backend := testBackend(t)
	for _, fusion := range []string{"1", "0"} {
		for _, tc := range ruleCases() {
			t.Run(tc.name+"/fusion="+fusion, func(t *testing.T) {
				t.Setenv(FusionEnv, fusion)
				checkRule(t, backend, tc, fusion == "1")
			})
		}
	}
}

func checkRule(t *testing.T, backend compute.Backend, tc ruleCase, checkTypes bool) {
	rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
	lo, hi := tc.lo, tc.hi
	if lo == 0 && hi == 0 {
		lo, hi = -2, 2
	}
	x := make([]*tensors.Tensor, len(tc.dims))
	v := make([]*tensors.Tensor, len(tc.dims))
	for i, dims := range tc.dims {
		x[i] = randTensor(rng, dims, lo, hi)
		v[i] = randTensor(rng, dims, -1, 1)
	}
	if tc.unsupported && !backendSupports(backend, tc.fn, x) {
		t.Skipf("backend %s cannot run the op under test", backend.Name())
	}
	y, dy, types := jvpNumeric(t, backend, tc.fn, x, v)
	if checkTypes {
		for _, want := range tc.want {
			if !types[want] {
				t.Fatalf("graph has no %s node: the rule under test was not exercised", want)
			}
		}
	}
	h := 1e-5
	if tc.linear {
		h = 1
	}
	fdV := v
	if len(tc.fdFixed) > 0 {
		fdV = append([]*tensors.Tensor{}, v...)
		for _, i := range tc.fdFixed {
			fdV[i] = tensors.FromShape(v[i].Shape())
		}
	}
	fd := centralDifference(t, backend, tc.fn, x, fdV, h)
	if e := relErr(dy, fd, 1e-3); e > 1e-6 {
		t.Errorf("JVP vs central differences: relative error %.3g > 1e-6\njvp=%v\nfd=%v", e, dy, fd)
	}
	if tc.noVJP {
		return
	}
	ref := tc.ref
	if ref == nil {
		ref = tc.fn
	}
	outDims := make([]int, 0)
	_ = y
	exec, err := NewExec(backend, func(in []*Node) []*Node { return []*Node{tc.fn(in)} })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(toAny(x)...)
	if err != nil {
		t.Fatal(err)
	}
	outDims = append(outDims, out[0].Shape().Dimensions...)
	dv := doubleVJPNumeric(t, backend, ref, x, v, outDims, out[0].DType())
	if e := relErr(dy, dv, 1e-3); e > 1e-9 {
		t.Errorf("JVP vs double-VJP: relative error %.3g > 1e-9\njvp=%v\nref=%v", e, dy, dv)
	}
}

// backendSupports reports whether backend can build fn (some backends lack e.g. DynamicSlice).
func backendSupports(backend compute.Backend, fn func([]*Node) *Node, x []*tensors.Tensor) bool {
	exec, err := NewExec(backend, func(in []*Node) []*Node { return []*Node{fn(in)} })
	if err != nil {
		return false
	}
	_, err = exec.Call(toAny(x)...)
	return err == nil
}
