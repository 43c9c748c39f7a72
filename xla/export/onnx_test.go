//go:build onnx

package export

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/xla"
	"github.com/gomvp/gomvp/xla/export/exporttest"
)

// TestONNXMatchesGo exports the stand-in network per batch size, runs the file with onnxruntime
// (Python) on random inputs and compares with the same graph on the pure-Go backend.
func TestONNXMatchesGo(t *testing.T) {
	goBackend, err := xla.NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	store, err := newStandIn(goBackend, 3)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(goBackend, store, standIn)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, batch := range []int{1, 5} {
		path := filepath.Join(t.TempDir(), "standin.onnx")
		var buf bytes.Buffer
		spec := Spec{Store: store, Fn: standIn,
			Inputs:     []shapes.Shape{shapes.Make(dtypes.Float32, batch, standInObs), shapes.Make(dtypes.Float32, batch, standInNoise)},
			InputNames: []string{"obs", "noise"}, OutputNames: []string{"action"}}
		if err := ONNX(&buf, spec); err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		obs, noise := randomF32(r, batch*standInObs, 2), randomF32(r, batch*standInNoise, 1)
		want, err := exec.Call(tensors.FromFlatDataAndDimensions(obs, batch, standInObs), tensors.FromFlatDataAndDimensions(noise, batch, standInNoise))
		if err != nil {
			t.Fatal(err)
		}
		res, err := exporttest.RunONNX(path,
			exporttest.Input{Name: "obs", Data: obs, Dims: []int{batch, standInObs}},
			exporttest.Input{Name: "noise", Data: noise, Dims: []int{batch, standInNoise}})
		if err != nil {
			t.Fatal(err)
		}
		outs, version := res.Outputs, res.Version
		if len(outs) != 1 || outs[0].Name != "action" || len(outs[0].Dims) != 2 || outs[0].Dims[0] != batch || outs[0].Dims[1] != 3 {
			t.Fatalf("batch %d: onnxruntime outputs %+v, want one \"action\" [%d, 3]", batch, outs, batch)
		}
		d := exporttest.MaxAbsDiff(tensors.MustCopyFlatData[float32](want[0]), outs[0].Data)
		t.Logf("batch %d: %d-byte ONNX, onnxruntime %s, max |Go − ORT| = %.3g", batch, buf.Len(), version, d)
		if d > 1e-5 {
			t.Errorf("batch %d: onnxruntime differs from the Go backend by %g > 1e-5", batch, d)
		}
	}
}

func TestONNXErrors(t *testing.T) {
	goBackend, err := xla.NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	store, err := newStandIn(goBackend, 1)
	if err != nil {
		t.Fatal(err)
	}
	dyn := Spec{Store: store, Fn: standIn, Inputs: []shapes.Shape{
		shapes.MakeDynamic(dtypes.Float32, []int{shapes.DynamicDim, standInObs}, []string{"batch", ""}),
		shapes.MakeDynamic(dtypes.Float32, []int{shapes.DynamicDim, standInNoise}, []string{"batch", ""})}}
	if err := ONNX(&bytes.Buffer{}, dyn); err == nil || !strings.Contains(err.Error(), "static shapes") {
		t.Errorf("dynamic batch: got %v, want an error asking for static shapes", err)
	}
	t.Setenv(ONNXRuntimeEnv, filepath.Join(t.TempDir(), "missing.so"))
	static := Spec{Store: store, Fn: standIn, Inputs: []shapes.Shape{shapes.Make(dtypes.Float32, 1, standInObs), shapes.Make(dtypes.Float32, 1, standInNoise)}}
	if err := ONNX(&bytes.Buffer{}, static); err == nil || !strings.Contains(err.Error(), ONNXRuntimeEnv) {
		t.Errorf("missing library: got %v, want an error naming %s", err, ONNXRuntimeEnv)
	}
}
