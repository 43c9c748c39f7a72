package deploy

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/xla/export"
)

// Names of the exported graph's inputs and output.
const (
	InputObs   = "obs"
	InputNoise = "noise"
	OutputAct  = "action"
)

// ExportSpec describes the action function for xla/export at a fixed batch size: inputs "obs"
// [batch, ObsDim] and "noise" [batch, N, h·ActDim] (float32, ε ~ N(0, I)), output "action"
// [batch, h·ActDim]. Shapes are static (see package export for why); export once per batch size.
func (p *Policy) ExportSpec(batch int) (export.Spec, error) {
	if batch <= 0 {
		return export.Spec{}, fmt.Errorf("deploy: export batch size %d must be positive", batch)
	}
	store, err := p.Store()
	if err != nil {
		return export.Spec{}, err
	}
	act := p.ActionFn()
	c := &p.Config
	return export.Spec{
		Store: store,
		Fn: func(scope *model.Scope, in []*Node) []*Node {
			return []*Node{act(scope, in[0], in[1])}
		},
		Inputs: []shapes.Shape{
			shapes.Make(dtypes.Float32, batch, c.ObsDim),
			shapes.Make(dtypes.Float32, batch, c.Candidates, c.ChunkDim()),
		},
		Name:        "act_" + c.Kind,
		InputNames:  []string{InputObs, InputNoise},
		OutputNames: []string{OutputAct},
	}, nil
}

// WriteONNX writes the action function as an ONNX model with the weights embedded, at a static
// batch size, or with a symbolic "batch" axis when batch is 0 (export.DynamicBatchONNX: a Scan of
// the batch-1 graph over the rows). It needs the cgo build with -tags onnx and libonnxruntime.so
// (see export.ONNX).
func (p *Policy) WriteONNX(w io.Writer, batch int) error {
	if batch != 0 {
		spec, err := p.ExportSpec(batch)
		if err != nil {
			return err
		}
		return export.ONNX(w, spec)
	}
	spec, err := p.ExportSpec(1)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := export.ONNX(&buf, spec); err != nil {
		return err
	}
	model, err := export.DynamicBatchONNX(buf.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(model)
	return err
}

// WriteStableHLO writes the StableHLO MLIR module of the action function at the given batch size,
// compiled by the PJRT plugin named by plugin (see export.StableHLO).
func (p *Policy) WriteStableHLO(w io.Writer, batch int, plugin string) error {
	spec, err := p.ExportSpec(batch)
	if err != nil {
		return err
	}
	return export.StableHLO(w, spec, plugin)
}
