// Package jvp computes forward-mode Jacobian-vector products inside GoMLX graphs: tangents are
// propagated through the same graph as the primal and compiled with it.
package jvp

import (
	"errors"

	"github.com/gomlx/gomlx/core/graph"
)

// JVP evaluates fn at primals and returns its outputs and their directional derivatives along tangents.
func JVP(fn func(inputs []*graph.Node) []*graph.Node, primals, tangents []*graph.Node) (outputs, tangentOutputs []*graph.Node, err error) {
	return nil, nil, errors.New("jvp: not implemented yet")
}
