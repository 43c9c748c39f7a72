package jvp_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/gomvp/gomvp/xla"
	"github.com/gomvp/gomvp/xla/jvp"
)

// The total derivative of u(a, t) = a²·t along (∂a/∂t, ∂t/∂t) = (v, 1):
// du/dt = 2a·t·v + a².
func ExampleJVP() {
	backend, err := xla.Default()
	if err != nil {
		panic(err)
	}
	u := func(in []*graph.Node) []*graph.Node {
		a, t := in[0], in[1]
		return []*graph.Node{graph.Mul(graph.Square(a), t)}
	}
	exec := graph.MustNewExec(backend, func(a, t, v *graph.Node) (*graph.Node, *graph.Node) {
		outs, tangents, err := jvp.JVP(u, []*graph.Node{a, t}, []*graph.Node{v, graph.OnesLike(t)})
		if err != nil {
			panic(err)
		}
		return outs[0], tangents[0]
	})
	out := exec.MustExec([]float32{1, 2, 3}, []float32{2, 2, 2}, []float32{1, 1, 1})
	fmt.Println("u     =", out[0].Value())
	fmt.Println("du/dt =", out[1].Value())
	// Output:
	// u     = [2 8 18]
	// du/dt = [5 12 21]
}
