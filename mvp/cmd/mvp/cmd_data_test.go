package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// captureStdout runs f with os.Stdout redirected and returns what it printed.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	ferr := f()
	w.Close()
	os.Stdout = old
	return <-done, ferr
}

func TestDataInspectJSON(t *testing.T) {
	out, err := captureStdout(t, func() error {
		return runDataInspect([]string{"--json", "../../../plugins/ogbench/testdata/puzzle-3x3-play-v0.npz"})
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r dataReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	if r.Format != "ogbench-npz" || r.Trajectories != 3 || r.Transitions != 15 || r.ObsDim != 55 || r.ActDim != 5 ||
		r.Reward == nil || r.Reward.Max != 0 || r.Reward.Min != -7 || r.MaskZeros == nil || *r.MaskZeros != 1 || len(r.Arrays) != 6 {
		t.Errorf("report: %+v", r)
	}
	_, err = captureStdout(t, func() error {
		return runDataInspect([]string{"../../../plugins/ogbench/testdata/bad/nan-obs.npz"})
	})
	if err == nil || !strings.Contains(err.Error(), `key "observations" has NaN at row 5, column 7`) {
		t.Errorf("NaN file: %v", err)
	}
}
