//go:build onnx

package export

import (
	"fmt"
	"io"
	"os"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute-onnx" // registers the "onnx" backend
	"github.com/gomlx/gomlx/ml/model"
	gonnx "github.com/gomlx/gomlx/ml/model/onnx"
)

// ONNXAvailable reports whether this binary can write ONNX (the cgo build with -tags onnx).
const ONNXAvailable = true

// ONNX compiles spec on the onnxruntime backend and writes the ONNX model (opset 21, weights as
// initializers). The backend's graph builder emits the ONNX protobuf in Go, but its Compile always
// creates an onnxruntime session as well, so libonnxruntime.so must be loadable (FindONNXRuntime);
// it is never downloaded.
func ONNX(w io.Writer, spec Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	lib, err := FindONNXRuntime()
	if err != nil {
		return err
	}
	if err := os.Setenv(ONNXRuntimeEnv, lib); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	backend, err := compute.NewWithConfig("onnx:cpu")
	if err != nil {
		return fmt.Errorf("export: creating the onnxruntime backend with %s: %w", lib, err)
	}
	exec, err := model.NewExec(backend, spec.Store, spec.Fn)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	exec.WithName(spec.name())
	defer exec.Finalize()
	if err := gonnx.Save(backend, exec, w, spec.Inputs, spec.InputNames, spec.OutputNames); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
