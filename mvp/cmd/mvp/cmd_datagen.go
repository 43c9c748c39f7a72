package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomvp/gomvp/plugins"
	"github.com/gomvp/gomvp/plugins/toy"
)

// `mvp data` groups the data subcommands; each registers itself with registerData from its own
// file (data gen here, data inspect next to the inspectors).
var dataCommands = map[string]*command{}

func registerData(c *command) {
	if _, dup := dataCommands[c.name]; dup {
		panic("mvp: data subcommand registered twice: " + c.name)
	}
	dataCommands[c.name] = c
}

func init() {
	register(&command{name: "data", summary: "data files: gen (toy demonstrations as OGBench npz), inspect", run: runData})
	registerData(&command{name: "gen", summary: "write scripted demonstrations of a toy task as an OGBench-format npz", run: runDataGen})
}

func runData(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		names := make([]string, 0, len(dataCommands))
		for n := range dataCommands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: mvp data <subcommand> [flags]\n\nsubcommands:\n")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, dataCommands[n].summary)
		}
		if len(args) == 0 {
			return fmt.Errorf("mvp data: missing subcommand")
		}
		return nil
	}
	c, ok := dataCommands[args[0]]
	if !ok {
		return fmt.Errorf("mvp data: unknown subcommand %q", args[0])
	}
	if err := c.run(args[1:]); err != nil {
		if strings.HasPrefix(err.Error(), "mvp") {
			return err
		}
		return fmt.Errorf("mvp data %s: %w", c.name, err)
	}
	return nil
}

func runDataGen(args []string) error {
	fs := flag.NewFlagSet("data gen", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mvp data gen toy:<task> --out FILE.npz [flags]\n\n"+
			"Records the task's scripted demonstrator (noisy, with deliberate mistakes) and writes the\n"+
			"rows in OGBench's npz format, with a validation file of a tenth as many other episodes\n"+
			"next to it (FILE-val.npz). Prints one JSON summary line.\n\n")
		fs.PrintDefaults()
	}
	def := toy.DefaultDemoConfig()
	episodes := fs.Int("episodes", def.Episodes, "number of demonstrations")
	seed := fs.Int64("seed", def.Seed, "seed of the first episode's randomness")
	noise := fs.Float64("noise", def.Noise, "standard deviation of the Gaussian action noise")
	missGrasp := fs.Float64("miss-grasp", def.MissGrasp, "cube: probability of closing the gripper too high")
	retry := fs.Float64("retry", def.Retry, "cube: probability that a missed grasp is retried")
	wrongPlace := fs.Float64("wrong-place", def.WrongPlace, "cube: probability of placing the cube 7-10 cm off the goal")
	stuck := fs.Float64("stuck", def.Stuck, "pointmass: probability of heading into the central obstacle")
	straight := fs.Float64("straight", def.Straight, "detour: probability of heading straight into the barrier")
	out := fs.String("out", "", "output .npz file (required)")
	gifPath := fs.String("gif", "", "also render the first demonstration as an animated GIF to this file")
	// Flags may follow the task name.
	var spec string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		spec, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if spec == "" && fs.NArg() > 0 {
		spec = fs.Arg(0)
	}
	if spec == "" || *out == "" {
		fs.Usage()
		return fmt.Errorf("need a task (e.g. toy:cube-task2) and --out")
	}
	prefix, name, err := plugins.Split(spec)
	if err != nil {
		return err
	}
	if prefix != toy.Prefix {
		return fmt.Errorf("%s: only toy:<task> has scripted demonstrators (for OGBench, see scripts/ogbench_oracle_dataset.py)", spec)
	}
	cfg := toy.DemoConfig{Episodes: *episodes, Seed: *seed, Noise: *noise, MissGrasp: *missGrasp, Retry: *retry,
		WrongPlace: *wrongPlace, Stuck: *stuck, Straight: *straight}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	demos, err := toy.Generate(name, cfg)
	if err != nil {
		return err
	}
	if err := demos.WriteNPZ(*out); err != nil {
		return err
	}
	ds, err := demos.Dataset()
	if err != nil {
		return err
	}
	valPath := toy.ValidationPath(*out)
	val, err := toy.Generate(name, cfg.Validation())
	if err != nil {
		return err
	}
	if err := val.WriteNPZ(valPath); err != nil {
		return err
	}
	summary := map[string]any{
		"task": demos.Task, "out": *out, "val": valPath, "val_episodes": len(val.Successes),
		"episodes": len(demos.Successes), "rows": demos.Rows(),
		"transitions": ds.Len(), "obs_dim": demos.ObsDim, "act_dim": demos.ActDim,
		"demo_success_rate": demos.SuccessRate(),
	}
	if *gifPath != "" {
		task, err := toy.New(name)
		if err != nil {
			return err
		}
		f, err := os.Create(*gifPath)
		if err != nil {
			return err
		}
		episodeSeed := cfg.Seed * 1_000_003
		res, err := toy.RenderEpisodeGIF(f, task, episodeSeed, toy.DemoPolicy(task, cfg, episodeSeed), 256, 5)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("rendering %s: %w", *gifPath, err)
		}
		summary["gif"] = *gifPath
		summary["gif_episode_success"] = res.Success
	}
	fmt.Fprintf(os.Stderr, "%s: %d demonstrations (%.0f%% successful), %d transitions -> %s\n",
		demos.Task, len(demos.Successes), 100*demos.SuccessRate(), ds.Len(), *out)
	return json.NewEncoder(os.Stdout).Encode(summary)
}
