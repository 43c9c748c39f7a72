package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gomvp/gomvp/plugins"
)

func init() {
	register(&command{name: "plugins", summary: "list the registered environment and dataset plugins", run: runPlugins})
}

func runPlugins(args []string) error {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	type row struct {
		Prefix      string   `json:"prefix"`
		Env         bool     `json:"env"`
		Dataset     bool     `json:"dataset"`
		Demos       bool     `json:"demos"`
		Description string   `json:"description"`
		Names       []string `json:"names,omitempty"`
		EnvOptions  []string `json:"env_options,omitempty"`
		DataOptions []string `json:"dataset_options,omitempty"`
	}
	var rows []row
	for _, i := range plugins.List() {
		eo, _ := plugins.OptionKeys(plugins.Environment, i.Prefix)
		do, _ := plugins.OptionKeys(plugins.Dataset, i.Prefix)
		rows = append(rows, row{i.Prefix, plugins.HasEnv(i.Prefix), plugins.HasDataset(i.Prefix), plugins.HasDemoWriter(i.Prefix),
			i.Description, i.Names, eo, do})
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"plugins": rows})
	}
	for _, r := range rows {
		var kinds []string
		if r.Env {
			kinds = append(kinds, "env")
		}
		if r.Dataset {
			kinds = append(kinds, "dataset")
		}
		if r.Demos {
			kinds = append(kinds, "demos")
		}
		fmt.Printf("%-10s %-18s %s\n", r.Prefix, strings.Join(kinds, ","), r.Description)
		for _, n := range r.Names {
			fmt.Printf("%-10s %-18s   %s:%s\n", "", "", r.Prefix, n)
		}
		if len(r.EnvOptions) > 0 {
			fmt.Printf("%-10s %-18s   --env-opt keys: %s\n", "", "", strings.Join(r.EnvOptions, ", "))
		}
		if len(r.DataOptions) > 0 {
			fmt.Printf("%-10s %-18s   --dataset-opt keys: %s\n", "", "", strings.Join(r.DataOptions, ", "))
		}
	}
	return nil
}
