// Package export writes compiled GoMLX graph functions in deployable formats: ONNX (through the
// onnxruntime backend, build tag `onnx`) and StableHLO MLIR text (through XLA/PJRT, the default
// cgo build). Both embed the store's variables as constants, so the file is self-contained.
//
// Shapes are static: gomlx v0.28.2's shape-polymorphic ops (DynamicDimensionSize, DynamicReshape,
// emitted by ReduceMean/LayerNorm and reshapes on a dynamic axis) have no ONNX lowering, so a
// dynamic batch axis fails to compile. Export once per batch size instead (see Spec.Inputs).
package export

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// ErrNoONNX is returned by ONNX in builds without the onnx tag (see ONNXAvailable).
var ErrNoONNX = errors.New("export: ONNX export needs the onnxruntime backend, which this build leaves out: " +
	"build with cgo and -tags onnx (make build, with gcc) and point ONNXRUNTIME_SHARED_LIBRARY_PATH at libonnxruntime.so ≥ 1.26")

// ErrNoStableHLO is returned by StableHLO in builds without XLA (see StableHLOAvailable).
var ErrNoStableHLO = errors.New("export: StableHLO export needs XLA/PJRT, which this pure-Go build (-tags noxla) leaves out: " +
	"build with cgo and without the noxla tag (make build, with gcc) and provide a PJRT plugin")

// Spec is a graph function to export: Fn maps the inputs to the outputs; Store holds its
// variables, all with values; Inputs are the static shapes it is compiled for; InputNames and OutputNames name
// the exported graph's inputs and outputs (empty: backend defaults).
type Spec struct {
	// Name of the exported graph (ONNX graph name, StableHLO module name). Default "exported".
	Name        string
	Store       *model.Store
	Fn          func(scope *model.Scope, inputs []*graph.Node) []*graph.Node
	Inputs      []shapes.Shape
	InputNames  []string
	OutputNames []string
}

// name returns Name as an identifier valid in ONNX and MLIR.
func (s *Spec) name() string {
	if s.Name == "" {
		return "exported"
	}
	b := []byte(s.Name)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

func (s *Spec) validate() error {
	if s.Store == nil || s.Fn == nil {
		return errors.New("export: Spec needs a Store and a Fn")
	}
	if len(s.Inputs) == 0 {
		return errors.New("export: Spec needs the input shapes")
	}
	for i, sh := range s.Inputs {
		if !sh.Ok() {
			return fmt.Errorf("export: input %d has an invalid shape", i)
		}
		if sh.IsDynamic() {
			return fmt.Errorf("export: input %d has dynamic shape %s: export needs static shapes (one file per batch size), "+
				"because gomlx's dynamic-shape ops have no ONNX/StableHLO lowering here", i, sh)
		}
	}
	if len(s.InputNames) != 0 && len(s.InputNames) != len(s.Inputs) {
		return fmt.Errorf("export: %d input names for %d inputs", len(s.InputNames), len(s.Inputs))
	}
	for v := range s.Store.IterVariables() {
		if !v.HasValue() {
			return fmt.Errorf("export: variable %q has no value (load or initialise the model first)", v.Path())
		}
	}
	return nil
}
