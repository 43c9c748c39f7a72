package mvp

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	. "github.com/gomlx/gomlx/support/exceptions"
)

// Shared loss machinery of MVP and the flow baselines: shape checks, per-step valid masks and the
// (optionally adaptively weighted) masked squared error.

// checkBatch panics with a message naming the offending input unless s [B, S] (or nil),
// a [B, A] and valid [B, h] (or nil, h dividing A) agree.
func checkBatch(who string, s, a, valid *Node) {
	if a == nil || a.Rank() != 2 {
		Panicf("%s: actions must be [batch, actDim], got %v", who, shapeOf(a))
	}
	if !a.DType().IsFloat() {
		Panicf("%s: actions must be float, got %s", who, a.DType())
	}
	b := a.Shape().Dimensions[0]
	if s != nil && (s.Rank() != 2 || s.Shape().Dimensions[0] != b) {
		Panicf("%s: states must be [%d, obsDim] to match actions %s, got %s", who, b, a.Shape(), s.Shape())
	}
	if s != nil && s.DType() != a.DType() {
		Panicf("%s: states dtype %s differs from actions dtype %s", who, s.DType(), a.DType())
	}
	if valid != nil {
		if valid.Rank() != 2 || valid.Shape().Dimensions[0] != b {
			Panicf("%s: valid must be [%d, h], got %s", who, b, valid.Shape())
		}
		h := valid.Shape().Dimensions[1]
		if h == 0 || a.Shape().Dimensions[1]%h != 0 {
			Panicf("%s: valid has h=%d steps, which does not divide actDim=%d", who, h, a.Shape().Dimensions[1])
		}
	}
}

func shapeOf(x *Node) any {
	if x == nil {
		return "nil"
	}
	return x.Shape()
}

// ChunkMask expands valid [B, h] to a per-element mask [B, h·d] in dtype, for actions flattened
// as h consecutive blocks of d = actDim/h values (row-major [h, d]). A nil valid gives nil
// (everything valid). Booleans and numbers (0/1) are both accepted.
func ChunkMask(valid *Node, actDim int, dtype dtypes.DType) *Node {
	if valid == nil {
		return nil
	}
	b, h := valid.Shape().Dimensions[0], valid.Shape().Dimensions[1]
	if h == 0 || actDim%h != 0 {
		Panicf("mvp: valid has h=%d steps, which does not divide actDim=%d", h, actDim)
	}
	d := actDim / h
	m := ConvertDType(valid, dtype)
	m = BroadcastToDims(InsertAxes(m, -1), b, h, d)
	return Reshape(m, b, actDim)
}

// perSampleSquaredError is e_i = Σ_j mask_ij·(pred − target)²_ij / actDim: the squared error of each
// example, averaged over all action elements with invalid chunk steps counted as zero (QC's
// convention, so that masking does not re-weight examples).
func perSampleSquaredError(pred, target, mask *Node) *Node {
	sq := Square(Sub(pred, target))
	if mask != nil {
		sq = Mul(sq, mask)
	}
	return ReduceMean(sq, -1)
}

// weightedMean returns mean_i(w_i·e_i) with MeanFlow's adaptive weight w_i = sg(1/(e_i + c)^p) when
// adaptive is set, else mean_i(e_i).
func weightedMean(e *Node, adaptive bool, c, p float64) *Node {
	if !adaptive {
		return ReduceAllMean(e)
	}
	w := StopGradient(Reciprocal(Pow(AddScalar(e, c), ConstAsDType(e.Graph(), e.DType(), p))))
	return ReduceAllMean(Mul(w, e))
}

// MaskedMSE is the batch mean of the per-example masked squared error (see ChunkMask): the
// building block of every generative loss here, exported for user-written loss terms.
// mask may be nil.
func MaskedMSE(pred, target, mask *Node) *Node {
	return ReduceAllMean(perSampleSquaredError(pred, target, mask))
}

// fullLike returns a tensor shaped like x filled with value.
func fullLike(x *Node, value float64) *Node {
	return BroadcastToShape(ConstAsDType(x.Graph(), x.DType(), value), x.Shape())
}

// timeColumn returns a [B, 1] constant time column.
func timeColumn(g *Graph, dtype dtypes.DType, batch int, value float64) *Node {
	return BroadcastToShape(ConstAsDType(g, dtype, value), shapes.Make(dtype, batch, 1))
}

// ClipActions clips actions to the box [low, high].
func ClipActions(a *Node, low, high float64) *Node {
	return ClipScalar(a, low, high)
}
