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
