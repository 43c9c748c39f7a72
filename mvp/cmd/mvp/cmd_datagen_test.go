package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/plugins"
)

func TestDataGen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "cube1.npz")
	gif := filepath.Join(dir, "cube1.gif")
	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err := runData([]string{"gen", "toy:cube-task1", "--episodes", "30", "--out", out, "--gif", gif})
	w.Close()
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	printed, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSpace(string(printed)), "\n")
	var summary struct {
		Episodes    int     `json:"episodes"`
		ValEpisodes int     `json:"val_episodes"`
		Transitions int     `json:"transitions"`
		Success     float64 `json:"demo_success_rate"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	if summary.Episodes != 30 || summary.ValEpisodes != 3 || summary.Success <= 0 || summary.Success >= 1 {
		t.Errorf("summary %+v", summary)
	}
	ds, err := plugins.LoadDataset("toy:cube-task1", plugins.DatasetOptions{Path: out})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != summary.Transitions {
		t.Errorf("file has %d transitions, summary says %d", ds.Len(), summary.Transitions)
	}
	for _, f := range []string{strings.TrimSuffix(out, ".npz") + "-val.npz", gif} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := runData([]string{"gen", "remote:gym:Pendulum-v1", "--out", out}); err == nil || !strings.Contains(err.Error(), `no demonstration plugin "remote"`) {
		t.Errorf("task of a plugin without demonstrations: %v", err)
	}
	// The shorthand flags and --opt reach the plugin's options, which it checks before writing.
	bad := filepath.Join(dir, "bad.npz")
	for _, args := range [][]string{{"--noise", "-1"}, {"--opt", "noise=11"}, {"--miss-grasp", "2"}} {
		err := runData(append([]string{"gen", "toy:cube-task1", "--out", bad}, args...))
		if err == nil || !strings.Contains(err.Error(), "noise") && !strings.Contains(err.Error(), "miss_grasp") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := runData([]string{"gen", "toy:cube-task1", "--out", bad, "--opt", "colour=red"}); err == nil || !strings.Contains(err.Error(), `unknown demonstration option "colour"`) {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused command line wrote its file")
	}
	if err := runData([]string{"gen", "toy:cube-task1"}); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("missing --out: %v", err)
	}
}
