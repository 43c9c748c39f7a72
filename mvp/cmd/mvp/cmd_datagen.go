package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gomvp/gomvp/plugins"
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
	registerData(&command{name: "gen", summary: "write scripted demonstrations of a task (toy: as an OGBench-format npz)", run: runDataGen})
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
			return usagef("missing subcommand")
		}
		return flag.ErrHelp
	}
	c, ok := dataCommands[args[0]]
	if !ok {
		return usagef("unknown subcommand %q", args[0])
	}
	if err := c.run(args[1:]); err != nil {
		return subcommandError{"data " + c.name, err}
	}
	return nil
}

// demoFlags are shorthands of `mvp data gen` for the toy demonstrator's options (the flag with
// "-" where the option key has "_"); the plugin checks their values and holds their defaults.
var demoFlags = []struct{ name, usage string }{
	{"episodes", "number of demonstrations (toy default 1000)"},
	{"seed", "seed of the first episode's randomness (default 0)"},
	{"noise", "standard deviation of the Gaussian action noise, in [0, 10] (toy default 0.2)"},
	{"miss-grasp", "cube: probability of closing the gripper too high (toy default 0.3)"},
	{"retry", "cube: probability that a missed grasp is retried (toy default 0.3)"},
	{"wrong-place", "cube: probability of placing the cube 7-10 cm off the goal (toy default 0.25)"},
	{"stuck", "pointmass: probability of heading into the central obstacle (toy default 0.4)"},
	{"straight", "detour: probability of heading straight into the barrier (toy default 0.2)"},
}

func runDataGen(args []string) error {
	fs := flag.NewFlagSet("data gen", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mvp data gen prefix:<task> --out FILE [flags]\n\n"+
			"Records the task's scripted demonstrator with a plugin that has one (toy: noisy, with\n"+
			"deliberate mistakes, in OGBench's npz format, with a validation file of a tenth as many other\n"+
			"episodes next to it, FILE-val.npz). Prints one JSON summary line.\n\n")
		fs.PrintDefaults()
	}
	extra := kvFlag{}
	fs.Var(extra, "opt", "plugin option key=value (repeatable); the flags below are shorthands")
	shorthands := map[string]*string{}
	for _, f := range demoFlags {
		shorthands[f.name] = fs.String(f.name, "", f.usage)
	}
	out := fs.String("out", "", "output file (required)")
	gifPath := fs.String("gif", "", "also render the first demonstration as an animated GIF to this file")
	// The task comes first or among the flags; nothing else is positional.
	rest, err := parseFlagsThenArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("unexpected argument(s) %s: one task at a time", quoteArgs(rest[1:]))
	}
	if len(rest) == 0 || *out == "" {
		return usagef("need a task (e.g. toy:cube-task2) and --out")
	}
	spec := rest[0]
	fs.Visit(func(f *flag.Flag) {
		if p, ok := shorthands[f.Name]; ok {
			extra[strings.ReplaceAll(f.Name, "-", "_")] = *p
		}
	})
	if err := checkFlags(checkPluginOptions("opt", plugins.Demonstrations, spec, extra)); err != nil {
		return err
	}
	summary, err := plugins.WriteDemos(spec, plugins.DemoOptions{Out: *out, GIF: *gifPath, Extra: extra})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%v: %v demonstrations (%.0f%% successful), %v transitions -> %s\n",
		summary["task"], summary["episodes"], 100*asFloat(summary["demo_success_rate"]), summary["transitions"], *out)
	return json.NewEncoder(os.Stdout).Encode(summary)
}

func asFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}
