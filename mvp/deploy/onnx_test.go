//go:build onnx

package deploy

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomvp/gomvp/xla/export/exporttest"
)

// TestONNXMatchesAct exports the whole action function (normalisers, one-step generation for N
// candidates, critic ensemble, argmax) and runs it with onnxruntime on random observations and
// fixed noise: the chunks match the Go policy within 1e-5.
func TestONNXMatchesAct(t *testing.T) {
	cfg := testConfig()
	cfg.ObsNorm = &Normalizer{Shift: []float32{1, 2, 3, 4}, Scale: []float32{1, 0.5, 2, 4}}
	cfg.ActNorm = &Normalizer{Shift: []float32{0.5, -0.5}, Scale: []float32{2, 3}}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"mean_flow", cfg},
		{"flow_k3_fourier", func() Config {
			c := testConfig()
			c.Generator = GeneratorConfig{Type: GenFlow, Steps: 3, TimeFeatures: "fourier", FourierFrequencies: 2,
				Net: MLPConfig{Widths: []int{8}, Activation: "gelu", LayerNorm: true, LayerNormEpsilon: 1e-6}}
			return c
		}()},
		{"regression_no_critic", func() Config {
			c := testConfig()
			c.Candidates, c.Critic = 1, nil
			c.Generator = GeneratorConfig{Type: GenRegression, Net: MLPConfig{Widths: []int{8}, Activation: "relu"}}
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := randomPolicy(t, tc.cfg, 8)
			c := p.Config
			r := rand.New(rand.NewPCG(3, 3))
			for _, batch := range []int{1, 4, 0} {
				var buf bytes.Buffer
				if err := p.WriteONNX(&buf, batch); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "policy.onnx")
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				// batch 0 exports a symbolic batch axis: run it on 3 rows.
				rows := batch
				if batch == 0 {
					rows = 3
				}
				obs := randn(r, rows*c.ObsDim)
				for i := range obs {
					obs[i] = obs[i]*2 + 2
				}
				noise := randn(r, rows*c.Candidates*c.ChunkDim())
				want, err := p.Act(obs, noise)
				if err != nil {
					t.Fatal(err)
				}
				res, err := exporttest.RunONNX(path,
					exporttest.Input{Name: InputObs, Data: obs, Dims: []int{rows, c.ObsDim}},
					exporttest.Input{Name: InputNoise, Data: noise, Dims: []int{rows, c.Candidates, c.ChunkDim()}})
				if err != nil {
					t.Fatal(err)
				}
				outs, version := res.Outputs, res.Version
				if declared := fmt.Sprint(res.Inputs[0][1]); batch == 0 && declared != "[batch 4]" || batch > 0 && declared != fmt.Sprintf("[%d 4]", batch) {
					t.Errorf("batch %d: onnxruntime reads input %v with shape %s", batch, res.Inputs[0][0], declared)
				}
				if len(outs) != 1 || outs[0].Name != OutputAct || len(outs[0].Data) != len(want) {
					t.Fatalf("onnxruntime outputs %+v, want one %q with %d values", outs, OutputAct, len(want))
				}
				d := exporttest.MaxAbsDiff(want, outs[0].Data)
				t.Logf("batch %d: %d-byte ONNX, onnxruntime %s, max |Go − ORT| = %.3g", batch, buf.Len(), version, d)
				if d > 1e-5 {
					t.Errorf("batch %d: onnxruntime differs from the Go policy by %g > 1e-5", batch, d)
				}
			}
		})
	}
}
