package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

func TestRangeChecks(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string // "" for no error
	}{
		{atLeast("utd", 1, 1), ""},
		{atLeast("utd", -3, 1), "--utd -3: must be at least 1"},
		{atLeast("offline-steps", 0, 0), ""},
		{atLeast("offline-steps", -5, 0), "--offline-steps -5: must be at least 0"},
		{atLeast64("at", -1, 0), "--at -1: must be at least 0"},
		{positive("lr", 3e-4), ""},
		{positive("lr", -1), "--lr -1: must be a positive finite number"},
		{positive("lr", 0), "--lr 0: must be a positive finite number"},
		{positive("lr", posInf()), "must be a positive finite number"},
		{positive("lr", nan()), "must be a positive finite number"},
		{inRange("tau", 0, 0, 1, false), ""},
		{inRange("tau", 1, 0, 1, false), ""},
		{inRange("tau", 5, 0, 1, false), "--tau 5: must be in [0, 1]"},
		{inRange("tau", -0.1, 0, 1, false), "--tau -0.1: must be in [0, 1]"},
		{inRange("gamma", 0, 0, 1, true), "--gamma 0: must be in (0, 1]"},
		{inRange("gamma", 1, 0, 1, true), ""},
		{inRange("gamma", 1.01, 0, 1, true), "must be in (0, 1]"},
		{inRange("gamma", nan(), 0, 1, true), "must be in (0, 1]"},
		{oneOf("policy-target", "best-of-n", "batch", "best-of-n"), ""},
		{oneOf("policy-target", "best", "batch", "best-of-n"), `--policy-target "best": must be one of batch, best-of-n`},
		{checkKind("qc"), ""},
		{checkKind("sac"), `--agent "sac": unknown agent; use one of mvp, qc`},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("unexpected error %v", c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("got %v, want %q", c.err, c.want)
		}
	}
	if err := checkFlags(nil, atLeast("batch", 0, 1), nil, positive("lr", -1)); !errors.As(err, new(usageError)) ||
		err.Error() != "--batch 0: must be at least 1\n--lr -1: must be a positive finite number" {
		t.Errorf("checkFlags joined %q", err)
	}
	if err := checkFlags(nil, nil); err != nil {
		t.Errorf("checkFlags of passed checks: %v", err)
	}
	for s, want := range map[string]string{"16,16": "", " 8 , 4 ": "", "16,0": `"0" is not a width`, "a": `"a" is not a width`, "": `"" is not a width`} {
		_, err := parseWidths("hidden", s)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("parseWidths(%q): %v, want %q", s, err, want)
		}
	}
}

func TestStopGrace(t *testing.T) {
	for v, want := range map[string]string{"": "30s", "0": "0s", "90s": "1m30s", "2m": "2m0s", "-1s": "error", "soon": "error"} {
		t.Setenv(StopGraceEnv, v)
		d, err := stopGrace()
		got := d.String()
		if err != nil {
			got = "error"
			if !strings.Contains(err.Error(), StopGraceEnv) {
				t.Errorf("%s=%q: error %v does not name the variable", StopGraceEnv, v, err)
			}
		}
		if got != want {
			t.Errorf("%s=%q: %s, want %s", StopGraceEnv, v, got, want)
		}
	}
}

func posInf() float64 { return 1 / zero() }
func nan() float64    { z := zero(); return z / z }
func zero() float64   { return 0 }

func TestCommandError(t *testing.T) {
	for _, c := range []struct{ cmd, in, want string }{
		{"train", "--lr -1: must be positive", "mvp train: --lr -1: must be positive"},
		{"train", "mvp: train: step 5: diverged", "mvp train: step 5: diverged"},
		{"eval", "mvp: checkpoint x: bad CRC", "mvp eval: checkpoint x: bad CRC"},
		{"data", "mvp data gen: --noise -1: bad", "mvp data gen: --noise -1: bad"},
		{"train", "plugins: loading dataset \"x:y\": boom", "mvp train: plugins: loading dataset \"x:y\": boom"},
		{"train", "--a 1: bad\n--b 2: bad", "mvp train: --a 1: bad\nmvp train: --b 2: bad"},
	} {
		if got := commandError(c.cmd, errors.New(c.in)); got != c.want {
			t.Errorf("commandError(%s, %q) = %q, want %q", c.cmd, c.in, got, c.want)
		}
	}
}

// cliLoads counts how often the clitest dataset plugin loaded: a refused command line must not
// have loaded anything.
var cliLoads atomic.Int32

func init() {
	plugins.RegisterDataset("clitest", func(name string, opts plugins.DatasetOptions) (*datasets.Dataset, error) {
		cliLoads.Add(1)
		return nil, errors.New("clitest: loaded")
	}, plugins.Info{Description: "test dataset", Options: []string{"size"}})
}

// runCaptured runs the command line in-process and returns its exit code and stderr.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, stdout := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = w, w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	code := run(args)
	os.Stderr, os.Stdout = stderr, stdout
	w.Close()
	return code, <-done
}

// TestCommandLines checks the exit code and the message of command lines, and that none of the
// refused ones loaded the dataset.
func TestCommandLines(t *testing.T) {
	for _, name := range []string{"train", "eval", "report", "fit", "bench", "export", "plugins", "data", "data gen", "data inspect"} {
		for _, h := range []string{"-h", "--help"} {
			code, out := runCaptured(t, append(strings.Fields(name), h)...)
			if code != exitOK || strings.Count(strings.ToLower(out), "usage") != 1 || strings.Contains(out, "flag: help requested") {
				t.Errorf("mvp %s %s: exit %d, want 0 and the usage once:\n%s", name, h, code, out)
			}
		}
	}
	train := func(extra ...string) []string {
		return append([]string{"train", "--dataset", "clitest:x", "--out", t.TempDir()}, extra...)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{train("extra"), exitUsage, `mvp train: unexpected argument(s) "extra"`},
		{train("--lr", "-1"), exitUsage, "mvp train: --lr -1: must be a positive finite number"},
		{train("--tau", "5"), exitUsage, "mvp train: --tau 5: must be in [0, 1]"},
		{train("--utd", "-3"), exitUsage, "mvp train: --utd -3: must be at least 1"},
		{train("--offline-steps", "-5"), exitUsage, "mvp train: --offline-steps -5: must be at least 0"},
		{train("--online-steps", "-1"), exitUsage, "--online-steps -1"},
		{train("--start-steps", "-1"), exitUsage, "--start-steps -1"},
		{train("--batch", "0"), exitUsage, "--batch 0: must be at least 1"},
		{train("--candidates", "-2"), exitUsage, "--candidates -2"},
		{train("--gamma", "0"), exitUsage, "--gamma 0: must be in (0, 1]"},
		{train("--gamma", "1.5"), exitUsage, "--gamma 1.5"},
		{train("--eval-episodes", "-1"), exitUsage, "--eval-episodes -1"},
		{train("--eval-envs", "0"), exitUsage, "--eval-envs 0"},
		{train("--log-every", "0"), exitUsage, "--log-every 0"},
		{train("--checkpoint-every", "-1"), exitUsage, "--checkpoint-every -1"},
		{train("--critics", "0"), exitUsage, "--critics 0"},
		{train("--hidden", "16,x"), exitUsage, `--hidden "16,x"`},
		{train("--dataset-opt", "sise=3"), exitUsage, `mvp train: --dataset-opt: unknown dataset option "sise" for clitest:x (the clitest plugin takes size)`},
		{train("--env", "toy:cube", "--env-opt", "seed=3"), exitUsage, `--env-opt: unknown environment option "seed" for toy:cube (the toy plugin takes no options)`},
		{train("--env", "nowhere:x"), exitUsage, `no environment plugin "nowhere"`},
		{train(), exitUsage, `--env: the dataset's plugin "clitest" has no environment; give --env`},
		{train("--online-steps", "0", "--eval-episodes", "0"), exitError, "clitest: loaded"}, // no environment needed
		{train("--agent", "sac"), exitUsage, `mvp train: --agent "sac": unknown agent; use one of mvp, qc, bfn`},
		{train("--bogus"), exitUsage, "mvp train: flag provided but not defined: -bogus"},
		{[]string{"train", "--dataset", "clitest:x"}, exitUsage, "--dataset and --out are required"},
		// A command line that passes every check reaches the loader, and its error is runtime.
		{train("--dataset-opt", "size=3", "--env", "toy:cube"), exitError, "mvp train: plugins: loading dataset \"clitest:x\": clitest: loaded"},
		{[]string{"eval", "--checkpoint", "x", "--env", "toy:cube", "--episodes", "0"}, exitUsage, "--episodes 0: must be at least 1"},
		{[]string{"eval", "--checkpoint", "x", "--env", "toy:cube", "--env-opt", "k=v"}, exitUsage, `unknown environment option "k"`},
		{[]string{"eval", "--checkpoint", "x", "--env", "toy:cube", "more"}, exitUsage, "unexpected argument"},
		{[]string{"report", "--run", "a=b", "--at", "-1"}, exitUsage, "--at -1"},
		{[]string{"fit", "--steps", "0"}, exitUsage, "mvp fit: --steps 0: must be at least 1"},
		{[]string{"fit", "--lr", "0"}, exitUsage, "--lr 0"},
		{[]string{"bench", "--seconds", "-1"}, exitUsage, "mvp bench: --seconds -1"},
		{[]string{"bench", "--candidates", "0"}, exitUsage, "--candidates 0"},
		{[]string{"export", "--checkpoint", "x", "--out", "y", "--format", "gomlx", "--batch", "-1"}, exitUsage, "mvp export: --batch -1"},
		{[]string{"export", "--checkpoint", "x", "--out", "y", "z"}, exitUsage, "unexpected argument"},
		{[]string{"plugins", "x"}, exitUsage, "mvp plugins: unexpected argument"},
		{[]string{"data", "gen", "toy:cube", "--out", filepath.Join(t.TempDir(), "x.npz"), "--episodes", "0"}, exitError, `mvp data gen: plugins: writing demonstrations of "toy:cube": toy: option episodes="0": must be at least 1`},
		{[]string{"data", "gen", "--out", "x.npz", "toy:cube", "toy:pointmass"}, exitUsage, "mvp data gen: unexpected argument"},
		{[]string{"data", "inspect", "clitest:x", "--dataset-opt", "nope=1"}, exitUsage, `mvp data inspect: --dataset-opt: unknown dataset option "nope"`},
		{[]string{"data", "inspect", "a", "b"}, exitUsage, "one file at a time"},
		{[]string{"data"}, exitUsage, "mvp data: missing subcommand"},
		{[]string{"nosuch"}, exitUsage, `unknown command "nosuch"`},
	} {
		before := cliLoads.Load()
		code, out := runCaptured(t, c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("mvp %s: exit %d, want %d with %q; output:\n%s", strings.Join(c.args, " "), code, c.code, c.want, out)
		}
		if strings.Count(out, c.want) > 1 {
			t.Errorf("mvp %s: message printed more than once:\n%s", strings.Join(c.args, " "), out)
		}
		if c.code == exitUsage && cliLoads.Load() != before {
			t.Errorf("mvp %s: the dataset was loaded before the command line was refused", strings.Join(c.args, " "))
		}
	}
	if !errors.Is(parseFlags(flag.NewFlagSet("x", flag.ContinueOnError), []string{"-h"}), flag.ErrHelp) {
		t.Error("parseFlags -h is not flag.ErrHelp")
	}
}

// TestReportTornLine: `mvp report` reads a run whose metrics.jsonl ends in a torn line, warning
// with the file's name, and a run with a step logged twice counts it once.
func TestReportTornLine(t *testing.T) {
	dir := t.TempDir()
	metrics := filepath.Join(dir, "metrics.jsonl")
	content := `{"phase":"eval","step":10,"success_rate":0.25,"return":-3}` + "\n" +
		`{"phase":"eval","step":20,"success_rate":0.5,"return":-2}` + "\n" +
		`{"phase":"eval","step":20,"success_rate":0.75,"return":-1}` + "\n" +
		`{"phase":"eval","step":30,"succ`
	if err := os.WriteFile(metrics, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runCaptured(t, "report", "--run", "A="+dir)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "warning: "+metrics) || !strings.Contains(out, "line 4") {
		t.Errorf("no warning naming %s line 4:\n%s", metrics, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		Rows []struct {
			Success float64 `json:"success_mean"`
			Steps   int64   `json:"steps"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || len(res.Rows) != 1 || res.Rows[0].Steps != 20 || res.Rows[0].Success != 0.75 {
		t.Errorf("report %+v (%v), want step 20 with the last record's success 0.75", res, err)
	}
}
