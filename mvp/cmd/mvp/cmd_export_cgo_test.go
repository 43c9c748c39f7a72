//go:build onnx && !noxla

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
	"github.com/gomvp/gomvp/xla/export/exporttest"
)

// TestExportTrainedAllFormats exports a trained checkpoint in the three formats: the ONNX file run
// by onnxruntime and the policy run by the XLA CPU plugin (the compiler of the StableHLO module)
// both match the Go policy within 1e-5 on random observations and fixed noise.
func TestExportTrainedAllFormats(t *testing.T) {
	run := trainedRun(t)
	dir := t.TempDir()
	policyDir := filepath.Join(dir, "policy")
	if err := runExport([]string{"--checkpoint", run, "--format", "gomlx", "--out", policyDir}); err != nil {
		t.Fatal(err)
	}
	p, err := deploy.Load(policyDir)
	if err != nil {
		t.Fatal(err)
	}
	goBackend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	p.SetBackend(goBackend)
	c := p.Config
	const batch = 3
	obs, noise := randomInputs(c, batch, 7)
	want, err := p.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}

	onnxPath := filepath.Join(dir, "policy.onnx")
	if err := runExport([]string{"--checkpoint", run, "--format", "onnx", "--batch", "3", "--out", onnxPath}); err != nil {
		t.Fatal(err)
	}
	res, err := exporttest.RunONNX(onnxPath,
		exporttest.Input{Name: deploy.InputObs, Data: obs, Dims: []int{batch, c.ObsDim}},
		exporttest.Input{Name: deploy.InputNoise, Data: noise, Dims: []int{batch, c.Candidates, c.ChunkDim()}})
	if err != nil {
		t.Fatal(err)
	}
	outs, version := res.Outputs, res.Version
	d := exporttest.MaxAbsDiff(want, outs[0].Data)
	t.Logf("trained %s policy (N=%d, h=%d): onnxruntime %s, max |Go − ORT| = %.3g", c.Kind, c.Candidates, c.Horizon, version, d)
	if d > 1e-5 {
		t.Errorf("onnxruntime differs from the Go policy by %g > 1e-5", d)
	}

	// --batch 0: a symbolic batch axis, run here on 3 rows.
	dynPath := filepath.Join(dir, "policy-dyn.onnx")
	if err := runExport([]string{"--checkpoint", run, "--format", "onnx", "--batch", "0", "--out", dynPath}); err != nil {
		t.Fatal(err)
	}
	res, err = exporttest.RunONNX(dynPath,
		exporttest.Input{Name: deploy.InputObs, Data: obs, Dims: []int{batch, c.ObsDim}},
		exporttest.Input{Name: deploy.InputNoise, Data: noise, Dims: []int{batch, c.Candidates, c.ChunkDim()}})
	if err != nil {
		t.Fatal(err)
	}
	d = exporttest.MaxAbsDiff(want, res.Outputs[0].Data)
	t.Logf("dynamic batch (inputs %v): max |Go − ORT| = %.3g", res.Inputs, d)
	if d > 1e-5 {
		t.Errorf("dynamic-batch ONNX differs from the Go policy by %g > 1e-5", d)
	}

	mlirPath := filepath.Join(dir, "policy.mlir")
	if err := runExport([]string{"--checkpoint", policyDir, "--format", "stablehlo", "--batch", "3", "--out", mlirPath}); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(mlirPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"module @act_mvp", "func.func @main(%arg0: tensor<3x16xf32>, %arg1: tensor<3x32x25xf32>) -> tensor<3x25xf32>", "stablehlo.dot_general"} {
		if !strings.Contains(string(text), s) {
			t.Errorf("StableHLO module lacks %q", s)
		}
	}
	xlaBackend, err := xla.NewBackend("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	p.SetBackend(xlaBackend)
	got, err := p.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}
	d = exporttest.MaxAbsDiff(want, got)
	t.Logf("XLA CPU plugin: max |go − xla| = %.3g", d)
	if d > 1e-5 {
		t.Errorf("the policy on XLA differs from the go backend by %g", d)
	}
}

// TestExportStableHLONoPlugin runs `mvp export --format stablehlo` in a child process that has no
// PJRT plugin in reach: the error says what is missing and where it was looked for.
func TestExportStableHLONoPlugin(t *testing.T) {
	if os.Getenv("MVP_EXPORT_NO_PLUGIN_CHILD") == "1" {
		err := runExport([]string{"--checkpoint", os.Getenv("MVP_EXPORT_POLICY"), "--format", "stablehlo", "--out", filepath.Join(t.TempDir(), "x.mlir")})
		if err != nil {
			os.Stderr.WriteString("EXPORT ERROR: " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Exit(0)
	}
	policyDir := filepath.Join(t.TempDir(), "policy")
	if err := runExport([]string{"--checkpoint", trainedRun(t), "--format", "gomlx", "--out", policyDir}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExportStableHLONoPlugin$")
	cmd.Env = append(os.Environ(), "MVP_EXPORT_NO_PLUGIN_CHILD=1", "MVP_EXPORT_POLICY="+policyDir,
		"PJRT_PLUGIN_LIBRARY_PATH="+t.TempDir(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "EXPORT ERROR: ") || !strings.Contains(string(out), "needs a PJRT plugin and none was found") {
		t.Errorf("child: err %v, output:\n%s\nwant a 'needs a PJRT plugin' error", err, out)
	}
}
