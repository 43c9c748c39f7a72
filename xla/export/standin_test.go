package export

import (
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
)

// standIn is a small policy-shaped network (4 hidden layers, GELU, LayerNorm) over [obs, noise]:
// the graph features the exported action functions use, without the project's own code.
func standIn(scope *model.Scope, in []*Node) []*Node {
	x := Concatenate([]*Node{in[0], in[1]}, -1)
	for i := range 4 {
		ls := scope.At("layer_%d", i)
		x = layers.DenseWithBias(ls, x, 32)
		x = activation.Gelu(x)
		x = norm.LayerNorm(ls, x, -1).Epsilon(1e-6).Done()
	}
	return []*Node{Tanh(layers.DenseWithBias(scope.At("output"), x, 3))}
}

const standInObs, standInNoise = 7, 3

// newStandIn returns a store with the stand-in's variables initialised from seed on backend.
func newStandIn(backend compute.Backend, seed int64) (*model.Store, error) {
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return nil, err
	}
	_, err := model.CallOnceN(backend, store, standIn,
		tensors.FromShape(shapes.Make(dtypes.Float32, 1, standInObs)),
		tensors.FromShape(shapes.Make(dtypes.Float32, 1, standInNoise)))
	if err != nil {
		return nil, err
	}
	// LayerNorm starts as the identity; give it non-trivial parameters so the test sees them.
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	for v := range store.IterVariables() {
		if v.Shape().DType != dtypes.Float32 {
			continue
		}
		data := make([]float32, v.Shape().Size())
		for i := range data {
			data[i] = float32(r.NormFloat64() * 0.5)
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...)); err != nil {
			return nil, err
		}
	}
	return store, nil
}

func randomF32(r *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * scale)
	}
	return out
}
