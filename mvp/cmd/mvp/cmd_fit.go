package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/fitbench"
)

func init() {
	register(&command{name: "fit", summary: "fitting benchmark: MVP (λ=1, λ=0) vs flow (K=10, K=1) on known multimodal distributions", run: runFit})
}

// fitMethod is one generator of the comparison.
type fitMethod struct {
	name        string
	lambda      *float64
	sampleSteps int
	build       func(net *mvp.NetworkConfig) (mvp.Generator, error)
}

// parseFitMethod maps a method name to its generator: "mvp" (λ = 1, one step), "mvp-lambda<λ>",
// "mvp-k<k>" (λ = 1, k-step sampling), "mvp-lambda<λ>-k<k>", and "flow-k<K>".
func parseFitMethod(name string) (fitMethod, error) {
	bad := fmt.Errorf("-methods: unknown method %q (use mvp, mvp-lambda<λ>, mvp-k<k>, mvp-lambda<λ>-k<k>, flow-k<K>)", name)
	if rest, ok := strings.CutPrefix(name, "flow-k"); ok {
		k, err := strconv.Atoi(rest)
		if err != nil || k < 1 {
			return fitMethod{}, bad
		}
		return fitMethod{name, nil, k, func(net *mvp.NetworkConfig) (mvp.Generator, error) {
			return mvp.NewFlow(mvp.NewFlowConfig().WithNet(net).WithSteps(k))
		}}, nil
	}
	rest, ok := strings.CutPrefix(name, "mvp")
	if !ok {
		return fitMethod{}, bad
	}
	lambda, k := 1.0, 1
	if r, ok := strings.CutPrefix(rest, "-lambda"); ok {
		num, tail, _ := strings.Cut(r, "-")
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return fitMethod{}, bad
		}
		lambda, rest = v, ""
		if tail != "" {
			rest = "-" + tail
		}
	}
	if r, ok := strings.CutPrefix(rest, "-k"); ok {
		v, err := strconv.Atoi(r)
		if err != nil || v < 1 {
			return fitMethod{}, bad
		}
		k, rest = v, ""
	}
	if rest != "" {
		return fitMethod{}, bad
	}
	return fitMethod{name, &lambda, k, func(net *mvp.NetworkConfig) (mvp.Generator, error) {
		cfg := mvp.NewConfig().WithNet(net).WithLambda(lambda).WithSampleSteps(k)
		cfg.Name = name
		return mvp.NewMVP(cfg)
	}}, nil
}

type fitMethodJSON struct {
	*fitbench.Result
	Lambda      *float64 `json:"lambda,omitempty"`
	SampleSteps int      `json:"sample_steps"`
	// CPUSeconds is the process CPU time (user + system) of training and evaluating the method:
	// on a shared machine it tracks the work done better than wall time.
	CPUSeconds float64 `json:"cpu_s"`
}

func runFit(args []string) error {
	fs := flag.NewFlagSet("fit", flag.ContinueOnError)
	def := fitbench.NewConfig()
	steps := fs.Int("steps", def.Steps, "training steps per method (same budget for all)")
	batch := fs.Int("batch", def.Batch, "batch size")
	lr := fs.Float64("lr", def.LearningRate, "Adam learning rate")
	cosine := fs.Bool("cosine", def.CosineDecay, "anneal the learning rate to 0 over the steps (cosine)")
	seed := fs.Int64("seed", def.Seed, "seed of initialisation, data, noise and evaluation")
	widths := fs.String("widths", "256,256,256", "hidden widths of the shared network (comma-separated)")
	evalStates := fs.Int("eval-states", def.EvalStatesPerFamily, "held-out states per family")
	samples := fs.Int("samples", def.EvalSamples, "samples per held-out state (model and truth)")
	mmd := fs.Int("mmd-samples", def.MMDSamples, "subsample for MMD (0: skip)")
	families := fs.String("families", "modes,ring,checkerboard", "distribution families (comma-separated)")
	methods := fs.String("methods", "mvp,mvp-lambda0,flow-k10,flow-k1",
		"methods to train, in order: mvp, mvp-lambda<λ>, mvp-k<k>, mvp-lambda<λ>-k<k>, flow-k<K>")
	backendCfg := addBackendFlag(fs)
	asJSON := fs.Bool("json", false, "print only progress to stderr and one JSON object on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFlags(atLeast("steps", *steps, 1), atLeast("batch", *batch, 1), positive("lr", *lr),
		atLeast("eval-states", *evalStates, 1), atLeast("samples", *samples, 1), atLeast("mmd-samples", *mmd, 0)); err != nil {
		return err
	}

	net := mvp.NewNetworkConfig()
	ws, err := parseWidths("widths", *widths)
	if err != nil {
		return err
	}
	net.MLP.WithWidths(ws...)

	var fams []fitbench.Family
	for _, name := range strings.Split(*families, ",") {
		f, err := fitbench.ParseFamily(strings.TrimSpace(name))
		if err != nil {
			return usagef("--families: %w", err)
		}
		fams = append(fams, f)
	}
	task := fitbench.NewTask(fams...)

	cfg := fitbench.NewConfig()
	cfg.Steps, cfg.Batch, cfg.LearningRate, cfg.CosineDecay, cfg.Seed = *steps, *batch, *lr, *cosine, *seed
	cfg.EvalStatesPerFamily, cfg.EvalSamples, cfg.MMDSamples = *evalStates, *samples, *mmd

	var chosen []fitMethod
	for _, name := range strings.Split(*methods, ",") {
		m, err := parseFitMethod(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		chosen = append(chosen, m)
	}

	choice, err := openBackend("fit", *backendCfg)
	if err != nil {
		return err
	}
	backend, effectiveBackend := choice.Backend, choice.Name
	floor, err := fitbench.TruthFloor(task, cfg)
	if err != nil {
		return err
	}

	start, cpuStart := time.Now(), processCPUSeconds()
	results := map[string]*fitMethodJSON{}
	var order []string
	for _, m := range chosen {
		gen, err := m.build(net.Clone())
		if err != nil {
			return err
		}
		name := m.name
		cfg.Progress = func(step int, loss float64) {
			fmt.Fprintf(os.Stderr, "fit %-12s step %6d/%d  loss %.4f  (%s)\n", name, step, cfg.Steps, loss, time.Since(start).Round(time.Second))
		}
		cpu0 := processCPUSeconds()
		r, err := fitbench.Fit(backend, gen, task, cfg)
		if err != nil {
			return err
		}
		cpu := processCPUSeconds() - cpu0
		fmt.Fprintf(os.Stderr, "fit %-12s SW %.4f  MMD %.4f  train %.1fs (%.0f steps/s)  sample %.1f ms/batch  CPU %.0fs\n",
			name, r.SW, r.MMD, r.TrainSeconds, r.StepsPerSecond, r.SampleMillisPerBatch, cpu)
		results[name] = &fitMethodJSON{Result: r, Lambda: m.lambda, SampleSteps: m.sampleSteps, CPUSeconds: cpu}
		order = append(order, name)
	}

	ratio := func(a, b string) *float64 {
		ra, rb := results[a], results[b]
		if ra == nil || rb == nil || rb.SW == 0 {
			return nil
		}
		v := ra.SW / rb.SW
		return &v
	}
	ratios := map[string]*float64{
		"mvp_over_flow_k10":    ratio("mvp", "flow-k10"),
		"mvp_over_flow_k1":     ratio("mvp", "flow-k1"),
		"mvp_lambda0_over_mvp": ratio("mvp-lambda0", "mvp"),
	}
	checks := map[string]bool{}
	if r := ratios["mvp_over_flow_k10"]; r != nil {
		checks["mvp_le_1.25x_flow_k10"] = *r <= 1.25
	}
	if r := ratios["mvp_over_flow_k1"]; r != nil {
		checks["mvp_le_0.5x_flow_k1"] = *r <= 0.5
	}

	if !*asJSON {
		fmt.Printf("%-12s %8s %8s %9s %9s %12s\n", "method", "SW", "MMD", "train_s", "steps/s", "sample_ms")
		for _, n := range order {
			r := results[n]
			fmt.Printf("%-12s %8.4f %8.4f %9.1f %9.1f %12.2f\n", n, r.SW, r.MMD, r.TrainSeconds, r.StepsPerSecond, r.SampleMillisPerBatch)
		}
		fmt.Printf("%-12s %8.4f %8.4f   (two independent sets of exact samples)\n", "truth floor", floor.SW, floor.MMD)
	}
	methodsOut := make([]*fitMethodJSON, 0, len(order))
	for _, n := range order {
		methodsOut = append(methodsOut, results[n])
	}
	famNames := make([]string, len(fams))
	for i, f := range fams {
		famNames[i] = f.String()
	}
	out := map[string]any{
		"command":  "fit",
		"families": famNames,
		"steps":    cfg.Steps, "batch": cfg.Batch, "lr": cfg.LearningRate, "cosine_decay": cfg.CosineDecay, "seed": cfg.Seed,
		"network":           fmt.Sprintf("%v %s", ws, net.MLP.Activation),
		"backend":           effectiveBackend,
		"cpus":              runtime.NumCPU(),
		"eval_states":       len(task.HeldOutStates(cfg.EvalStatesPerFamily)),
		"samples_per_state": cfg.EvalSamples,
		"distance":          "sliced W2 (128 projections), averaged over held-out states",
		"truth_floor_sw":    floor.SW,
		"truth_floor_mmd":   floor.MMD,
		"methods":           methodsOut,
		"ratios":            ratios,
		"checks":            checks,
		"total_s":           time.Since(start).Seconds(),
		"total_cpu_s":       processCPUSeconds() - cpuStart,
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
