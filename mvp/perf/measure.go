package perf

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
)

// Timing holds the durations of the timed calls of a loop (warm-up calls excluded) and the
// process CPU time (user + system, all threads) they used: on a shared machine the CPU time per
// call is far steadier than the wall time.
type Timing struct {
	Durations []time.Duration
	CPU       time.Duration
}

// CPUPerCall is the process CPU time per timed call.
func (t Timing) CPUPerCall() time.Duration {
	if len(t.Durations) == 0 {
		return 0
	}
	return t.CPU / time.Duration(len(t.Durations))
}

// ProcessCPU is the CPU time (user + system) this process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TimeLoop calls fn warmup times untimed, then times it until at least minTime has passed and
// minIters calls were made. It stops at the first error.
func TimeLoop(fn func() error, warmup, minIters int, minTime time.Duration) (Timing, error) {
	for i := 0; i < warmup; i++ {
		if err := fn(); err != nil {
			return Timing{}, err
		}
	}
	var t Timing
	start, cpu0 := time.Now(), ProcessCPU()
	for len(t.Durations) < minIters || time.Since(start) < minTime {
		t0 := time.Now()
		if err := fn(); err != nil {
			return t, err
		}
		t.Durations = append(t.Durations, time.Since(t0))
	}
	t.CPU = ProcessCPU() - cpu0
	return t, nil
}

// Percentile returns the p-th percentile (0–100) of the durations, by nearest rank.
func (t Timing) Percentile(p float64) time.Duration {
	if len(t.Durations) == 0 {
		return 0
	}
	d := slices.Clone(t.Durations)
	slices.Sort(d)
	k := int(math.Round(p / 100 * float64(len(d)-1)))
	return d[min(max(k, 0), len(d)-1)]
}

// Median is Percentile(50).
func (t Timing) Median() time.Duration { return t.Percentile(50) }

// Rate is calls per second from the median duration (robust to a stray slow call).
func (t Timing) Rate() float64 {
	m := t.Median()
	if m <= 0 {
		return 0
	}
	return 1 / m.Seconds()
}

// MatmulFLOPs measures the FLOP/s of one [m, k]×[k, n] float32 matmul on backend: the practical
// peak of the backend at that shape (a proxy for what the cores can do). The product is reduced to
// a scalar in the graph so that the timing includes the whole computation on any device.
func MatmulFLOPs(backend compute.Backend, m, k, n int, minTime time.Duration) (float64, error) {
	exec, err := NewExec(backend, func(x, w *Node) *Node { return ReduceAllSum(MatMul(x, w)) })
	if err != nil {
		return 0, fmt.Errorf("perf: matmul executor: %w", err)
	}
	defer exec.Finalize()
	x := tensors.FromFlatDataAndDimensions(filled(m*k, 0.001), m, k)
	w := tensors.FromFlatDataAndDimensions(filled(k*n, 0.002), k, n)
	t, err := TimeLoop(func() error {
		out, err := exec.Call(x, w)
		if err != nil {
			return err
		}
		_ = out[0].Value()
		out[0].MustFinalizeAll()
		return nil
	}, 2, 3, minTime)
	if err != nil {
		return 0, fmt.Errorf("perf: matmul %dx%dx%d: %w", m, k, n, err)
	}
	return 2 * float64(m) * float64(k) * float64(n) * t.Rate(), nil
}

func filled(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v * float32(i%97)
	}
	return s
}

// CPUPeak is the theoretical float32 peak of the cores this process may use, from the CPU's SIMD
// width and clock: cores × clock × FMA units × lanes × 2. FMAUnits is an assumption (2 for the
// AVX-512/AVX2 server cores of recent Intel and AMD generations), stated in the report.
type CPUPeak struct {
	Model    string  `json:"model"`
	Cores    int     `json:"cores"`
	ClockGHz float64 `json:"clock_ghz"`
	Lanes    int     `json:"fp32_lanes"` // 16 with AVX-512, 8 with AVX2
	FMAUnits int     `json:"fma_units_assumed"`
	FLOPs    float64 `json:"flops"`
}

// ReadCPUPeak reads /proc/cpuinfo (Linux); on other systems it returns an error.
func ReadCPUPeak() (CPUPeak, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return CPUPeak{}, fmt.Errorf("perf: reading CPU info: %w", err)
	}
	defer f.Close()
	p := CPUPeak{Cores: runtime.GOMAXPROCS(0), FMAUnits: 2, Lanes: 4}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "model name":
			if p.Model == "" {
				p.Model = val
			}
		case "cpu MHz":
			if p.ClockGHz == 0 {
				if mhz, err := strconv.ParseFloat(val, 64); err == nil {
					p.ClockGHz = mhz / 1000
				}
			}
		case "flags":
			flags := " " + val + " "
			switch {
			case strings.Contains(flags, " avx512f "):
				p.Lanes = 16
			case strings.Contains(flags, " avx2 "):
				p.Lanes = 8
			}
			if !strings.Contains(flags, " fma ") && !strings.Contains(flags, " avx512f ") {
				p.FMAUnits = 1 // no FMA: a multiply and an add pipe, counted as one FMA-equivalent
			}
		}
	}
	if p.ClockGHz == 0 {
		return p, fmt.Errorf("perf: no clock in /proc/cpuinfo")
	}
	p.FLOPs = float64(p.Cores) * p.ClockGHz * 1e9 * float64(p.FMAUnits) * float64(p.Lanes) * 2
	return p, nil
}

// PeakRSSMiB is the process's peak resident memory (getrusage ru_maxrss, KiB on Linux).
func PeakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Maxrss) / 1024
}

// LoadAverage returns the 1-minute load average (Linux; NaN elsewhere): other processes on a
// shared machine change every number here, so each report carries it.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
