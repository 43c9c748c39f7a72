package jvp

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // Rules read like the math.
)

// Rule returns the tangent of node given the tangents of its inputs, in the order of node.Inputs();
// a nil tangent means zero. It may return nil for a zero tangent. Rules build the tangent with
// differentiable graph ops, so that tangents can be differentiated again by graph.Gradient.
type Rule func(node *Node, tangents []*Node) (*Node, error)

// Rules maps each op to its forward-mode rule, like graph.VJPRegistration for reverse mode.
// Add or replace entries (before building graphs) to support more ops.
var Rules map[NodeType]Rule

func init() {
	Rules = map[NodeType]Rule{
		// Linear in all their inputs: the op applied to the tangents.
		NodeTypeNeg:            linear(),
		NodeTypeIdentity:       linear(),
		NodeTypeReshape:        linear(),
		NodeTypeTranspose:      linear(),
		NodeTypeBroadcastInDim: linear(),
		NodeTypeSlice:          linear(),
		NodeTypeReverse:        linear(),
		NodeTypeReduceSum:      linear(),
		NodeTypeConcatenate:    linear(),
		NodeTypePad:            linear(), // Inputs (x, fillValue): both enter linearly.
		// Linear in some inputs; the others are indices or dimensions.
		NodeTypeGather:             linear(0),
		NodeTypeDynamicSlice:       linear(0),
		NodeTypeDynamicUpdateSlice: linear(0, 1),
		NodeTypeDynamicReshape:     linear(0),
		NodeTypeWhere:              linear(1, 2),
		NodeTypeConvertDType:       convertDTypeRule,
		NodeTypeAdd:                addRule,
		NodeTypeSub:                subRule,
		NodeTypeMul:                mulRule,
		NodeTypeDiv:                divRule,
		NodeTypePow:                powRule,
		NodeTypeMax:                minMaxRule(GreaterOrEqual),
		NodeTypeMin:                minMaxRule(LessOrEqual),
		NodeTypeAtan2:              atan2Rule,
		NodeTypeRem:                remRule,
		NodeTypeClamp:              clampRule,
		NodeTypeDotGeneral:         dotGeneralRule,
		NodeTypeReduceMax:          reduceExtremumRule,
		NodeTypeReduceMin:          reduceExtremumRule,
		NodeTypeReduceProduct:      reduceProductRule,

		// Elementwise: y' = f'(x)·x'.
		NodeTypeAbs:      unary(func(x, _, dx *Node) *Node { return Mul(Sign(x), dx) }),
		NodeTypeExp:      unary(func(_, y, dx *Node) *Node { return Mul(y, dx) }),
		NodeTypeExpm1:    unary(func(_, y, dx *Node) *Node { return Mul(OnePlus(y), dx) }),
		NodeTypeLog:      unary(func(x, _, dx *Node) *Node { return Div(dx, x) }),
		NodeTypeLog1p:    unary(func(x, _, dx *Node) *Node { return Div(dx, OnePlus(x)) }),
		NodeTypeSqrt:     unary(func(_, y, dx *Node) *Node { return Div(MulScalar(dx, 0.5), y) }),
		NodeTypeRsqrt:    unary(func(x, y, dx *Node) *Node { return Mul(MulScalar(Div(y, x), -0.5), dx) }),
		NodeTypeSin:      unary(func(x, _, dx *Node) *Node { return Mul(Cos(x), dx) }),
		NodeTypeCos:      unary(func(x, _, dx *Node) *Node { return Neg(Mul(Sin(x), dx)) }),
		NodeTypeTanh:     unary(func(_, y, dx *Node) *Node { return Mul(OneMinus(Square(y)), dx) }),
		NodeTypeLogistic: unary(func(_, y, dx *Node) *Node { return Mul(Mul(y, OneMinus(y)), dx) }),
		NodeTypeErf: unary(func(x, _, dx *Node) *Node {
			return Mul(MulScalar(Exp(Neg(Square(x))), 2/math.Sqrt(math.Pi)), dx)
		}),

		// Piecewise constant, comparisons, logical and bit ops, constants: zero tangent.
		NodeTypeSign: Zero, NodeTypeFloor: Zero, NodeTypeCeil: Zero, NodeTypeRound: Zero,
		NodeTypeIsFinite: Zero, NodeTypeIsNaN: Zero,
		NodeTypeEqual: Zero, NodeTypeNotEqual: Zero, NodeTypeGreaterThan: Zero, NodeTypeGreaterOrEqual: Zero,
		NodeTypeLessThan: Zero, NodeTypeLessOrEqual: Zero,
		NodeTypeEqualTotalOrder: Zero, NodeTypeNotEqualTotalOrder: Zero, NodeTypeGreaterThanTotalOrder: Zero,
		NodeTypeGreaterOrEqualTotalOrder: Zero, NodeTypeLessThanTotalOrder: Zero, NodeTypeLessOrEqualTotalOrder: Zero,
		NodeTypeLogicalAnd: Zero, NodeTypeLogicalOr: Zero, NodeTypeLogicalXor: Zero, NodeTypeLogicalNot: Zero,
		NodeTypeBitwiseAnd: Zero, NodeTypeBitwiseOr: Zero, NodeTypeBitwiseXor: Zero, NodeTypeBitwiseNot: Zero,
		NodeTypeArgMinMax: Zero, NodeTypeIota: Zero, NodeTypeConstant: Zero, NodeTypeParameter: Zero,
		NodeTypeDynamicDimensionSize: Zero, NodeTypeDynamicShape: Zero,

		// Fused ops emitted by gomlx layers (see fused.go).
		NodeTypeFusedDense:     fusedDenseRule,
		NodeTypeFusedGelu:      fusedGeluRule,
		NodeTypeFusedLayerNorm: fusedLayerNormRule,
		NodeTypeFusedSoftmax:   fusedSoftmaxRule,
	}
}

// Zero is the rule of ops whose output is locally constant in their inputs.
func Zero(*Node, []*Node) (*Node, error) { return nil, nil }

// orZeros returns t, or zeros shaped like x when t is nil (a zero tangent).
func orZeros(t, x *Node) *Node {
	if t == nil {
		return ZerosLike(x)
	}
	return t
}

// linear returns the rule of an op that is linear in the inputs at positions idx (all inputs when
// idx is empty): the op itself, cloned with the tangents in those positions.
func linear(idx ...int) Rule {
	return func(node *Node, tangents []*Node) (*Node, error) {
		inputs := node.Inputs()
		newInputs := make([]*Node, len(inputs))
		copy(newInputs, inputs)
		linearAt := func(i int) bool {
			if len(idx) == 0 {
				return true
			}
			for _, j := range idx {
				if i == j {
					return true
				}
			}
			return false
		}
		nonZero := false
		for i := range inputs {
			if !linearAt(i) {
				continue
			}
			if tangents[i] != nil {
				nonZero = true
			}
			newInputs[i] = orZeros(tangents[i], inputs[i])
		}
		if !nonZero {
			return nil, nil
		}
		return node.CloneWithInputs(newInputs...), nil
	}
}

func unary(f func(x, y, dx *Node) *Node) Rule {
	return func(node *Node, tangents []*Node) (*Node, error) {
		if tangents[0] == nil {
			return nil, nil
		}
		return f(node.Inputs()[0], node, tangents[0]), nil
	}
}

// fit broadcasts a tangent computed for one operand of a broadcasting binary op to the output.
func fit(t, node *Node) *Node {
	if t == nil || t.Shape().Equal(node.Shape()) {
		return t
	}
	return BroadcastToShape(t, node.Shape())
}

func convertDTypeRule(node *Node, tangents []*Node) (*Node, error) {
	if dt := node.DType(); !dt.IsFloat() && !dt.IsComplex() {
		return nil, nil
	}
	return node.CloneWithInputs(tangents[0]), nil
}

func addRule(node *Node, t []*Node) (*Node, error) {
	switch {
	case t[0] == nil:
		return fit(t[1], node), nil
	case t[1] == nil:
		return fit(t[0], node), nil
	}
	return Add(t[0], t[1]), nil
}

func subRule(node *Node, t []*Node) (*Node, error) {
	switch {
	case t[0] == nil:
		return fit(Neg(t[1]), node), nil
	case t[1] == nil:
		return fit(t[0], node), nil
	}
	return Sub(t[0], t[1]), nil
}

// sumTangents adds the non-nil terms.
func sumTangents(terms ...*Node) *Node {
	var sum *Node
	for _, t := range terms {
		switch {
		case t == nil:
		case sum == nil:
			sum = t
		default:
			sum = Add(sum, t)
		}
	}
	return sum
}

// (ab)' = a'b + ab'
func mulRule(node *Node, t []*Node) (*Node, error) {
	a, b := node.Inputs()[0], node.Inputs()[1]
	var ta, tb *Node
	if t[0] != nil {
		ta = Mul(t[0], b)
	}
	if t[1] != nil {
		tb = Mul(a, t[1])
	}
	return sumTangents(ta, tb), nil
}

// (a/b)' = (a' − (a/b)·b') / b
func divRule(node *Node, t []*Node) (*Node, error) {
	b := node.Inputs()[1]
	var num *Node
	switch {
	case t[1] == nil:
		num = t[0]
	case t[0] == nil:
		num = Neg(Mul(node, t[1]))
	default:
		num = Sub(t[0], Mul(node, t[1]))
	}
	return Div(num, b), nil
}

// (a^b)' = b·a^(b−1)·a' + log(a)·a^b·b', with the second term 0 where a = 0 (as in JAX).
func powRule(node *Node, t []*Node) (*Node, error) {
	a, b := node.Inputs()[0], node.Inputs()[1]
	var ta, tb *Node
	if t[0] != nil {
		ta = Mul(Mul(b, Pow(a, AddScalar(b, -1))), t[0])
	}
	if t[1] != nil {
		zero := ZerosLike(a)
		safeA := Where(Equal(a, zero), OnesLike(a), a)
		logA := Where(Equal(a, zero), zero, Log(safeA))
		tb = Mul(Mul(node, logA), t[1])
	}
	return sumTangents(fit(ta, node), fit(tb, node)), nil
}

// max(a, b)' = a' where a ≥ b, else b' (min alike); ties take the first operand's tangent.
func minMaxRule(pick func(a, b *Node) *Node) Rule {
	return func(node *Node, t []*Node) (*Node, error) {
		a, b := node.Inputs()[0], node.Inputs()[1]
		return Where(pick(a, b), fit(orZeros(t[0], a), node), fit(orZeros(t[1], b), node)), nil
	}
}

// atan2(a, b)' = (b·a' − a·b') / (a² + b²)
func atan2Rule(node *Node, t []*Node) (*Node, error) {
	a, b := node.Inputs()[0], node.Inputs()[1]
	var ta, tb *Node
	if t[0] != nil {
		ta = Mul(b, t[0])
	}
	if t[1] != nil {
		tb = Neg(Mul(a, t[1]))
	}
	return Div(sumTangents(ta, tb), Add(Square(a), Square(b))), nil
}

// rem(a, b) = a − b·trunc(a/b), so rem' = a' − trunc(a/b)·b', with trunc(a/b) = (a − rem)/b.
func remRule(node *Node, t []*Node) (*Node, error) {
	a, b := node.Inputs()[0], node.Inputs()[1]
	var tb *Node
	if t[1] != nil {
		quotient := StopGradient(Round(Div(Sub(a, node), b)))
		tb = Neg(Mul(quotient, t[1]))
	}
	return sumTangents(fit(t[0], node), fit(tb, node)), nil
}

// clamp(lo, x, hi) = min(max(x, lo), hi) (also when lo > hi), differentiated as that composition.
func clampRule(node *Node, t []*Node) (*Node, error) {
	lo, x, hi := node.Inputs()[0], node.Inputs()[1], node.Inputs()[2]
	low := Max(x, lo)
	tLow := Where(GreaterOrEqual(x, lo), fit(orZeros(t[1], x), low), fit(orZeros(t[0], lo), low))
	return Where(LessOrEqual(low, hi), fit(tLow, node), fit(orZeros(t[2], hi), node)), nil
}

// Bilinear: (a·b)' = a'·b + a·b', each term the same DotGeneral.
func dotGeneralRule(node *Node, t []*Node) (*Node, error) {
	a, b := node.Inputs()[0], node.Inputs()[1]
	var ta, tb *Node
	if t[0] != nil {
		ta = node.CloneWithInputs(t[0], b)
	}
	if t[1] != nil {
		tb = node.CloneWithInputs(a, t[1])
	}
	return sumTangents(ta, tb), nil
}

// keepAxes reshapes a reduction's output back to the operand's rank (reduced axes of size 1) and
// broadcasts it to the operand's shape.
func keepAxes(reduced, operand *Node, axes []int) *Node {
	dims := operand.Shape().Clone().Dimensions
	for _, axis := range axes {
		dims[axis] = 1
	}
	return BroadcastToShape(Reshape(reduced, dims...), operand.Shape())
}

// reduceAxes reads a reduction's axes; an empty list means all axes.
func reduceAxes(node *Node) ([]int, error) {
	axes, err := IntsParam(node, "axes")
	if err != nil {
		return nil, err
	}
	x := node.Inputs()[0]
	if len(axes) == 0 && x.Rank() > 0 && node.Rank() == 0 {
		axes = make([]int, x.Rank())
		for i := range axes {
			axes[i] = i
		}
	}
	for i, axis := range axes {
		if axis < 0 {
			axes[i] = axis + x.Rank()
		}
	}
	return axes, nil
}

// max(x)' = mean of x' over the positions attaining the max (ties split evenly, as JAX does).
func reduceExtremumRule(node *Node, t []*Node) (*Node, error) {
	if t[0] == nil {
		return nil, nil
	}
	x := node.Inputs()[0]
	axes, err := reduceAxes(node)
	if err != nil {
		return nil, err
	}
	mask := Equal(x, keepAxes(node, x, axes))
	ones := ConvertDType(mask, x.DType())
	count := ReduceSum(ones, axes...)
	return Div(ReduceSum(Mul(ones, t[0]), axes...), count), nil
}

// prod(x)' = Σ_i x'_i · Π_{j≠i} x_j, computed as Σ_i x'_i · prod/x_i (requires x_i ≠ 0).
func reduceProductRule(node *Node, t []*Node) (*Node, error) {
	if t[0] == nil {
		return nil, nil
	}
	x := node.Inputs()[0]
	axes, err := reduceAxes(node)
	if err != nil {
		return nil, err
	}
	return ReduceSum(Mul(Div(keepAxes(node, x, axes), x), t[0]), axes...), nil
}

// errf is a short fmt.Errorf for rules.
func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
