package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/gomvp/gomvp/plugins"
)

func init() {
	registerData(&command{name: "inspect", summary: "describe a dataset file (keys, dtypes, shapes, trajectories, rewards): inspect FILE|prefix:name [--json]", run: runDataInspect})
}

// runDataInspect prints what a data file holds; with --json, one JSON object on the last line.
func runDataInspect(args []string) error {
	fs := flag.NewFlagSet("data inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object (the last line of stdout) instead of a table")
	task := fs.String("task", "", "OGBench files: single-task variant to relabel rewards with (a number or a dataset name)")
	dataPath := fs.String("dataset-path", "", "for prefix:name: the file or directory to load from (as mvp train's flag)")
	val := fs.Bool("val", false, "for prefix:name: load the validation split")
	dataOpt := kvFlag{}
	fs.Var(dataOpt, "dataset-opt", "for prefix:name: plugin option key=value (repeatable, as mvp train's flag)")
	// Flags may come before and after the file.
	pos, err := parseFlagsThenArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("no file given")
	}
	if len(pos) > 1 {
		return usagef("one file at a time (got %s)", quoteArgs(pos))
	}
	target := pos[0]
	var info *plugins.FileInfo
	if _, err := os.Stat(target); err != nil && strings.Contains(target, ":") {
		if *task != "" {
			return usagef("--task is for files; a prefix:name dataset has its task in its name")
		}
		if err := checkFlags(checkPluginOptions("dataset-opt", plugins.Dataset, target, dataOpt)); err != nil {
			return err
		}
		opts := plugins.DatasetOptions{Path: *dataPath, Validation: *val, Extra: dataOpt}
		d, err := plugins.LoadDataset(target, opts)
		if err != nil {
			return err
		}
		info = &plugins.FileInfo{Path: target, Format: "plugin", Dataset: d, Trajectories: len(d.Episodes()), Transitions: d.Len()}
	} else {
		opts := plugins.DatasetOptions{Extra: map[string]string{}}
		if *task != "" {
			opts.Extra["task"] = *task
		}
		info, err = plugins.InspectFile(target, opts)
		if err != nil {
			return err
		}
	}
	report := summarize(info)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false) // dtypes such as "<f4" stay readable
		return enc.Encode(report)
	}
	printReport(report)
	return nil
}

// dataReport is the JSON object of `mvp data inspect --json`.
type dataReport struct {
	Path         string              `json:"path"`
	Format       string              `json:"format"`
	Arrays       []plugins.ArrayInfo `json:"arrays,omitempty"`
	Attrs        map[string]any      `json:"attrs,omitempty"`
	Trajectories int                 `json:"trajectories"`
	Transitions  int                 `json:"transitions"`
	ObsDim       int                 `json:"obs_dim,omitempty"`
	ActDim       int                 `json:"act_dim,omitempty"`
	Length       *stats              `json:"trajectory_length,omitempty"`
	Reward       *stats              `json:"reward,omitempty"`
	RewardValues map[string]int      `json:"reward_values,omitempty"`
	MaskZeros    *int                `json:"mask_zeros,omitempty"`
	Action       *stats              `json:"action,omitempty"`
	Notes        []string            `json:"notes,omitempty"`
}

type stats struct {
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Sum  float64 `json:"sum"`
}

func statsOf(x []float64) *stats {
	if len(x) == 0 {
		return nil
	}
	s := &stats{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range x {
		s.Min, s.Max, s.Sum = min(s.Min, v), max(s.Max, v), s.Sum+v
	}
	s.Mean = s.Sum / float64(len(x))
	for _, v := range x {
		s.Std += (v - s.Mean) * (v - s.Mean)
	}
	s.Std = math.Sqrt(s.Std / float64(len(x)))
	return s
}

func f64[T float32 | int](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func summarize(info *plugins.FileInfo) dataReport {
	r := dataReport{Path: info.Path, Format: info.Format, Arrays: info.Arrays, Attrs: info.Attrs,
		Trajectories: info.Trajectories, Transitions: info.Transitions, Notes: info.Notes,
		ObsDim: info.ObsDim, ActDim: info.ActDim}
	d := info.Dataset
	if d == nil {
		return r
	}
	r.ObsDim, r.ActDim = d.ObsDim, d.ActDim
	var lengths []int
	for _, e := range d.Episodes() {
		lengths = append(lengths, e.Len())
	}
	r.Length = statsOf(f64(lengths))
	r.Reward = statsOf(f64(d.Rewards))
	r.Action = statsOf(f64(d.Actions))
	counts := map[float32]int{}
	for _, v := range d.Rewards {
		counts[v]++
		if len(counts) > 16 {
			break
		}
	}
	if len(counts) <= 16 {
		r.RewardValues = map[string]int{}
		for v, c := range counts {
			r.RewardValues[fmt.Sprint(v)] = c
		}
	}
	zeros := 0
	for _, m := range d.Masks {
		if m == 0 {
			zeros++
		}
	}
	r.MaskZeros = &zeros
	return r
}

func printReport(r dataReport) {
	fmt.Printf("%s (%s)\n", r.Path, r.Format)
	for _, a := range r.Arrays {
		fmt.Printf("  %-42s %-6s %v\n", a.Key, a.DType, a.Shape)
	}
	keys := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(r.Attrs[k])
		if len(v) > 100 {
			v = v[:100] + "…"
		}
		fmt.Printf("  @%-41s %s\n", k, v)
	}
	fmt.Printf("trajectories %d, transitions %d", r.Trajectories, r.Transitions)
	if r.ObsDim > 0 {
		fmt.Printf(", obs dim %d, action dim %d", r.ObsDim, r.ActDim)
	}
	fmt.Println()
	if r.Length != nil {
		fmt.Printf("trajectory length: min %.0f max %.0f mean %.1f\n", r.Length.Min, r.Length.Max, r.Length.Mean)
	}
	if r.Reward != nil {
		fmt.Printf("reward: min %g max %g mean %.4g std %.4g", r.Reward.Min, r.Reward.Max, r.Reward.Mean, r.Reward.Std)
		if r.MaskZeros != nil {
			fmt.Printf(", bootstrap mask 0 on %d transitions", *r.MaskZeros)
		}
		fmt.Println()
	}
	for _, n := range r.Notes {
		fmt.Println("note:", n)
	}
}
