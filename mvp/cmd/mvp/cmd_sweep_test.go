package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"slices"
	"testing"
)

// TestUsageFlagsOfTrain reads `mvp train -h` as `mvp sweep run` does before it starts anything: the
// flags of the smoke and Table-1 presets must be found, and only real flags.
func TestUsageFlagsOfTrain(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	runErr := runTrain([]string{"-h"})
	os.Stderr = stderr
	_ = w.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, r)
	if runErr != flag.ErrHelp {
		t.Fatalf("train -h: %v", runErr)
	}
	known := usageFlags(buf.String())
	for _, f := range []string{"agent", "dataset", "env", "seed", "out", "offline-steps", "online-steps", "dataset-opt",
		"start-steps", "hidden", "batch", "candidates", "eval-every", "eval-episodes", "eval-envs", "log-every", "checkpoint-every"} {
		if !known[f] {
			t.Errorf("flag %s not found in the usage:\n%s", f, buf.String())
		}
	}
	for f := range known {
		if f == "string" || f == "int" || f == "value" {
			t.Errorf("%q taken for a flag", f)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	out := fs.String("out", "", "")
	js := fs.Bool("json", false, "")
	pos, err := parseInterleaved(fs, []string{"--json", "spec.toml", "--out", "d", "extra", "--", "--not-a-flag"})
	if err != nil || *out != "d" || !*js || !slices.Equal(pos, []string{"spec.toml", "extra", "--not-a-flag"}) {
		t.Errorf("pos %v out %q json %v err %v", pos, *out, *js, err)
	}
}
