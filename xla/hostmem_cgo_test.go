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
	"sync"
	"syscall"
	"testing"
	"unsafe"

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

// skipWithoutLargeBlockCache skips where the program's allocator entry points are glibc's own.
func skipWithoutLargeBlockCache(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the cache of large blocks is glibc's (Linux)")
	}
	if !largeBlockCacheOn() {
		t.Skipf("the cache is off (%s=0, or built with the mvp_system_malloc tag)", KeepHostMemoryEnv)
	}
}

// words views the first and last 8 bytes of a C block of n bytes.
func words(p unsafe.Pointer, n uintptr) (first, last *uint64) {
	return (*uint64)(p), (*uint64)(unsafe.Add(p, n-8))
}

// A large block freed by the PJRT plugin's code (C's free) is the block the next request of its
// size gets, with its alignment, a usable size glibc can report, and its contents when it is
// reallocated.
func TestLargeBlocksReused(t *testing.T) {
	skipWithoutLargeBlockCache(t)
	const n = 48 << 20
	p, rc := cPosixMemalign(64, n)
	if rc != 0 || p == nil {
		t.Fatalf("posix_memalign(64, 48 MiB) = %v, %d", p, rc)
	}
	first, last := words(p, n)
	*first, *last = 1, 2
	if got := cUsableSize(p); got < n {
		t.Errorf("malloc_usable_size = %d, want ≥ %d", got, n)
	}
	cFree(p)
	q, rc := cPosixMemalign(64, n-4096)
	if rc != 0 || q != p {
		t.Errorf("the next request of about the same size got %v (rc %d), not the freed block %v", q, rc, p)
	}
	cFree(q)

	big, rc := cPosixMemalign(1<<16, 40<<20)
	if rc != 0 || uintptr(big)%(1<<16) != 0 {
		t.Fatalf("posix_memalign(64 KiB, 40 MiB) = %v, %d: not aligned", big, rc)
	}
	cFree(big)
	if _, rc := cPosixMemalign(3, n); syscall.Errno(rc) != syscall.EINVAL {
		t.Errorf("posix_memalign with alignment 3 returned %d, want EINVAL", rc)
	}

	// realloc keeps the contents, to a larger and to a small block.
	m := cMalloc(n)
	first, last = words(m, n)
	*first, *last = 7, 9
	grown := cRealloc(m, 2*n)
	if f, l := words(grown, n); *f != 7 || *l != 9 {
		t.Errorf("realloc to 96 MiB kept %d…%d, want 7…9", *f, *l)
	}
	arr := cReallocArray(grown, 3, n) // 144 MiB, through reallocarray
	if f, l := words(arr, n); arr == nil || *f != 7 || *l != 9 {
		t.Errorf("reallocarray to 3×48 MiB kept %d…%d, want 7…9", *f, *l)
	}
	if cReallocArray(arr, 1<<62, 8) != nil {
		t.Errorf("reallocarray with an overflowing size did not fail")
	}
	small := cRealloc(arr, 64)
	if f, _ := words(small, 64); *f != 7 {
		t.Errorf("realloc to 64 bytes kept %d, want 7", *f)
	}
	cFree(small)
	if mapped, inUse := largeBlocks(); inUse != 0 || mapped == 0 {
		t.Errorf("after freeing everything: %d large blocks mapped, %d in use", mapped, inUse)
	}
}

// A block larger than every free one replaces them and serves requests down to half its size: the
// cache keeps about the peak of large blocks in use at once, not one block per size ever requested.
func TestLargeBlocksSuperseded(t *testing.T) {
	skipWithoutLargeBlockCache(t)
	p := cMalloc(40 << 20)
	cFree(p)
	q := cMalloc(200 << 20)
	if mapped, inUse := largeBlocks(); mapped != 1 || inUse != 1 {
		t.Errorf("after a 200 MiB block: %d large blocks mapped, %d in use; want the new one only", mapped, inUse)
	}
	cFree(q)
	if r := cMalloc(120 << 20); r != q {
		t.Errorf("a 120 MiB request got %v, not the free 200 MiB block %v", r, q)
	} else {
		cFree(r)
	}
	small := cMalloc(40 << 20) // less than half of the free 200 MiB block: a block of its own
	if small == q {
		t.Errorf("a 40 MiB request got the free 200 MiB block")
	}
	cFree(small)
}

// More large blocks alive than the cache has slots: the rest come from glibc, and every one is
// freed to where it came from.
func TestLargeBlocksBeyondTheCache(t *testing.T) {
	skipWithoutLargeBlockCache(t)
	n, slots := largeBlockLimits()
	n += 4096
	var blocks []unsafe.Pointer
	seen := map[unsafe.Pointer]bool{}
	for i := range slots + 8 {
		p := cMalloc(n)
		if p == nil || seen[p] {
			t.Fatalf("block %d: %v (nil or handed out twice)", i, p)
		}
		seen[p] = true
		first, last := words(p, n)
		*first, *last = uint64(i), uint64(i)
		blocks = append(blocks, p)
	}
	if mapped, inUse := largeBlocks(); mapped != slots || inUse != slots {
		t.Errorf("%d blocks alive: %d large blocks mapped, %d in use; want all %d slots in use", len(blocks), mapped, inUse, slots)
	}
	for i, p := range blocks {
		if first, last := words(p, n); *first != uint64(i) || *last != uint64(i) {
			t.Errorf("block %d holds %d…%d", i, *first, *last)
		}
		cFree(p)
	}
	if _, inUse := largeBlocks(); inUse != 0 {
		t.Errorf("%d large blocks still in use after freeing all", inUse)
	}
}

// Threads taking and freeing large blocks at once never get the same block.
func TestLargeBlocksConcurrent(t *testing.T) {
	skipWithoutLargeBlockCache(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a thread of its own, as XLA's are
			defer runtime.UnlockOSThread()
			for i := range 200 {
				n := uintptr(32+(w*7+i)%9) << 20
				p := cMalloc(n)
				if p == nil {
					errs <- fmt.Errorf("worker %d: malloc(%d) failed", w, n)
					return
				}
				tag := uint64(w)<<32 | uint64(i)
				first, last := words(p, n)
				*first, *last = tag, tag
				runtime.Gosched()
				if *first != tag || *last != tag {
					errs <- fmt.Errorf("worker %d: block %v overwritten (%x, %x, want %x)", w, p, *first, *last, tag)
					return
				}
				cFree(p)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
