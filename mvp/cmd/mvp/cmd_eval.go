package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/perf"
	"github.com/gomvp/gomvp/mvp/runlog"
	"github.com/gomvp/gomvp/plugins"
)

func init() {
	register(&command{name: "eval", summary: "evaluate a checkpoint in an environment (success rate, return; optional rollout GIF)", run: runEval})
	register(&command{name: "report", summary: "results table and learning-curve SVG from run directories", run: runReport})
}

// resolveCheckpoint accepts a checkpoint file, a checkpoints/ directory or a run directory.
func resolveCheckpoint(p string) (*mvp.Checkpoint, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", p, err)
	}
	if !st.IsDir() {
		return mvp.ReadCheckpoint(p)
	}
	for _, d := range []string{filepath.Join(p, "checkpoints"), p} {
		ck, err := mvp.LatestCheckpoint(d)
		if err != nil {
			return nil, err
		}
		if ck != nil {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("no checkpoint in %s or %s", p, filepath.Join(p, "checkpoints"))
}

// renderer is implemented by environments that can draw themselves (the toy tasks).
type renderer interface {
	Render(size int) *image.Paletted
}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	ckPath := fs.String("checkpoint", "", "checkpoint file, checkpoints directory or run directory")
	envSpec := fs.String("env", "", "environment prefix:name")
	envOpt := kvFlag{}
	fs.Var(envOpt, "env-opt", "plugin option key=value for the environment (repeatable)")
	episodes := fs.Int("episodes", 50, "episodes")
	nEnvs := fs.Int("envs", 10, "parallel environments")
	seed := fs.Int64("seed", 0, "seed of the episodes and of the policy's noise")
	gifPath := fs.String("gif", "", "write a GIF of the first episode here (environments that render)")
	gifSize := fs.Int("gif-size", 256, "GIF frame size in pixels")
	candidates := fs.Int("candidates", 0, "override the number N of best-of-N candidates (0: the checkpoint's; 1: no selection)")
	backendFlag := addBackendFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckPath == "" || *envSpec == "" {
		return usagef("--checkpoint and --env are required")
	}
	if err := checkFlags(atLeast("episodes", *episodes, 1), atLeast("envs", *nEnvs, 1),
		atLeast("gif-size", *gifSize, 16), atLeast("candidates", *candidates, 0),
		checkPluginOptions("env-opt", plugins.Environment, *envSpec, envOpt)); err != nil {
		return err
	}
	ctx, release, err := onInterrupt("eval", "finishing the running episodes, then printing the partial result")
	if err != nil {
		return err
	}
	defer release()
	ck, err := resolveCheckpoint(*ckPath)
	if err != nil {
		return err
	}
	choice, err := openBackend("eval", *backendFlag)
	if err != nil {
		return err
	}
	backend := choice.Backend
	if *candidates > 0 {
		ck.Spec.Candidates = *candidates
	}
	agent, err := mvp.LoadAgent(backend, ck)
	if err != nil {
		return err
	}
	n := max(1, min(*nEnvs, *episodes))
	envs, err := plugins.StartVecEnv(n, func(int) (plugins.Env, error) {
		return plugins.MakeEnv(*envSpec, plugins.EnvOptions{Seed: *seed, Extra: envOpt})
	})
	if err != nil {
		return err
	}
	defer envs.Close()
	var frames []*image.Paletted
	opt := mvp.EvalOptions{Episodes: *episodes, Seed: *seed}
	if *gifPath != "" {
		if _, ok := envs.Envs[0].(renderer); !ok {
			return fmt.Errorf("--gif: environment %s cannot render", *envSpec)
		}
		opt.OnStep = func(env, episode, t int, e plugins.Env) {
			if env == 0 && episode == 0 {
				frames = append(frames, e.(renderer).Render(*gifSize))
			}
		}
	}
	res, err := mvp.Evaluate(ctx, agent, envs, opt)
	if err != nil && !res.Interrupted {
		return err
	}
	if *gifPath != "" && len(frames) > 0 {
		if err := writeGIF(*gifPath, frames); err != nil {
			return err
		}
	}
	summary := map[string]any{
		"checkpoint": ck.Path, "step": ck.Step, "agent": ck.Spec.Kind, "env": *envSpec,
		"episodes": res.Episodes, "success_rate": res.SuccessRate, "mean_return": res.MeanReturn,
		"mean_length": res.MeanLength, "gif": *gifPath, "candidates": agent.Spec.Candidates,
		"backend": choice.Name,
	}
	if res.Interrupted {
		// The partial result is still printed (marked) so the episodes run are not lost.
		summary["interrupted"] = true
		summary["episodes_requested"] = *episodes
	}
	if jerr := json.NewEncoder(os.Stdout).Encode(summary); jerr != nil {
		return jerr
	}
	if res.Interrupted {
		return fmt.Errorf("%w: PARTIAL result above, %d of %d episodes", errInterrupted, res.Episodes, *episodes)
	}
	return nil
}

func writeGIF(path string, frames []*image.Paletted) error {
	if len(frames) == 0 {
		return fmt.Errorf("--gif: no frames recorded")
	}
	g := &gif.GIF{}
	for i, f := range frames {
		g.Image = append(g.Image, f)
		d := 5 // 50 ms per step
		if i == len(frames)-1 {
			d = 150
		}
		g.Delay = append(g.Delay, d)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gif.EncodeAll(f, g); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// runsFlag collects --run LABEL=DIR (repeat a label for several seeds).
type runsFlag struct {
	labels []string
	dirs   map[string][]string
}

func (r *runsFlag) String() string { return fmt.Sprint(r.dirs) }
func (r *runsFlag) Set(s string) error {
	l, d, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want LABEL=DIR, got %q", s)
	}
	if r.dirs == nil {
		r.dirs = map[string][]string{}
	}
	if _, seen := r.dirs[l]; !seen {
		r.labels = append(r.labels, l)
	}
	r.dirs[l] = append(r.dirs[l], d)
	return nil
}

type curve struct {
	label string
	steps []int64
	mean  []float64
}

func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var runs runsFlag
	fs.Var(&runs, "run", "LABEL=RUN_DIR (repeatable; runs sharing a label are seeds, averaged)")
	svgPath := fs.String("svg", "", "write the success-rate learning curves here")
	at := fs.Int64("at", 0, "compare at this step (the last evaluation at or before it); 0: each run's last")
	timeDecisions := fs.Int("time-decisions", 0, "time this many action decisions (one state, the run's N) "+
		"with each label's first run's last checkpoint, after a warm-up (0: no timing)")
	backendFlag := addBackendFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(runs.labels) == 0 {
		return usagef("no --run given")
	}
	if err := checkFlags(atLeast64("at", *at, 0), atLeast("time-decisions", *timeDecisions, 0)); err != nil {
		return err
	}
	var backend compute.Backend // only for --time-decisions
	if *timeDecisions > 0 {
		choice, err := openBackend("report", *backendFlag)
		if err != nil {
			return err
		}
		backend = choice.Backend
	}
	type row struct {
		Label   string    `json:"label"`
		Seeds   int       `json:"seeds"`
		Success float64   `json:"success_mean"`
		Std     float64   `json:"success_std"`
		Return  float64   `json:"return_mean"`
		PerSeed []float64 `json:"success_per_seed"`
		Steps   int64     `json:"steps"`
		// UpdatesPerS is the mean of the runs' logged update rates (the first log interval, which
		// includes compilation, left out when there are others).
		UpdatesPerS float64 `json:"updates_per_s,omitempty"`
		// DecisionMs is the median time of one action decision for one state with Candidates
		// candidates (--time-decisions), over DecisionCalls calls.
		DecisionMs    float64 `json:"decision_ms,omitempty"`
		DecisionCalls int     `json:"decision_calls,omitempty"`
		Candidates    int     `json:"candidates,omitempty"`
	}
	var rows []row
	var curves []curve
	for _, l := range runs.labels {
		r := row{Label: l}
		bySteps := map[int64][]float64{}
		for _, d := range runs.dirs[l] {
			recs, err := runlog.ReadJSONL(filepath.Join(d, "metrics.jsonl"))
			var torn *runlog.TornLineError
			if errors.As(err, &torn) {
				fmt.Fprintf(os.Stderr, "mvp report: warning: %s: skipped its incomplete last line %d (a run killed while logging)\n", torn.Path, torn.Line)
			} else if err != nil {
				return err
			}
			// Logs written before resumes cut them back may hold a step twice; the last record wins.
			evals := map[int64]map[string]float64{}
			var rates []float64
			for _, rec := range recs {
				if rec.Phase == "eval" && (*at <= 0 || rec.Step <= *at) {
					evals[rec.Step] = rec.Metrics
				}
				if v, ok := rec.Metrics["updates_per_s"]; ok && rec.Phase == "train" && (*at <= 0 || rec.Step <= *at) {
					rates = append(rates, v)
				}
			}
			if len(rates) > 1 {
				rates = rates[1:]
			}
			for _, v := range rates {
				r.UpdatesPerS += v / float64(len(rates)) / float64(len(runs.dirs[l]))
			}
			if len(evals) == 0 {
				return fmt.Errorf("run %s has no evaluation in its metrics.jsonl", d)
			}
			var last int64 = -1
			for s, m := range evals {
				bySteps[s] = append(bySteps[s], m["success_rate"])
				last = max(last, s)
			}
			r.PerSeed = append(r.PerSeed, evals[last]["success_rate"])
			r.Return += evals[last]["return"]
			r.Steps = last
		}
		r.Seeds = len(r.PerSeed)
		r.Return /= float64(r.Seeds)
		for _, v := range r.PerSeed {
			r.Success += v / float64(r.Seeds)
		}
		for _, v := range r.PerSeed {
			r.Std += (v - r.Success) * (v - r.Success) / float64(r.Seeds)
		}
		r.Std = math.Sqrt(r.Std)
		rows = append(rows, r)
		c := curve{label: l}
		for s := range bySteps {
			c.steps = append(c.steps, s)
		}
		sort.Slice(c.steps, func(i, j int) bool { return c.steps[i] < c.steps[j] })
		for _, s := range c.steps {
			sum := 0.0
			for _, v := range bySteps[s] {
				sum += v
			}
			c.mean = append(c.mean, sum/float64(len(bySteps[s])))
		}
		curves = append(curves, c)
	}
	if *timeDecisions > 0 {
		first := make([]string, len(runs.labels))
		for i, l := range runs.labels {
			first[i] = runs.dirs[l][0]
		}
		ms, ns, err := medianDecisionTimes(backend, first, *timeDecisions)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].DecisionMs, rows[i].DecisionCalls, rows[i].Candidates = ms[i], *timeDecisions, ns[i]
		}
	}
	fmt.Printf("| agent | seeds | steps | success (mean ± std) | per seed | return | decision ms (N) | updates/s |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		per := make([]string, len(r.PerSeed))
		for i, v := range r.PerSeed {
			per[i] = fmt.Sprintf("%.2f", v)
		}
		dec, rate := "—", "—"
		if r.DecisionCalls > 0 {
			dec = fmt.Sprintf("%.3f (%d)", r.DecisionMs, r.Candidates)
		}
		if r.UpdatesPerS > 0 {
			rate = fmt.Sprintf("%.0f", r.UpdatesPerS)
		}
		fmt.Printf("| %s | %d | %d | %.3f ± %.3f | %s | %.1f | %s | %s |\n", r.Label, r.Seeds, r.Steps, r.Success, r.Std,
			strings.Join(per, " "), r.Return, dec, rate)
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(svgCurves(curves)), 0o644); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"rows": rows, "svg": *svgPath})
}

// medianDecisionTimes loads the last checkpoint of each run and returns, per run, the median wall time in
// milliseconds of calls action decisions for one state (after a warm-up that compiles the graph)
// and the number of candidates each decision draws. The runs are timed in interleaved rounds, so
// that on a shared machine every agent sees the same load.
func medianDecisionTimes(backend compute.Backend, runs []string, calls int) ([]float64, []int, error) {
	agents := make([]*mvp.Agent, len(runs))
	acts := make([]func() error, len(runs))
	for i, run := range runs {
		ck, err := resolveCheckpoint(run)
		if err != nil {
			return nil, nil, err
		}
		a, err := mvp.LoadAgent(backend, ck)
		if err != nil {
			return nil, nil, err
		}
		obs := make([]float32, a.Spec.ObsDim)
		rng := mvp.NewActRNG(1)
		agents[i] = a
		acts[i] = func() error { _, err := a.Act(obs, rng); return err }
		if _, err := perf.TimeLoop(acts[i], 10, 0, 0); err != nil {
			return nil, nil, fmt.Errorf("decisions of %s: %w", ck.Path, err)
		}
	}
	const rounds = 10
	durations := make([][]time.Duration, len(runs))
	for r := range rounds {
		n := calls/rounds + min(1, max(0, calls%rounds-r)) // spread calls over the rounds
		for i := range runs {
			t, err := perf.TimeLoop(acts[i], 0, n, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("decisions of %s: %w", runs[i], err)
			}
			durations[i] = append(durations[i], t.Durations...)
		}
	}
	ms := make([]float64, len(runs))
	ns := make([]int, len(runs))
	for i := range runs {
		ms[i] = float64(perf.Timing{Durations: durations[i]}.Median()) / float64(time.Millisecond)
		ns[i] = agents[i].Spec.Candidates
	}
	return ms, ns, nil
}

// svgCurves draws success rate against training steps, one polyline per label.
func svgCurves(cs []curve) string {
	const W, H, L, R, T, B = 640.0, 400.0, 60.0, 150.0, 30.0, 50.0
	var maxStep int64 = 1
	for _, c := range cs {
		for _, s := range c.steps {
			maxStep = max(maxStep, s)
		}
	}
	x := func(s int64) float64 { return L + (W-L-R)*float64(s)/float64(maxStep) }
	y := func(v float64) float64 { return T + (H-T-B)*(1-v) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="14">success rate vs training steps</text>`+"\n", L)
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/><text x="%g" y="%g" text-anchor="end">%.2f</text>`+"\n", L, y(v), W-R, y(v), L-6, y(v)+4, v)
		s := int64(float64(maxStep) * v)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%d</text>`+"\n", x(s), H-B+18, s)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">updates</text>`+"\n", (L+W-R)/2, H-12)
	for i, c := range cs {
		col := colors[i%len(colors)]
		var pts []string
		for j, s := range c.steps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s), y(c.mean[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
		for j, s := range c.steps {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(s), y(c.mean[j]), col)
		}
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/><text x="%g" y="%g">%s</text>`+"\n",
			W-R+10, T+20*float64(i)+10, W-R+30, T+20*float64(i)+10, col, W-R+35, T+20*float64(i)+14, c.label)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
