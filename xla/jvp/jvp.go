// Package jvp computes forward-mode Jacobian-vector products inside GoMLX graphs.
//
// JVP(fn, primals, tangents) builds fn(primals) and, in the same graph, the directional derivative
// J_fn(primals)·tangents. Tangents are pushed forward node by node through a rule table keyed by
// graph.NodeType ([Rules], extendable like graph.VJPRegistration), so the product costs about one
// extra forward pass, is compiled together with the primal, and keeps no reverse-mode tape.
//
// MVP needs it for the total derivative of the mean velocity (method.md §2):
//
//	du/dt = ∂_a u·v + ∂_t u   =   JVP(u, (a, t, r, s), (v, 1, 0, 0))
//
// Properties:
//   - Only nodes that depend on a primal with a non-nil tangent get tangent nodes; a nil tangent means
//     zero and costs nothing.
//   - Nodes marked StopGradient get a zero tangent (the same convention as graph.Gradient).
//   - Tangents are built from ordinary differentiable ops, so graph.Gradient can differentiate
//     them (e.g. w.r.t. the network's weights), and the primal outputs backpropagate as usual.
//   - The fused ops that gomlx layers emit (FusedDense, FusedGelu, FusedLayerNorm, FusedSoftmax)
//     have rules that reuse the fused primal; other fused nodes fall back to the decomposed twin
//     GoMLX builds for reverse mode.
//   - Unsupported ops, mismatched tangents and panics while building the graph come back as errors.
package jvp

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/gomlx/gomlx/core/graph"
)

// JVP evaluates fn at primals and returns its outputs and their directional derivatives along tangents.
//
// tangents[i] must have the shape and dtype of primals[i], or be nil for a zero tangent. Every
// tangent output is a node (zeros when the output does not depend on the primals).
// It must be called while building a graph, e.g. inside a train step or a loss function.
func JVP(fn func(inputs []*graph.Node) []*graph.Node, primals, tangents []*graph.Node) (outputs, tangentOutputs []*graph.Node, err error) {
	defer recoverError(&err, "jvp.JVP")
	if fn == nil {
		return nil, nil, errors.New("jvp.JVP: fn is nil")
	}
	if err := checkPrimals(primals, tangents); err != nil {
		return nil, nil, err
	}
	// A node passed twice gets a pass-through copy, so that each input carries its own tangent.
	inputs := make([]*graph.Node, len(primals))
	seen := make(map[*graph.Node]bool, len(primals))
	for i, p := range primals {
		inputs[i] = p
		if seen[p] {
			inputs[i] = graph.IdentityWithCustomGradient(p, func(_, v *graph.Node) *graph.Node { return v })
		}
		seen[p] = true
	}
	err = func() (err error) {
		defer recoverError(&err, "jvp.JVP: building fn")
		outputs = fn(inputs)
		return nil
	}()
	if err != nil {
		return nil, nil, err
	}
	for i, out := range outputs {
		if out == nil {
			return nil, nil, fmt.Errorf("jvp.JVP: fn returned a nil output #%d", i)
		}
	}
	tangentOutputs, err = Tangents(outputs, inputs, tangents)
	if err != nil {
		return nil, nil, err
	}
	return outputs, tangentOutputs, nil
}

// Tangents returns the directional derivatives of outputs, already built from primals, along
// tangents: the forward-mode counterpart of graph.Gradient. JVP is fn + Tangents.
func Tangents(outputs, primals, tangents []*graph.Node) (tangentOutputs []*graph.Node, err error) {
	defer recoverError(&err, "jvp.Tangents")
	if err = checkPrimals(primals, tangents); err != nil {
		return nil, err
	}
	p := &propagator{tangent: make(map[graph.NodeId]*graph.Node), done: make(map[graph.NodeId]bool)}
	p.minID = -1
	for i, primal := range primals {
		if p.done[primal.Id()] {
			return nil, fmt.Errorf("jvp: primals #%d is the same node as an earlier primal; pass distinct nodes", i)
		}
		p.done[primal.Id()] = true
		p.tangent[primal.Id()] = tangents[i]
		if p.minID < 0 || primal.Id() < p.minID {
			p.minID = primal.Id()
		}
	}
	tangentOutputs = make([]*graph.Node, len(outputs))
	for i, out := range outputs {
		if out == nil {
			return nil, fmt.Errorf("jvp: output #%d is nil", i)
		}
		if err := p.visit(out); err != nil {
			return nil, err
		}
		t := p.tangent[out.Id()]
		if t == nil {
			t = graph.ZerosLike(out)
		}
		tangentOutputs[i] = t
	}
	return tangentOutputs, nil
}

// checkPrimals validates primals and tangents.
func checkPrimals(primals, tangents []*graph.Node) error {
	if len(primals) != len(tangents) {
		return fmt.Errorf("jvp: %d primals but %d tangents", len(primals), len(tangents))
	}
	var g *graph.Graph
	for i, p := range primals {
		if p == nil {
			return fmt.Errorf("jvp: primals #%d is nil", i)
		}
		if g == nil {
			g = p.Graph()
		} else if p.Graph() != g {
			return fmt.Errorf("jvp: primals #%d belongs to another graph", i)
		}
		if t := tangents[i]; t != nil {
			if t.Graph() != g {
				return fmt.Errorf("jvp: tangents #%d belongs to another graph than primals", i)
			}
			if !t.Shape().Equal(p.Shape()) {
				return fmt.Errorf("jvp: tangents #%d has shape %s, but primals #%d has shape %s (shape and dtype must match)",
					i, t.Shape(), i, p.Shape())
			}
			if !p.DType().IsFloat() && !p.DType().IsComplex() {
				return fmt.Errorf("jvp: primals #%d has dtype %s: only floating-point primals can have a non-nil tangent", i, p.DType())
			}
		}
	}
	return nil
}

type propagator struct {
	minID   graph.NodeId
	tangent map[graph.NodeId]*graph.Node // nil value: zero tangent.
	done    map[graph.NodeId]bool
}

// deps returns the nodes whose tangents node's rule needs: its inputs, or, for a fused node without
// a rule, the decomposed twin.
func deps(node *graph.Node) []*graph.Node {
	if _, ok := Rules[node.Type()]; !ok {
		if alt := alternateOutput(node); alt != nil {
			return []*graph.Node{alt}
		}
	}
	return node.Inputs()
}

// visit computes the tangent of node and its dependencies, in post-order without recursion (graphs
// can be deep).
func (p *propagator) visit(root *graph.Node) error {
	type frame struct {
		node     *graph.Node
		expanded bool
	}
	stack := []frame{{node: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		node := top.node
		if p.done[node.Id()] {
			stack = stack[:len(stack)-1]
			continue
		}
		// Nodes created before every primal cannot depend on them.
		if node.Id() < p.minID || node.StopGradient() {
			p.done[node.Id()] = true
			stack = stack[:len(stack)-1]
			continue
		}
		if !top.expanded {
			top.expanded = true
			for _, in := range deps(node) {
				if !p.done[in.Id()] {
					stack = append(stack, frame{node: in})
				}
			}
			continue
		}
		stack = stack[:len(stack)-1]
		t, err := p.compute(node)
		if err != nil {
			return err
		}
		p.tangent[node.Id()] = t
		p.done[node.Id()] = true
	}
	return nil
}

func (p *propagator) compute(node *graph.Node) (t *graph.Node, err error) {
	// Integer and boolean values (comparisons, indices, masks) have no tangent space.
	if dtype := node.DType(); node.NumOutputs() == 1 && !dtype.IsFloat() && !dtype.IsComplex() {
		return nil, nil
	}
	inputs := deps(node)
	tangents := make([]*graph.Node, len(inputs))
	hasTangent := false
	for i, in := range inputs {
		tangents[i] = p.tangent[in.Id()]
		hasTangent = hasTangent || tangents[i] != nil
	}
	if !hasTangent {
		return nil, nil
	}
	rule, ok := Rules[node.Type()]
	if !ok {
		if len(inputs) == 1 && alternateOutput(node) == inputs[0] {
			return tangents[0], nil // Fused op differentiated through its decomposition.
		}
		return nil, fmt.Errorf("jvp: no forward-mode rule for op %s (node %s); add one to jvp.Rules", node.Type(), node)
	}
	defer recoverError(&err, fmt.Sprintf("jvp: rule for op %s (node %s)", node.Type(), node))
	t, err = rule(node, tangents)
	if err != nil {
		return nil, fmt.Errorf("jvp: rule for op %s (node %s): %w", node.Type(), node, err)
	}
	if t == nil {
		return nil, nil
	}
	if !t.Shape().Equal(node.Shape()) {
		if t.DType() != node.DType() {
			return nil, fmt.Errorf("jvp: rule for op %s (node %s) returned a tangent of shape %s, want %s",
				node.Type(), node, t.Shape(), node.Shape())
		}
		t = graph.BroadcastToShape(t, node.Shape())
	}
	return t, nil
}

// recoverError turns a panic (GoMLX reports graph-building errors by panicking) into *err.
func recoverError(err *error, context string) {
	r := recover()
	if r == nil {
		return
	}
	var e error
	switch v := r.(type) {
	case error:
		e = v
	default:
		e = fmt.Errorf("%v", v)
	}
	if debugPanics {
		e = fmt.Errorf("%w\n%s", e, debug.Stack())
	}
	*err = fmt.Errorf("%s: %w", context, e)
}

// debugPanics adds the stack of recovered panics to the returned errors (for debugging rules).
var debugPanics = false
