package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// mustCapture is captureStdout failing the test on an error.
func mustCapture(t *testing.T, fn func() error) string {
	t.Helper()
	out, err := captureStdout(t, fn)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The report's table gets each label's update rate from the runs' logs and, with --time-decisions,
// the median decision time of the label's first run with its own N.
func TestReportDecisionTimesAndRates(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"mvp", "bc"} {
		args := []string{"--agent", kind, "--dataset", "toy:pointmass", "--dataset-opt", "episodes=10",
			"--out", filepath.Join(dir, kind), "--offline-steps", "20", "--online-steps", "0", "--hidden", "16,16",
			"--batch", "8", "--eval-every", "0", "--eval-episodes", "2", "--eval-envs", "2",
			"--log-every", "5", "--checkpoint-every", "20", "--no-progress"}
		if kind != "bc" { // BC has no critic: N = 1, and --candidates is refused for it
			args = append(args, "--candidates", "4")
		}
		mustCapture(t, func() error { return runTrain(args) })
	}
	out := mustCapture(t, func() error {
		return runReport([]string{"--run", "MVP=" + filepath.Join(dir, "mvp"), "--run", "BC=" + filepath.Join(dir, "bc"),
			"--time-decisions", "12"})
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		Rows []struct {
			Label       string  `json:"label"`
			UpdatesPerS float64 `json:"updates_per_s"`
			DecisionMs  float64 `json:"decision_ms"`
			Calls       int     `json:"decision_calls"`
			Candidates  int     `json:"candidates"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	if len(res.Rows) != 2 {
		t.Fatalf("rows %+v", res.Rows)
	}
	for i, want := range []struct {
		label string
		n     int
	}{{"MVP", 4}, {"BC", 1}} {
		r := res.Rows[i]
		if r.Label != want.label || r.Candidates != want.n || r.Calls != 12 || !(r.DecisionMs > 0) || !(r.UpdatesPerS > 0) {
			t.Errorf("row %d: %+v, want label %s, N %d, 12 timed decisions, positive time and rate", i, r, want.label, want.n)
		}
	}
	if !strings.Contains(out, "| decision ms (N) | updates/s |") {
		t.Errorf("table header lacks the decision and rate columns:\n%s", out)
	}
}
