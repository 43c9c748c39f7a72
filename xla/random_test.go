package xla

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func goBackend(t *testing.T) compute.Backend {
	t.Helper()
	be, err := NewBackend(DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// Away from u₁ = 0, Normal is graph.RandomNormal: the same values and the same next state,
// so switching to it changes no seeded run (except where GoMLX's sampler returned ±Inf).
func TestNormalIsGraphRandomNormal(t *testing.T) {
	be := goBackend(t)
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		shape := shapes.Make(dt, 64, 33)
		outs := graph.MustExecOnceN(be, func(state *graph.Node) []*graph.Node {
			s1, ours := Normal(state, shape)
			s2, theirs := graph.RandomNormal(state, shape)
			return []*graph.Node{ours, theirs, s1, s2}
		}, seedState(t, 11))
		if !outs[0].Equal(outs[1]) {
			t.Errorf("%s: values differ from graph.RandomNormal", dt)
		}
		if !outs[2].Equal(outs[3]) {
			t.Errorf("%s: next RNG state differs from graph.RandomNormal's", dt)
		}
	}
}

// StoreNormal draws from a store's stream exactly as model.Store.RandomNormal does, twice in a
// row (so the store's state advanced the same way after the first draw).
func TestStoreNormalIsStoreRandomNormal(t *testing.T) {
	be := goBackend(t)
	shape := shapes.Make(dtypes.Float32, 8, 5)
	draw := func(ours bool) []*tensors.Tensor {
		store := model.NewStore()
		if err := store.SetRNGStateFromSeed(3); err != nil {
			t.Fatal(err)
		}
		outs, err := model.CallOnceN(be, store, func(_ *model.Scope, g *graph.Graph) []*graph.Node {
			if ours {
				return []*graph.Node{StoreNormal(store, g, shape), StoreNormal(store, g, shape)}
			}
			return []*graph.Node{store.RandomNormal(g, shape), store.RandomNormal(g, shape)}
		})
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	ours, theirs := draw(true), draw(false)
	for i := range ours {
		if !ours[i].Equal(theirs[i]) {
			t.Errorf("draw %d differs from model.Store.RandomNormal", i)
		}
	}
	if ours[0].Equal(ours[1]) {
		t.Error("two draws in a row are equal: the store's state did not advance")
	}
}

// The u₁ = 0 draw is finite on every backend: √(−2 ln 2⁻³³) ≈ 6.7567. (On XLA's CPU backend, which
// flushes denormals, graph.RandomNormal gives +Inf there; xla_cgo_test.go checks that case.)
func TestBoxMullerAtZeroIsFinite(t *testing.T) {
	checkBoxMullerAtZero(t, goBackend(t))
}

func checkBoxMullerAtZero(t *testing.T, be compute.Backend) {
	t.Helper()
	u1 := []float32{0, float32(math.Ldexp(1, -32)), 0.5}
	u2 := []float32{0, 0, 0.5}
	got := graph.MustExecOnce(be, func(a, b *graph.Node) *graph.Node {
		return boxMuller(a, b, dtypes.Float32)
	}, u1, u2).Value().([]float32)
	want := []float64{math.Sqrt(66 * math.Ln2), math.Sqrt(64 * math.Ln2), -math.Sqrt(2 * math.Ln2)}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-5 {
			t.Errorf("%s: boxMuller(u1=%g, u2=%g) = %g, want %g", be.Name(), u1[i], u2[i], got[i], want[i])
		}
	}
}

func seedState(t *testing.T, seed int64) *tensors.Tensor {
	t.Helper()
	st, err := graph.RNGStateFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
