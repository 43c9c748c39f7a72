package xla

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// wideGraph has branches independent matmul chains plus their gradient: many DotGeneral ops ready at
// the same time, each of which fans out through the go backend's worker pool.
func wideGraph(branches int) func(in []*Node) []*Node {
	return func(in []*Node) []*Node {
		x, ws := in[0], in[1:]
		var total *Node
		for i := range branches {
			h := Tanh(DotProduct(x, ws[i%len(ws)]))
			h = DotProduct(h, ws[(i+1)%len(ws)])
			s := ReduceAllSum(Square(h))
			if total == nil {
				total = s
			} else {
				total = Add(total, s)
			}
		}
		grads := Gradient(total, ws...)
		return append([]*Node{total}, grads...)
	}
}

func runWideGraph(backend compute.Backend, branches, repeats int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	randT := func(rows, cols int, scale float32) *tensors.Tensor {
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = scale * float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(data, rows, cols)
	}
	args := []any{randT(256, 256, 1)}
	for range 8 {
		args = append(args, randT(256, 256, 0.06))
	}
	exec, err := NewExec(backend, wideGraph(branches))
	if err != nil {
		return err
	}
	for range repeats {
		out, err := exec.Call(args...)
		if err != nil {
			return err
		}
		for _, t := range out {
			t.FinalizeAll()
		}
	}
	return nil
}

// The default go configuration runs a graph with dozens of concurrent matmuls (and the MVP update,
// see mvp's tests) to completion.
func TestDefaultGoConfigDoesNotDeadlock(t *testing.T) {
	b, err := NewBackend(DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runWideGraph(b, 48, 3) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the wide graph did not finish in 3 minutes with " + DefaultGoConfig)
	}
}

// helperConfigEnv makes the test binary run the wide graph with another configuration, in a
// subprocess, since a deadlock kills the whole process.
const helperConfigEnv = "GOMVP_POOL_HELPER_CONFIG"

func TestPoolHelper(t *testing.T) {
	config := os.Getenv(helperConfigEnv)
	if config == "" {
		t.Skip("subprocess helper of TestSmallPoolDeadlocks")
	}
	var b compute.Backend
	var err error
	if raw, ok := strings.CutPrefix(config, "raw:"); ok {
		b, err = compute.NewWithConfig(raw) // as GoMLX itself would create it, without NewBackend's normalisation
	} else {
		b, err = NewBackend(config)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := runWideGraph(b, 48, 3); err != nil {
		t.Fatal(err)
	}
	fmt.Println("POOL-HELPER-OK")
}

// The failure NewBackend avoids: with a bounded pool and parallel ops (GoMLX's own reading of
// "go:parallelism=2") the graph deadlocks; every spelling through NewBackend completes.
func TestSmallPoolDeadlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns subprocesses")
	}
	for _, config := range []string{"raw:go:parallelism=2", "go:parallelism=2", "go", "go:parallelism=1", "go:parallelism=-1", "go:ops_sequential"} {
		// The runtime reports "all goroutines are asleep" only without cgo; with cgo a deadlocked
		// process just hangs, so a timeout counts as a deadlock too.
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPoolHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperConfigEnv+"="+config)
		cmd.WaitDelay = 5 * time.Second
		out, _ := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		deadlocked := strings.Contains(string(out), "deadlock") || timedOut
		ok := strings.Contains(string(out), "POOL-HELPER-OK")
		t.Logf("%s: completed=%v deadlocked=%v", config, ok, deadlocked)
		switch config {
		case "raw:go:parallelism=2":
			if !deadlocked {
				t.Errorf("%s: expected the known deadlock, got:\n%s", config, tail(string(out), 2000))
			}
		default:
			if !ok {
				t.Errorf("%s did not complete:\n%s", config, tail(string(out), 2000))
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
