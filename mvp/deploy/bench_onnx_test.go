//go:build onnx

package deploy

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	gonnx "github.com/gomlx/gomlx/ml/model/onnx"
)

// BenchmarkActONNX is one batch-1 decision of the exported ONNX file, loaded and run by
// onnxruntime in process (the same library the Python package ships), on the same policy as
// BenchmarkActGo.
func BenchmarkActONNX(b *testing.B) {
	p := randomPolicy(&testing.T{}, paperConfig(), 1)
	var buf bytes.Buffer
	if err := p.WriteONNX(&buf, 1); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "policy.onnx")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	backend, err := compute.NewWithConfig("onnx:cpu")
	if err != nil {
		b.Fatal(err)
	}
	exe, err := gonnx.LoadFromFile(backend, path)
	if err != nil {
		b.Fatal(err)
	}
	defer exe.Finalize()
	c := p.Config
	r := rand.New(rand.NewPCG(1, 1))
	obs := tensors.FromFlatDataAndDimensions(randn(r, c.ObsDim), 1, c.ObsDim)
	noise := tensors.FromFlatDataAndDimensions(randn(r, c.Candidates*c.ChunkDim()), 1, c.Candidates, c.ChunkDim())
	if _, err := exe.Call(obs, noise); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := exe.Call(obs, noise)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
}
