package jvp

import (
	"fmt"
	"reflect"

	"github.com/gomlx/gomlx/core/graph"
)

// GoMLX keeps the static parameters of an op (reduction axes, the GELU variant, a LayerNorm's epsilon, …)
// in unexported fields of the node; CloneWithInputs reuses them, which covers the linear ops. Rules of
// non-linear ops that need them read them here, read-only, and fail with an error (not a panic) if a
// future GoMLX renames a field.

// opParam returns the static parameter field of node's op.
func opParam(node *graph.Node, field string) (reflect.Value, error) {
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return reflect.Value{}, fmt.Errorf("jvp: cannot read the parameters of %s", node)
	}
	v = v.Elem()
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("jvp: cannot read the parameters of %s", node)
	}
	f := v.FieldByName(field)
	if !f.IsValid() {
		return reflect.Value{}, fmt.Errorf("jvp: op %s of node %s has no parameter %q (unsupported GoMLX version?)", node.Type(), node, field)
	}
	return f, nil
}

// IntsParam returns an []int parameter (e.g. "axes") of node's op. Exported for rules registered
// outside this package.
func IntsParam(node *graph.Node, field string) ([]int, error) {
	f, err := opParam(node, field)
	if err != nil {
		return nil, err
	}
	if f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
		return nil, fmt.Errorf("jvp: parameter %q of %s is %s, not []int", field, node, f.Type())
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out, nil
}

// IntParam returns an integer parameter (e.g. "axis") of node's op; integer-kinded named types
// (enums) are returned as their value.
func IntParam(node *graph.Node, field string) (int, error) {
	f, err := opParam(node, field)
	if err != nil {
		return 0, err
	}
	switch f.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(f.Int()), nil
	}
	return 0, fmt.Errorf("jvp: parameter %q of %s is %s, not an integer", field, node, f.Type())
}

// BoolParam returns a boolean parameter of node's op.
func BoolParam(node *graph.Node, field string) (bool, error) {
	f, err := opParam(node, field)
	if err != nil {
		return false, err
	}
	if f.Kind() != reflect.Bool {
		return false, fmt.Errorf("jvp: parameter %q of %s is %s, not bool", field, node, f.Type())
	}
	return f.Bool(), nil
}

// FloatParam returns a floating-point parameter of node's op.
func FloatParam(node *graph.Node, field string) (float64, error) {
	f, err := opParam(node, field)
	if err != nil {
		return 0, err
	}
	if f.Kind() != reflect.Float64 && f.Kind() != reflect.Float32 {
		return 0, fmt.Errorf("jvp: parameter %q of %s is %s, not a float", field, node, f.Type())
	}
	return f.Float(), nil
}

// hasNodeParam reports whether the optional *Node parameter field of node's op is set.
func hasNodeParam(node *graph.Node, field string) (bool, error) {
	f, err := opParam(node, field)
	if err != nil {
		return false, err
	}
	if f.Kind() != reflect.Pointer {
		return false, fmt.Errorf("jvp: parameter %q of %s is %s, not a node", field, node, f.Type())
	}
	return !f.IsNil(), nil
}

// structIntField returns the integer field sub of the struct parameter field of node's op
// (e.g. options.Activation of FusedDense).
func structIntField(node *graph.Node, field, sub string) (int, error) {
	f, err := opParam(node, field)
	if err != nil {
		return 0, err
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return 0, fmt.Errorf("jvp: parameter %q of %s is nil", field, node)
		}
		f = f.Elem()
	}
	if f.Kind() != reflect.Struct {
		return 0, fmt.Errorf("jvp: parameter %q of %s is %s, not a struct", field, node, f.Type())
	}
	s := f.FieldByName(sub)
	switch s.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(s.Int()), nil
	}
	return 0, fmt.Errorf("jvp: parameter %s.%s of %s is missing or not an integer", field, sub, node)
}

// alternateOutput returns the decomposed twin GoMLX built for a fused node (kept for reverse mode),
// or nil.
func alternateOutput(node *graph.Node) *graph.Node {
	f := reflect.ValueOf(node).Elem().FieldByName("vjpAlternateOutputs")
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Len() != 1 {
		return nil
	}
	e := f.Index(0)
	if e.Kind() != reflect.Pointer || e.IsNil() {
		return nil
	}
	return (*graph.Node)(e.UnsafePointer())
}
