//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// faultsHelperEnv makes TestHostMemoryFaultsHelper run (in a child process) instead of skipping.
const faultsHelperEnv = "MVP_TEST_FAULTS_HELPER"

// A binary with XLA reuses the host memory XLA frees between executions: a computation with a
// 64 MiB temporary causes few page faults per run, where with the C allocator's defaults
// (KeepHostMemoryEnv=0) each run maps, faults in and unmaps its temporaries afresh.
func TestHostMemoryReusedBetweenExecutions(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the policy is glibc's (Linux)")
	}
	cpuPlugin(t) // skips without a plugin, before starting children
	faults := func(keep string) float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostMemoryFaultsHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), faultsHelperEnv+"=1", KeepHostMemoryEnv+"="+keep)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with %s=%s: %v\n%s", KeepHostMemoryEnv, keep, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "faults per execution: "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatalf("child with %s=%s printed no fault count:\n%s", KeepHostMemoryEnv, keep, out)
		return 0
	}
	kept, dflt := faults("1"), faults("0")
	t.Logf("minor page faults per execution: %.0f kept, %.0f with the allocator's defaults", kept, dflt)
	// 64 MiB in 4 KiB pages is 16384 faults when every run touches fresh memory.
	if kept > 2000 || kept > dflt/8 {
		t.Errorf("with the policy each execution still faults %.0f pages (%.0f without it)", kept, dflt)
	}
}

// TestHostMemoryFaultsHelper runs in the child processes of TestHostMemoryReusedBetweenExecutions
// and prints the median number of page faults per execution.
func TestHostMemoryFaultsHelper(t *testing.T) {
	if os.Getenv(faultsHelperEnv) == "" {
		t.Skip("helper of TestHostMemoryReusedBetweenExecutions")
	}
	if got, want := HostMemoryKept(), os.Getenv(KeepHostMemoryEnv) != "0"; got != want {
		t.Fatalf("HostMemoryKept() = %v with %s=%q", got, KeepHostMemoryEnv, os.Getenv(KeepHostMemoryEnv))
	}
	be := xlaCPUBackend(t)
	// A [8192, 2048] float32 product (tanh fused into it): a 64 MiB temporary per execution.
	exe := MustNewExec(be, func(x, w1, w2 *Node) *Node {
		return ReduceAllSum(MatMul(Tanh(MatMul(x, w1)), w2))
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 8192, 64))
	w1 := tensors.FromShape(shapes.Make(dtypes.Float32, 64, 2048))
	w2 := tensors.FromShape(shapes.Make(dtypes.Float32, 2048, 64))
	for range 3 { // warm-up: compilation, first allocations
		exe.MustExec(x, w1, w2)
	}
	// The median over runs: the heap may still grow once in a while (another block freed in
	// between splits the space), which is not what this measures.
	var faults []float64
	for range 9 {
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		exe.MustExec(x, w1, w2)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		faults = append(faults, float64(after.Minflt-before.Minflt))
	}
	slices.Sort(faults)
	fmt.Printf("faults per execution: %.1f\n", faults[len(faults)/2])
	t.Logf("page faults of each run, sorted: %v", faults)
}
