package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// TestFitJSON runs `mvp fit --json` on a tiny budget and checks that the last stdout line is one
// JSON object with every method's distance, train time and sampling time.
func TestFitJSON(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	runErr := runFit([]string{"--json", "--steps", "20", "--widths", "16,16", "--samples", "64",
		"--mmd-samples", "32", "--eval-states", "1", "--batch", "32"})
	os.Stdout = stdout
	_ = w.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, r)
	if runErr != nil {
		t.Fatal(runErr)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var out struct {
		Methods []struct {
			Method      string  `json:"method"`
			SW          float64 `json:"sw"`
			TrainS      float64 `json:"train_s"`
			SampleMs    float64 `json:"sample_ms_per_batch"`
			SampleSteps int     `json:"sample_steps"`
		} `json:"methods"`
		Ratios map[string]*float64 `json:"ratios"`
		Floor  float64             `json:"truth_floor_sw"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	want := []string{"mvp", "mvp-lambda0", "flow-k10", "flow-k1"}
	if len(out.Methods) != len(want) {
		t.Fatalf("%d methods, want %v", len(out.Methods), want)
	}
	for i, m := range out.Methods {
		if m.Method != want[i] || !(m.SW > 0) || !(m.TrainS > 0) || !(m.SampleMs > 0) {
			t.Errorf("method %d: %+v", i, m)
		}
	}
	if out.Ratios["mvp_over_flow_k10"] == nil || !(out.Floor > 0) {
		t.Errorf("missing ratios or floor: %+v", out)
	}
	if err := runFit([]string{"--methods", "mvp,gan"}); err == nil || !strings.Contains(err.Error(), "gan") {
		t.Errorf("unknown method: %v", err)
	}
	for name, want := range map[string][2]float64{"mvp": {1, 1}, "mvp-lambda0.5": {0.5, 1}, "mvp-k4": {1, 4}, "mvp-lambda0-k2": {0, 2}} {
		m, err := parseFitMethod(name)
		if err != nil || *m.lambda != want[0] || m.sampleSteps != int(want[1]) {
			t.Errorf("%s: λ=%v k=%d err=%v, want λ=%g k=%g", name, m.lambda, m.sampleSteps, err, want[0], want[1])
		}
	}
	for _, name := range []string{"mvp-lambda", "mvp-k0", "flow-k", "flow-kx", "mvp-lambda-1", "mvpx"} {
		if _, err := parseFitMethod(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	if err := runFit([]string{"--families", "spiral"}); err == nil || !strings.Contains(err.Error(), "spiral") {
		t.Errorf("unknown family: %v", err)
	}
}
