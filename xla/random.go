package xla

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Normal is graph.RandomNormal (Box–Muller on two uniforms from the same stream, so for
// float32 and float64 the values and the new state are the same) with one difference that matters on XLA's CPU backend:
// a uniform u₁ = 0 is clamped to half the uniform's resolution instead of to the dtype's
// smallest denormal. XLA's CPU runtime flushes denormals to zero, so GoMLX's clamp is a no-op
// there and u₁ = 0 (one draw in 2³²) yields √(−2 log 0) = +Inf: an infinite noise sample. One
// infinite candidate makes the whole TD target NaN (generate-and-select multiplies every candidate
// by its one-hot weight, and Inf·0 = NaN), so at the paper's sizes (256·32·25 normals per update)
// a run on XLA would stop as "diverged" after about 20k updates. With the clamp the largest sample
// is √(2·33·ln 2) ≈ 6.8 for float32.
func Normal(rngState *graph.Node, shape shapes.Shape) (newRNGState, values *graph.Node) {
	u1Shape, u2Shape := uniformShapes(shape)
	newRNGState, u1 := graph.RandomUniform(rngState, u1Shape)
	newRNGState, u2 := graph.RandomUniform(newRNGState, u2Shape)
	return newRNGState, boxMuller(u1, u2, shape.DType)
}

// StoreNormal is model.Store.RandomNormal made safe as Normal: it draws from the
// store's random stream exactly as the store's own method does (same values, same state after).
func StoreNormal(store *model.Store, g *graph.Graph, shape shapes.Shape) *graph.Node {
	u1Shape, u2Shape := uniformShapes(shape)
	u1 := store.RandomUniform(g, u1Shape)
	u2 := store.RandomUniform(g, u2Shape)
	return boxMuller(u1, u2, shape.DType)
}

// uniformShapes returns the shapes of the two uniforms for normals of shape: the same, except that
// half-precision normals are computed in float32, where the clamp below is representable.
func uniformShapes(shape shapes.Shape) (u1, u2 shapes.Shape) {
	if !shape.DType.IsFloat() {
		panic(fmt.Sprintf("xla: Normal needs a float dtype, got shape %s", shape))
	}
	s := shape.Clone()
	if s.DType != dtypes.Float64 && s.DType != dtypes.Float32 {
		s.DType = dtypes.Float32
	}
	return s, s.Clone()
}

// boxMuller maps u₁, u₂ ∈ [0, 1) to √(−2 log u₁)·cos(2π u₂), with u₁ clamped to half of the
// uniform's resolution (2⁻³³ for float32, whose uniforms are multiples of 2⁻³²; 2⁻⁶⁵ for float64):
// a normal number, which no backend flushes to zero.
func boxMuller(u1, u2 *graph.Node, dtype dtypes.DType) *graph.Node {
	tiny := math.Ldexp(1, -33)
	if u1.DType() == dtypes.Float64 {
		tiny = math.Ldexp(1, -65)
	}
	u1 = graph.Max(u1, graph.Scalar(u1.Graph(), u1.DType(), tiny))
	v := graph.Mul(graph.Sqrt(graph.MulScalar(graph.Log(u1), -2)), graph.Cos(graph.MulScalar(u2, 2*math.Pi)))
	if v.DType() != dtype {
		v = graph.ConvertDType(v, dtype)
	}
	return v
}
