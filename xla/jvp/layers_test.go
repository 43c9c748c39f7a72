package jvp

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// scopedNet is an MLP built the usual way, with variables in a model.Scope: layers.DenseWithBias
// and the SiLU, ReLU, Tanh and GELU activations.
func scopedNet(scope *model.Scope, x *Node) *Node {
	h := x
	for i, act := range []activation.Type{activation.TypeSilu, activation.TypeRelu, activation.TypeTanh, activation.TypeGelu} {
		h = layers.DenseWithBias(scope.At("dense%d", i), h, 16)
		h = activation.Apply(act, h)
	}
	return layers.DenseWithBias(scope.At("out"), h, 3)
}

func TestScopedLayersAgainstDoubleVJP(t *testing.T) {
	backend := testBackend(t)
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, v *Node) []*Node {
		fn := func(in []*Node) []*Node { return []*Node{scopedNet(scope, in[0])} }
		outs, touts, err := JVP(fn, []*Node{x}, []*Node{v})
		if err != nil {
			panic(err)
		}
		ref := doubleVJP(func(in []*Node) *Node { return scopedNet(scope, in[0]) }, []*Node{x}, []*Node{v}, ZerosLike(outs[0]))
		return []*Node{touts[0], ref}
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	out, err := exec.Call(randFloat32(rng, []int{32, 7}, 1), randFloat32(rng, []int{32, 7}, 1))
	if err != nil {
		t.Fatal(err)
	}
	got, want := flat64(t, out[0]), flat64(t, out[1])
	if e := relErr(got, want, 1e-6); e > 1e-5 {
		t.Errorf("forward mode vs double-VJP on a scoped MLP: relative error %.3g (float32)", e)
	}
	if relErr(want, make([]float64, len(want)), 1) < 1e-3 {
		t.Error("reference tangent is ~0: the test would not detect errors")
	}
}
