package jvp

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // Rules read like the math.
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
)

// The fused rules reuse the fused primal and build the tangent from a few elementwise ops, one
// reduction or one (fused) matmul, which is cheaper than differentiating the decomposed twin.

// softmax(x)' = y ⊙ (x' − Σ_axis y ⊙ x')
func fusedSoftmaxRule(node *Node, t []*Node) (*Node, error) {
	if t[0] == nil {
		return nil, nil
	}
	axis, err := IntParam(node, "axis")
	if err != nil {
		return nil, err
	}
	y := node
	return Mul(y, Sub(t[0], ReduceAndKeep(Mul(y, t[0]), ReduceSum, axis))), nil
}

// geluDerivative returns GELU'(x): Φ(x) + x·φ(x) for the exact GELU, the derivative of
// ½x(1 + tanh(√(2/π)(x + 0.044715x³))) for the approximate one.
func geluDerivative(x *Node, exact bool) *Node {
	if exact {
		cdf := MulScalar(OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))), 0.5)
		pdf := MulScalar(Exp(MulScalar(Square(x), -0.5)), 1/math.Sqrt(2*math.Pi))
		return Add(cdf, Mul(x, pdf))
	}
	const c = 0.044715
	k := math.Sqrt(2 / math.Pi)
	x2 := Square(x)
	th := Tanh(MulScalar(Mul(x, OnePlus(MulScalar(x2, c))), k))
	dInner := MulScalar(OnePlus(MulScalar(x2, 3*c)), k)
	return MulScalar(Add(OnePlus(th), Mul(Mul(x, OneMinus(Square(th))), dInner)), 0.5)
}

func fusedGeluRule(node *Node, t []*Node) (*Node, error) {
	if t[0] == nil {
		return nil, nil
	}
	exact, err := BoolParam(node, "exact")
	if err != nil {
		return nil, err
	}
	x := node.Inputs()[0]
	if !exact {
		return Mul(geluDerivative(x, false), t[0]), nil
	}
	// Φ(x) = GELU(x)/x reuses the primal instead of a second erf, which costs as much as the whole
	// fused GELU; near 0, where the quotient is inexact, Φ(x) ≈ ½ + x·φ(0) (error < x³/15).
	pdf := MulScalar(Exp(MulScalar(Square(x), -0.5)), 1/math.Sqrt(2*math.Pi))
	small := LessThan(Abs(x), ConstAs(x, 1e-3))
	safeX := Where(small, OnesLike(x), x)
	cdf := Where(small, AddScalar(MulScalar(x, 1/math.Sqrt(2*math.Pi)), 0.5), Div(node, safeX))
	return Mul(Add(cdf, Mul(x, pdf)), t[0]), nil
}

// LayerNorm: y = x̂·γ + β with x̂ = (x − μ)·s, s = 1/√(σ² + ε) over axes. Since mean(x̂) = 0,
// x̂' = s·(x' − mean(x') − x̂·mean(x̂ ⊙ x')) and y' = x̂'·γ + x̂·γ' + β'.
//
// x̂ comes from the fused kernel (without γ, β), and s from q = mean(x̂ ⊙ x) = σ²·s, which gives
// σ² = (q² + √(q⁴ + 4εq²))/2: one reduction instead of recomputing μ and σ² (two reductions and
// three full-size ops). q loses relative precision as |μ|/σ grows (≈ float32 eps·|μ|/σ).
func fusedLayerNormRule(node *Node, t []*Node) (*Node, error) {
	axes, err := IntsParam(node, "axes")
	if err != nil {
		return nil, err
	}
	epsilon, err := FloatParam(node, "epsilon")
	if err != nil {
		return nil, err
	}
	hasGamma, err := hasNodeParam(node, "gamma")
	if err != nil {
		return nil, err
	}
	hasBeta, err := hasNodeParam(node, "beta")
	if err != nil {
		return nil, err
	}
	inputs := node.Inputs()
	x := inputs[0]
	var gamma, tGamma, tBeta *Node
	next := 1
	if hasGamma {
		gamma, tGamma = inputs[next], t[next]
		next++
	}
	if hasBeta {
		tBeta = t[next]
	}
	rank := x.Rank()
	xHat := nn.LayerNorm(x, axes, epsilon, nil, nil, nil)

	var terms []*Node
	if tx := t[0]; tx != nil {
		q2 := Square(rowMean(xHat, x, axes))
		variance := MulScalar(Add(q2, Sqrt(Add(Square(q2), MulScalar(q2, 4*epsilon)))), 0.5)
		invStd := Reciprocal(Sqrt(AddScalar(variance, epsilon)))
		centered := Sub(tx, rowMean(tx, nil, axes))
		proj := Mul(xHat, rowMean(xHat, tx, axes))
		scale := invStd
		if gamma != nil {
			scale = Mul(invStd, ExpandLeftToRank(gamma, rank))
		}
		terms = append(terms, Mul(Sub(centered, proj), scale))
	}
	if tGamma != nil {
		terms = append(terms, Mul(xHat, ExpandLeftToRank(tGamma, rank)))
	}
	if tBeta != nil {
		terms = append(terms, BroadcastToShape(ExpandLeftToRank(tBeta, rank), x.Shape()))
	}
	return sumTangents(terms...), nil
}

// rowMean returns mean(a ⊙ b) (mean(a) if b is nil) over axes, keeping them as size-1 axes. It is
// a DotGeneral batched over the other axes (or a matrix-vector product with ones): one SIMD kernel
// instead of a full-size product and the backend's generic reduction.
func rowMean(a, b *Node, axes []int) *Node {
	rank := a.Rank()
	reduced := make([]bool, rank)
	n := 1
	for _, axis := range axes {
		if axis < 0 {
			axis += rank
		}
		reduced[axis] = true
	}
	var contracting, batch []int
	keepDims := a.Shape().Clone().Dimensions
	for axis := range rank {
		if reduced[axis] {
			contracting = append(contracting, axis)
			n *= keepDims[axis]
			keepDims[axis] = 1
		} else {
			batch = append(batch, axis)
		}
	}
	var sum *Node
	if b == nil {
		onesDims := make([]int, len(contracting))
		onesAxes := make([]int, len(contracting))
		for i, axis := range contracting {
			onesDims[i] = a.Shape().Dimensions[axis]
			onesAxes[i] = i
		}
		ones := Ones(a.Graph(), shapes.Make(a.DType(), onesDims...))
		sum = Dot(a, ones).General(contracting, nil, onesAxes, nil)
	} else {
		sum = Dot(a, b).General(contracting, batch, contracting, batch)
	}
	return MulScalar(Reshape(sum, keepDims...), 1/float64(n))
}

// Dense: y = act(x·W + b), so pre' = x'·W + x·W' + b' (each product itself a fused Dense) and
// y' = act'(pre)·pre', the activation differentiated by the rules above.
func fusedDenseRule(node *Node, t []*Node) (*Node, error) {
	act, err := structIntField(node, "options", "Activation")
	if err != nil {
		return nil, err
	}
	layout, err := structIntField(node, "options", "WeightLayout")
	if err != nil {
		return nil, err
	}
	inputs := node.Inputs()
	x, w := inputs[0], inputs[1]
	var bias, tBias *Node
	if len(inputs) > 2 {
		bias, tBias = inputs[2], t[2]
	}
	weightLayout := compute.DenseLayout(layout)
	var tx, tw *Node
	if t[0] != nil {
		tx = nn.Dense(t[0], w, nil, weightLayout)
	}
	if t[1] != nil {
		tw = nn.Dense(x, t[1], nil, weightLayout)
	}
	if tBias != nil {
		tBias = BroadcastToShape(ExpandLeftToRank(tBias, node.Rank()), node.Shape())
	}
	tPre := sumTangents(tx, tw, tBias)
	if tPre == nil || compute.ActivationType(act) == compute.ActivationNone {
		return tPre, nil
	}
	actType, ok := activationTypes[compute.ActivationType(act)]
	if !ok {
		return nil, errf("unsupported activation %s in FusedDense", compute.ActivationType(act))
	}
	pre := nn.Dense(x, w, bias, weightLayout)
	out, err := Tangents([]*Node{activation.Apply(actType, pre)}, []*Node{pre}, []*Node{tPre})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// activationTypes maps the backend's fused activations to the layer functions computing them.
var activationTypes = map[compute.ActivationType]activation.Type{
	compute.ActivationGelu:      activation.TypeGelu,
	compute.ActivationRelu:      activation.TypeRelu,
	compute.ActivationSilu:      activation.TypeSilu,
	compute.ActivationHardSwish: activation.TypeHardSwish,
	compute.ActivationTanh:      activation.TypeTanh,
}
