package runlog

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logSteps writes train records at steps and an eval record at each multiple of 10.
func logSteps(t *testing.T, dir string, steps ...int64) {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if err := l.Log(Record{Step: s, Phase: "train", Metrics: map[string]float64{"loss": float64(s)}}); err != nil {
			t.Fatal(err)
		}
		if s%10 == 0 {
			if err := l.Log(Record{Step: s, Phase: "eval", Metrics: map[string]float64{"success_rate": 0.5}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendString(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func csvSteps(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for i, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if i == 0 {
			if !strings.HasPrefix(l, "step,time") {
				t.Fatalf("%s: header %q", path, l)
			}
			continue
		}
		f, _, _ := strings.Cut(l, ",")
		steps = append(steps, f)
	}
	return steps
}

// TestTruncateResume logs steps 5…30, is "killed" mid-line, and resumes from a checkpoint at 20:
// after Truncate and the resumed run's records every step appears once per phase, in order, and
// every file ends with a complete line.
func TestTruncateResume(t *testing.T) {
	dir := t.TempDir()
	logSteps(t, dir, 5, 10, 15, 20, 25, 30)
	appendString(t, filepath.Join(dir, "metrics.jsonl"), `{"loss":3,"phase":"tr`)
	appendString(t, filepath.Join(dir, "train.csv"), "35,2026-")
	other := filepath.Join(dir, "results.csv") // a file of the user's, not a log
	if err := os.WriteFile(other, []byte("seed,score\n100,1\n200,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Truncate(dir, 20); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(other); string(raw) != "seed,score\n100,1\n200,2\n" {
		t.Errorf("Truncate changed a CSV file that is not a log: %q", raw)
	}
	logSteps(t, dir, 25, 30, 35)
	recs, err := ReadJSONL(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Phase+":"+strconv.FormatInt(r.Step, 10))
	}
	want := "train:5 train:10 eval:10 train:15 train:20 eval:20 train:25 train:30 eval:30 train:35"
	if strings.Join(got, " ") != want {
		t.Errorf("metrics.jsonl after the resume: %s\nwant %s", strings.Join(got, " "), want)
	}
	if s := strings.Join(csvSteps(t, filepath.Join(dir, "train.csv")), " "); s != "5 10 15 20 25 30 35" {
		t.Errorf("train.csv steps %s", s)
	}
	if s := strings.Join(csvSteps(t, filepath.Join(dir, "eval.csv")), " "); s != "10 20 30" {
		t.Errorf("eval.csv steps %s", s)
	}
	// Truncating to a step past the end, or a directory without logs, changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err := Truncate(dir, 1000); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if string(before) != string(after) {
		t.Error("Truncate past the last step changed metrics.jsonl")
	}
	if err := Truncate(t.TempDir(), 0); err != nil {
		t.Errorf("Truncate of an empty directory: %v", err)
	}
	// A fresh run in a directory with logs but no checkpoint starts them over.
	if err := Truncate(dir, 0); err != nil {
		t.Fatal(err)
	}
	if recs, err := ReadJSONL(filepath.Join(dir, "metrics.jsonl")); err != nil || len(recs) != 0 {
		t.Errorf("after Truncate(0): %d records, %v", len(recs), err)
	}
	if s := csvSteps(t, filepath.Join(dir, "train.csv")); len(s) != 0 {
		t.Errorf("train.csv after Truncate(0): steps %v", s)
	}
}

// TestReadJSONLTorn: a torn last line is skipped and reported with the records before it; a bad
// line in the middle is an error naming the line.
func TestReadJSONLTorn(t *testing.T) {
	dir := t.TempDir()
	logSteps(t, dir, 1, 2, 3)
	path := filepath.Join(dir, "metrics.jsonl")
	appendString(t, path, `{"step":4,"pha`)
	recs, err := ReadJSONL(path)
	var torn *TornLineError
	if !errors.As(err, &torn) || torn.Line != 4 || torn.Path != path || len(recs) != 3 {
		t.Fatalf("torn last line: %d records, %v", len(recs), err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("message does not name the file and line: %v", err)
	}
	// A complete but unreadable last line (a crash mid-write that a newline followed) is torn too.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, append(raw, '\n'), 0o644)
	if recs, err := ReadJSONL(path); !errors.As(err, &torn) || len(recs) != 3 {
		t.Fatalf("unreadable last line: %d records, %v", len(recs), err)
	}
	os.WriteFile(path, append(raw[:len(raw)-len(`{"step":4,"pha`)], []byte("garbage\n"+`{"step":9,"phase":"train"}`+"\n")...), 0o644)
	if _, err := ReadJSONL(path); err == nil || errors.As(err, &torn) || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("bad middle line: %v, want an error naming line 4", err)
	}
}
