package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/mvp/perf"
	"github.com/gomvp/gomvp/xla"
)

func init() {
	register(&command{name: "bench", summary: "time the MVP and QC updates and the action decision at the paper's sizes", run: runBench})
}

// benchResult is the JSON object `mvp bench` prints last. Keys ending in _steps_per_s and act_*_ms
// are the ones bench/compare.py sets against the JAX and PyTorch peers.
type benchResult struct {
	Peer    string `json:"peer"`    // "go", so the peers' table can tell the rows apart
	Backend string `json:"backend"` // xla.Choice.Name: "xla:cpu", "xla:cuda", "go:ops_sequential", …
	// BackendConfig reproduces the backend exactly (plugin paths, go options).
	BackendConfig string `json:"backend_config"`
	GoVersion     string `json:"go_version"`
	Threads       int    `json:"threads"` // GOMAXPROCS
	Fusion        string `json:"gomlx_fusion"`
	// HostMemoryKept: the C allocator keeps XLA's freed host buffers (xla.KeepHostMemoryEnv).
	HostMemoryKept bool       `json:"host_memory_kept"`
	Sizes          perf.Sizes `json:"sizes"`

	MVPUpdate      *perf.UpdateResult `json:"mvp_update,omitempty"`
	QCUpdate       *perf.UpdateResult `json:"qc_update,omitempty"`
	MVPActorUpdate *perf.UpdateResult `json:"mvp_actor_update,omitempty"`
	FMActorUpdate  *perf.UpdateResult `json:"fm_actor_update,omitempty"`
	// MVP0ActorUpdate is the generator update with λ = 0 (no L_IVC gradient): MF with its JVP only.
	MVP0ActorUpdate *perf.UpdateResult `json:"mvp_lambda0_actor_update,omitempty"`
	// MVPOverFM is the cost of an MVP generator update over a flow-matching one (target ≤ 1.5).
	MVPOverFM float64           `json:"mvp_actor_over_fm_actor,omitempty"`
	Act       []perf.ActResult  `json:"act,omitempty"`
	Peak      *benchPeak        `json:"peak,omitempty"`
	Flat      map[string]any    `json:"flat"` // the headline numbers under the peers' key names
	Errors    map[string]string `json:"errors,omitempty"`
	PeakRSS   float64           `json:"peak_rss_mib"`
	// Load1Start and Load1End are the 1-minute load averages around the run: on a shared machine a
	// load above the core count means the numbers are pessimistic.
	Load1Start float64 `json:"loadavg1_start"`
	Load1End   float64 `json:"loadavg1_end"`
}

type benchPeak struct {
	CPU           *perf.CPUPeak `json:"cpu,omitempty"`
	Matmul8192    float64       `json:"matmul_8192x512x512_flops_per_s"` // the target-selection shape
	Matmul256     float64       `json:"matmul_256x512x512_flops_per_s"`  // the batch shape
	Matmul32      float64       `json:"matmul_32x512x512_flops_per_s"`   // the action-decision shape
	UpdateOfPeak  float64       `json:"mvp_update_fraction_of_matmul_peak,omitempty"`
	UpdateOfCPU   float64       `json:"mvp_update_fraction_of_cpu_peak,omitempty"`
	ActOfPeak     float64       `json:"act_fraction_of_matmul_peak,omitempty"`
	ActOfCPU      float64       `json:"act_fraction_of_cpu_peak,omitempty"`
	MatmulBackend string        `json:"matmul_backend"`
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	jsonOnly := fs.Bool("json", false, "print only the JSON object (otherwise a summary, then the JSON object last)")
	backendFlag := addBackendFlag(fs)
	actBackends := fs.String("act-backends", "", "semicolon-separated backends for the action decision "+
		"and \""+perf.DirectActName+"\" for the deployed policy's graph-free decision "+
		"(default: direct where it has its AVX-512 kernels, the update backend, go:ops_sequential and go:parallelism=-1)")
	what := fs.String("what", "mvp,qc,actor,act,peak", "what to measure: mvp (full update), qc (full QC update), "+
		"actor (generator-only MVP and flow-matching updates), act (batch-1 decision), peak (matmul FLOP/s)")
	seconds := fs.Float64("seconds", 3, "timed seconds per measurement (after warm-up; at least 3 updates)")
	batch := fs.Int("batch", 256, "batch size B of an update")
	candidates := fs.Int("candidates", 32, "best-of-N candidates")
	hidden := fs.String("hidden", "512,512,512,512", "hidden widths of the actor and the critics")
	actStates := fs.Int("act-states", 1, "states per action decision (1: one environment; up to --batch)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the timed loops to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFlags(positive("seconds", *seconds), atLeast("batch", *batch, 1),
		atLeast("candidates", *candidates, 1), atLeast("act-states", *actStates, 1)); err != nil {
		return err
	}
	sizes := perf.PaperSizes()
	sizes.Batch, sizes.Candidates = *batch, *candidates
	widths, err := parseWidths("hidden", *hidden)
	if err != nil {
		return err
	}
	sizes.ActorHidden, sizes.CriticHidden = widths, widths
	todo := map[string]bool{}
	for _, w := range strings.Split(*what, ",") {
		switch w = strings.TrimSpace(w); w {
		case "mvp", "qc", "actor", "act", "peak":
			todo[w] = true
		case "":
		default:
			return fmt.Errorf("--what: unknown measurement %q", w)
		}
	}

	var log io.Writer = os.Stdout
	if *jsonOnly {
		log = io.Discard
	}
	choice, err := openBackend("bench", *backendFlag)
	if err != nil {
		return err
	}
	backend, updName := choice.Backend, choice.Name
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	fusion := os.Getenv("GOMLX_FUSION")
	if fusion == "" {
		fusion = "default (on)"
	}
	res := &benchResult{Peer: "go", Backend: updName, BackendConfig: choice.Config, GoVersion: runtime.Version(), Threads: runtime.GOMAXPROCS(0),
		Fusion: fusion, HostMemoryKept: xla.HostMemoryKept(), Sizes: sizes, Errors: map[string]string{}, Flat: map[string]any{},
		Load1Start: perf.LoadAverage()}
	minTime := time.Duration(*seconds * float64(time.Second))
	fmt.Fprintf(log, "mvp bench: backend %s, GOMAXPROCS %d, B=%d N=%d hidden %v, %.1fs per measurement\n",
		updName, res.Threads, sizes.Batch, sizes.Candidates, widths, *seconds)

	update := func(key, kind string, critic bool) *perf.UpdateResult {
		r, err := perf.BenchUpdate(backend, sizes, kind, critic, minTime)
		if err != nil {
			res.Errors[key] = err.Error()
			fmt.Fprintf(log, "  %-18s error: %v\n", key, err)
			return nil
		}
		fmt.Fprintf(log, "  %-18s %8.3f steps/s  (median %.1f ms, %d steps, first call %.1f s, %.1f GFLOP/step, %.1f GFLOP/s)\n",
			key, r.StepsPerSec, r.MedianMs, r.Iters, r.CompileSec, r.FLOPs/1e9, r.FLOPsPerSec/1e9)
		res.Flat[key+"_steps_per_s"] = r.StepsPerSec
		res.Flat[key+"_gflops"] = r.FLOPsPerSec / 1e9
		res.Flat[key+"_cpu_ms"] = r.CPUMs
		return &r
	}
	if todo["mvp"] {
		res.MVPUpdate = update("mvp_update", mvp.KindMVP, true)
	}
	if todo["qc"] {
		res.QCUpdate = update("qc_update", mvp.KindQC, true)
	}
	if todo["actor"] {
		res.MVPActorUpdate = update("mvp_actor_update", mvp.KindMVP, false)
		res.MVP0ActorUpdate = update("mvp_lambda0_actor_update", mvp.KindMVPLambda0, false)
		res.FMActorUpdate = update("fm_actor_update", mvp.KindQC, false)
		if res.MVPActorUpdate != nil && res.FMActorUpdate != nil {
			res.MVPOverFM = res.FMActorUpdate.StepsPerSec / res.MVPActorUpdate.StepsPerSec
			fmt.Fprintf(log, "  MVP generator update costs %.2f× a flow-matching update\n", res.MVPOverFM)
			if m, f := res.MVPActorUpdate.CPUMs, res.FMActorUpdate.CPUMs; m > 0 && f > 0 {
				res.Flat["mvp_over_fm_cpu"] = m / f
				fmt.Fprintf(log, "  (by process CPU time: %.2f×)\n", m/f)
			}
			if m0 := res.MVP0ActorUpdate; m0 != nil {
				res.Flat["mvp_lambda0_over_fm_actor"] = res.FMActorUpdate.StepsPerSec / m0.StepsPerSec
				fmt.Fprintf(log, "  with λ = 0 (L_MF and its JVP, no IVC gradient) %.2f×\n", res.Flat["mvp_lambda0_over_fm_actor"])
			}
		}
	}
	if todo["act"] {
		names := splitList(*actBackends, ";")
		if len(names) == 0 {
			// Both go executors at batch 1 (the sequential one has no scheduling overhead), the
			// update backend when it is another one, and the graph-free decision where it is
			// accelerated (Agent.Act's default there).
			names = []string{"go:ops_sequential", "go:parallelism=-1"}
			if !slices.Contains(names, updName) {
				names = append([]string{updName}, names...)
			}
			if deploy.DirectAccelerated() {
				names = append([]string{perf.DirectActName}, names...)
			}
		}
		for _, name := range names {
			b := backend
			if name != updName && name != perf.DirectActName {
				if b, err = xla.NewBackend(name); err != nil {
					res.Errors["act "+name] = err.Error()
					continue
				}
			}
			r, err := perf.BenchAct(b, name, sizes, *actStates, minTime)
			if err != nil {
				res.Errors["act "+name] = err.Error()
				fmt.Fprintf(log, "  act on %-20s error: %v\n", name, err)
				continue
			}
			label := name
			if name == perf.DirectActName {
				label += " (graph-free)"
			}
			fmt.Fprintf(log, "  act on %-20s median %.3f ms, p99 %.3f ms (%d decisions, %.1f GFLOP/s)\n",
				label, r.MedianMs, r.P99Ms, r.Iters, r.FLOPsPerSec/1e9)
			res.Act = append(res.Act, r)
			if best, ok := res.Flat["act_median_ms"].(float64); !ok || r.MedianMs < best {
				res.Flat["act_median_ms"], res.Flat["act_p99_ms"], res.Flat["act_backend"] = r.MedianMs, r.P99Ms, name
				res.Flat["act_cpu_ms"] = r.CPUMs
			}
		}
	}
	if todo["peak"] {
		res.Peak = measurePeak(backend, updName, minTime, res, log)
	}
	res.PeakRSS = perf.PeakRSSMiB()
	res.Load1End = perf.LoadAverage()
	res.Flat["loadavg1"] = (res.Load1Start + res.Load1End) / 2
	res.Flat["peak_rss_mib"] = res.PeakRSS
	if res.MVPOverFM > 0 {
		res.Flat["mvp_actor_over_fm_actor"] = res.MVPOverFM
	}
	fmt.Fprintf(log, "  peak RSS %.0f MiB\n", res.PeakRSS)
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if res.Errors != nil {
		return fmt.Errorf("mvp bench: %d measurement(s) failed (see \"errors\")", len(res.Errors))
	}
	return nil
}

// measurePeak times plain matmuls of the update's and the decision's shapes on the update backend
// and reads the CPU's theoretical peak, then states the achieved fractions.
func measurePeak(backend compute.Backend, name string, minTime time.Duration, res *benchResult, log io.Writer) *benchPeak {
	p := &benchPeak{MatmulBackend: name}
	var err error
	short := min(minTime, 2*time.Second)
	for _, m := range []struct {
		rows int
		dst  *float64
	}{{8192, &p.Matmul8192}, {256, &p.Matmul256}, {32, &p.Matmul32}} {
		if *m.dst, err = perf.MatmulFLOPs(backend, m.rows, 512, 512, short); err != nil {
			res.Errors[fmt.Sprintf("matmul %d", m.rows)] = err.Error()
		}
	}
	fmt.Fprintf(log, "  matmul FLOP/s on %s: %d×512×512 %.1f G, 256×512×512 %.1f G, 32×512×512 %.1f G\n",
		name, 8192, p.Matmul8192/1e9, p.Matmul256/1e9, p.Matmul32/1e9)
	res.Flat["matmul_8192_gflops"] = p.Matmul8192 / 1e9
	res.Flat["matmul_32_gflops"] = p.Matmul32 / 1e9
	if cpu, err := perf.ReadCPUPeak(); err == nil {
		p.CPU = &cpu
		fmt.Fprintf(log, "  CPU %q: %d cores × %.2f GHz × %d FMA units (assumed) × %d fp32 lanes × 2 = %.0f GFLOP/s\n",
			cpu.Model, cpu.Cores, cpu.ClockGHz, cpu.FMAUnits, cpu.Lanes, cpu.FLOPs/1e9)
	}
	if u := res.MVPUpdate; u != nil {
		p.UpdateOfPeak = frac(u.FLOPsPerSec, p.Matmul8192)
		if p.CPU != nil {
			p.UpdateOfCPU = frac(u.FLOPsPerSec, p.CPU.FLOPs)
		}
		fmt.Fprintf(log, "  MVP update: %.0f%% of the 8192-row matmul rate, %.0f%% of the CPU peak\n",
			100*p.UpdateOfPeak, 100*p.UpdateOfCPU)
	}
	for _, a := range res.Act {
		if a.Backend == res.Flat["act_backend"] {
			p.ActOfPeak = frac(a.FLOPsPerSec, p.Matmul32)
			if p.CPU != nil {
				p.ActOfCPU = frac(a.FLOPsPerSec, p.CPU.FLOPs)
			}
		}
	}
	return p
}

func frac(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
