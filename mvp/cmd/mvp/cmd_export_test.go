package main

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
)

var (
	trainedOnce sync.Once
	trainedDir  string
	trainedErr  error
)

// trainedRun trains a small MVP agent on the embedded cube task with `mvp train` (once per test
// binary) and returns its run directory.
func trainedRun(t *testing.T) string {
	t.Helper()
	trainedOnce.Do(func() {
		trainedDir, trainedErr = os.MkdirTemp("", "mvp-export-run")
		if trainedErr != nil {
			return
		}
		trainedErr = runTrain([]string{"--agent", "mvp", "--dataset", "toy:cube-task1", "--hidden", "32,32",
			"--batch", "32", "--offline-steps", "60", "--online-steps", "0", "--eval-episodes", "1", "--eval-envs", "1",
			"--eval-every", "0", "--checkpoint-every", "0", "--log-every", "1000", "--no-progress", "--seed", "3",
			"--out", filepath.Join(trainedDir, "run")})
	})
	if trainedErr != nil {
		t.Fatalf("training the test agent: %v", trainedErr)
	}
	return filepath.Join(trainedDir, "run")
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(subprocessEnv); mode != "" {
		os.Exit(subprocessMain(mode, os.Args[1:]))
	}
	code := m.Run()
	if trainedDir != "" {
		os.RemoveAll(trainedDir)
	}
	os.Exit(code)
}

// agentAct runs the trained agent's own generate-and-select on noise [B, N, chunk].
func agentAct(t *testing.T, run string, obs, noise []float32) []float32 {
	t.Helper()
	ck, err := mvp.LatestCheckpoint(filepath.Join(run, "checkpoints"))
	if err != nil || ck == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	a, err := mvp.LoadAgent(backend, ck)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Spec
	b := len(obs) / c.ObsDim
	exec, err := model.NewExec(backend, a.Store, func(scope *model.Scope, s, eps *Node) *Node { return a.SelectBestOfN(scope, s, eps) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(obs, b, c.ObsDim), tensors.FromFlatDataAndDimensions(noise, b*c.Candidates, c.ChunkDim()))
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

func randomInputs(cfg deploy.Config, batch int, seed uint64) (obs, noise []float32) {
	r := rand.New(rand.NewPCG(seed, seed))
	obs = make([]float32, batch*cfg.ObsDim)
	for i := range obs {
		obs[i] = float32(r.NormFloat64())
	}
	noise = make([]float32, batch*cfg.Candidates*cfg.ChunkDim())
	for i := range noise {
		noise[i] = float32(r.NormFloat64())
	}
	return obs, noise
}

// TestExportGomlx exports a trained checkpoint as a policy directory and checks that the deploy
// package acts bit-identically to the agent on the go backend.
func TestExportGomlx(t *testing.T) {
	run := trainedRun(t)
	out := filepath.Join(t.TempDir(), "policy")
	if err := runExport([]string{"--checkpoint", run, "--format", "gomlx", "--out", out}); err != nil {
		t.Fatal(err)
	}
	p, err := deploy.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	p.SetBackend(backend)
	obs, noise := randomInputs(p.Config, 5, 1)
	got, err := p.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}
	want := agentAct(t, run, obs, noise)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("deployed policy differs from the trained agent at %d: %v vs %v", i, got[i], want[i])
		}
	}
	// A policy directory is itself a valid --checkpoint.
	out2 := filepath.Join(t.TempDir(), "again")
	if err := runExport([]string{"--checkpoint", out, "--format", "gomlx", "--out", out2}); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Load(out2); err != nil {
		t.Fatal(err)
	}
}

func TestExportErrors(t *testing.T) {
	run := trainedRun(t)
	empty := t.TempDir()
	corrupt := filepath.Join(t.TempDir(), "ckpt-000000000001.gmvp")
	ck, _ := mvp.LatestCheckpoint(filepath.Join(run, "checkpoints"))
	raw, err := os.ReadFile(ck.Path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x55
	if err := os.WriteFile(corrupt, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	policyDir := filepath.Join(t.TempDir(), "p")
	if err := runExport([]string{"--checkpoint", run, "--format", "gomlx", "--out", policyDir}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "gomlx", "--out", out}, "--checkpoint is required"},
		{[]string{"--checkpoint", run, "--out", out}, "--format is required"},
		{[]string{"--checkpoint", run, "--format", "tflite", "--out", out}, `"tflite" is not onnx, gomlx or stablehlo`},
		{[]string{"--checkpoint", run, "--format", "gomlx"}, "--out is required"},
		{[]string{"--checkpoint", run, "--format", "gomlx", "--batch", "-1", "--out", out}, "--batch -1: must be at least 1"},
		{[]string{"--checkpoint", run, "--format", "stablehlo", "--batch", "0", "--out", out}, "for --format onnx only"},
		{[]string{"--checkpoint", filepath.Join(empty, "nope"), "--format", "gomlx", "--out", out}, "no such file"},
		{[]string{"--checkpoint", empty, "--format", "gomlx", "--out", out}, "no checkpoint (ckpt-*.gmvp) or policy.json"},
		{[]string{"--checkpoint", corrupt, "--format", "gomlx", "--out", out}, "CRC-32C mismatch"},
		{[]string{"--checkpoint", policyDir, "--norm", "n.json", "--format", "gomlx", "--out", out}, "flag provided but not defined: -norm"},
	} {
		err := runExport(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mvp export %s: got %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed export left %s behind", out)
	}
}
