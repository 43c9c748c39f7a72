package jvp

import (
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// BenchmarkMVPNetwork times one evaluation of the MVP-sized network (4×512 GELU+LayerNorm, batch 256,
// float32) alone, with du/dt by forward mode, and with du/dt by double-VJP:
//
//	go test -tags noxla -run '^$' -bench MVPNetwork -benchtime 40x ./xla/jvp/
//
// steps/s is evaluations per second; peak-MiB the Go heap's peak growth during a few extra
// (untimed) evaluations; the go backend keeps its buffers on the Go heap.
func BenchmarkMVPNetwork(b *testing.B) {
	backend := testBackend(b)
	rng := rand.New(rand.NewPCG(11, 12))
	args := append(mlpInputs(rng), randFloat32(rng, []int{mlpBatch, mlpAct}, 1))
	args = append(args, mlpParams(rng)...)
	for _, variant := range mlpVariants() {
		b.Run(variant.name, func(b *testing.B) {
			exec, err := NewExec(backend, variant.fn)
			if err != nil {
				b.Fatal(err)
			}
			run := func() {
				out, err := exec.Call(toAny(args)...)
				if err != nil {
					b.Fatal(err)
				}
				for _, t := range out {
					t.FinalizeAll()
				}
			}
			run() // Compile.
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(peakHeapMiB(run, 5), "peak-MiB")
		})
	}
}

type mlpVariant struct {
	name string
	fn   func(in []*Node) []*Node
}

func mlpVariants() []mlpVariant {
	return []mlpVariant{
		{"primal", func(in []*Node) []*Node {
			return []*Node{mlp(in[0], in[1], in[2], in[3], in[5:])}
		}},
		{"forward-JVP", func(in []*Node) []*Node {
			u, dudt, err := mlpJVP(in)
			if err != nil {
				panic(err)
			}
			return []*Node{u, dudt}
		}},
		{"double-VJP", func(in []*Node) []*Node {
			u, dudt := mlpDoubleVJP(in)
			return []*Node{u, dudt}
		}},
	}
}

// BenchmarkMVPNetworkRatios evaluates the three variants in turn, b.N rounds, and reports the
// median time of each and the ratios to the primal: interleaving keeps the ratios meaningful on a
// machine whose load changes during the run.
func BenchmarkMVPNetworkRatios(b *testing.B) {
	backend := testBackend(b)
	rng := rand.New(rand.NewPCG(11, 12))
	args := append(mlpInputs(rng), randFloat32(rng, []int{mlpBatch, mlpAct}, 1))
	args = append(args, mlpParams(rng)...)
	variants := mlpVariants()
	runs := make([]func(), len(variants))
	for i, variant := range variants {
		exec, err := NewExec(backend, variant.fn)
		if err != nil {
			b.Fatal(err)
		}
		runs[i] = func() {
			out, err := exec.Call(toAny(args)...)
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range out {
				t.FinalizeAll()
			}
		}
		runs[i]() // Compile.
	}
	wall := make([][]float64, len(variants))
	cpu := make([][]float64, len(variants))
	for b.Loop() {
		for i, run := range runs {
			start, startCPU := time.Now(), processCPUSeconds()
			run()
			wall[i] = append(wall[i], time.Since(start).Seconds())
			cpu[i] = append(cpu[i], processCPUSeconds()-startCPU)
		}
	}
	wallMed, cpuMed := make([]float64, len(variants)), make([]float64, len(variants))
	for i := range variants {
		wallMed[i], cpuMed[i] = median(wall[i]), median(cpu[i])
		b.ReportMetric(wallMed[i]*1e3, variants[i].name+"-ms")
		b.ReportMetric(cpuMed[i]*1e3, variants[i].name+"-cpu-ms")
	}
	for i := 1; i < len(variants); i++ {
		b.ReportMetric(wallMed[i]/wallMed[0], variants[i].name+"/primal")
		b.ReportMetric(cpuMed[i]/cpuMed[0], variants[i].name+"/primal-cpu")
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// processCPUSeconds is the user+system CPU time of this process: on a shared machine the CPU time a
// variant consumes varies much less than its wall time.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakHeapMiB runs fn n times while sampling the heap, and returns the peak heap in use above the
// level before the first run.
func peakHeapMiB(fn func(), n int) float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		for !stop.Load() {
			runtime.ReadMemStats(&s)
			if s.HeapInuse > peak.Load() {
				peak.Store(s.HeapInuse)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for range n {
		fn()
	}
	stop.Store(true)
	wg.Wait()
	if peak.Load() < base {
		return 0
	}
	return float64(peak.Load()-base) / (1 << 20)
}

var _ = tensors.FromShape
