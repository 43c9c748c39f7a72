package plugins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/datasets"
)

func TestSplitAndDuplicates(t *testing.T) {
	if p, n, err := Split("ogbench:cube-double-play-singletask-task2-v0"); err != nil || p != "ogbench" || n != "cube-double-play-singletask-task2-v0" {
		t.Errorf("Split: %q %q %v", p, n, err)
	}
	if p, n, err := Split("remote:gym:Pendulum-v1"); err != nil || p != "remote" || n != "gym:Pendulum-v1" {
		t.Errorf("Split keeps later colons in the name: %q %q %v", p, n, err)
	}
	if _, _, err := Split("cube"); err == nil || !strings.Contains(err.Error(), "want prefix:name") {
		t.Errorf("Split without prefix: %v", err)
	}
	load := func(string, DatasetOptions) (*datasets.Dataset, error) { return nil, nil }
	RegisterDataset("test-dup", load, Info{Names: []string{"a"}})
	defer func() {
		if recover() == nil {
			t.Error("duplicate RegisterDataset did not panic")
		}
	}()
	RegisterDataset("test-dup", load, Info{})
}

func TestInspectUnknownFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("hello"), 0o644)
	if _, err := InspectFile(p, DatasetOptions{}); err == nil || !strings.Contains(err.Error(), "no registered format reads this file") {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := InspectFile(p+".missing", DatasetOptions{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	RegisterInspector(Inspector{Format: "test-txt", Priority: -1,
		Match: func(path string, head []byte) bool { return strings.HasPrefix(string(head), "hello") },
		Inspect: func(path string, opts DatasetOptions) (*FileInfo, error) {
			return &FileInfo{Path: path, Format: "test-txt"}, nil
		}})
	if info, err := InspectFile(p, DatasetOptions{}); err != nil || info.Format != "test-txt" {
		t.Errorf("registered inspector: %v %v", info, err)
	}
}

// TestCheckOptions: each kind of plugin accepts only the option keys it declared, and MakeEnv,
// LoadDataset and WriteDemos refuse the others before calling the plugin.
func TestCheckOptions(t *testing.T) {
	calls := 0
	RegisterDataset("test-opts", func(string, DatasetOptions) (*datasets.Dataset, error) { calls++; return nil, nil },
		Info{Options: []string{"size", "alpha"}})
	RegisterEnv("test-opts", func(string, EnvOptions) (Env, error) { calls++; return nil, nil }, Info{})
	RegisterDemoWriter("test-opts", func(string, DemoOptions) (map[string]any, error) { calls++; return nil, nil },
		Info{Options: []string{"episodes"}})
	for _, c := range []struct {
		kind  Kind
		spec  string
		extra map[string]string
		want  string
	}{
		{Dataset, "test-opts:x", nil, ""},
		{Dataset, "test-opts:x", map[string]string{"size": "1", "alpha": "2"}, ""},
		{Dataset, "test-opts:x", map[string]string{"sise": "1", "beta": "2"}, `unknown dataset option "beta", "sise" for test-opts:x (the test-opts plugin takes alpha, size)`},
		{Environment, "test-opts:x", map[string]string{"size": "1"}, `unknown environment option "size" for test-opts:x (the test-opts plugin takes no options)`},
		{Demonstrations, "test-opts:x", map[string]string{"episodes": "3"}, ""},
		{Demonstrations, "test-opts:x", map[string]string{"size": "3"}, `unknown demonstration option "size"`},
		{Demonstrations, "nowhere:x", nil, `no demonstration plugin "nowhere"`},
		{Dataset, "noprefix", nil, "want prefix:name"},
	} {
		err := CheckOptions(c.kind, c.spec, c.extra)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckOptions(%s, %s, %v) = %v, want %q", c.kind, c.spec, c.extra, err, c.want)
		}
	}
	if keys, ok := OptionKeys(Dataset, "test-opts:x"); !ok || strings.Join(keys, ",") != "alpha,size" {
		t.Errorf("OptionKeys: %v %v", keys, ok)
	}
	bad := map[string]string{"nope": "1"}
	_, err1 := LoadDataset("test-opts:x", DatasetOptions{Extra: bad})
	_, err2 := MakeEnv("test-opts:x", EnvOptions{Extra: bad})
	_, err3 := WriteDemos("test-opts:x", DemoOptions{Extra: bad})
	if err1 == nil || err2 == nil || err3 == nil || calls != 0 {
		t.Errorf("unknown keys reached the plugin: %v, %v, %v, %d calls", err1, err2, err3, calls)
	}
	if _, err := LoadDataset("test-opts:x", DatasetOptions{Extra: map[string]string{"size": "1"}}); err != nil || calls != 1 {
		t.Errorf("declared key: %v, %d calls", err, calls)
	}
}
