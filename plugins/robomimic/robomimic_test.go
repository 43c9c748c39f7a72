package robomimic

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

type expectedDataset struct {
	ObsDim           int       `json:"obs_dim"`
	Demos            int       `json:"demos"`
	Observations     []float64 `json:"observations"`
	NextObservations []float64 `json:"next_observations"`
	Actions          []float64 `json:"actions"`
	Rewards          []float64 `json:"rewards"`
	Masks            []float64 `json:"masks"`
	Terminals        []float64 `json:"terminals"`
}

func loadExpected(t *testing.T) map[string]expectedDataset {
	t.Helper()
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectedDataset
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// compareDataset checks d value by value against the numpy reimplementation of QC's loader.
func compareDataset(t *testing.T, what string, d *datasets.Dataset, e expectedDataset) {
	t.Helper()
	if d.ObsDim != e.ObsDim || d.ActDim != 7 || len(d.Episodes()) != e.Demos {
		t.Errorf("%s: obs %d act %d trajectories %d, want %d 7 %d", what, d.ObsDim, d.ActDim, len(d.Episodes()), e.ObsDim, e.Demos)
	}
	for _, f := range []struct {
		name string
		got  []float32
		want []float64
	}{
		{"observations", d.Observations, e.Observations}, {"next_observations", d.NextObservations, e.NextObservations},
		{"actions", d.Actions, e.Actions}, {"rewards", d.Rewards, e.Rewards}, {"masks", d.Masks, e.Masks},
		{"terminals", d.Terminals, e.Terminals},
	} {
		if len(f.got) != len(f.want) {
			t.Errorf("%s %s: %d values, want %d", what, f.name, len(f.got), len(f.want))
			continue
		}
		for i := range f.want {
			if float64(f.got[i]) != f.want[i] {
				t.Errorf("%s %s[%d] = %v, want %v", what, f.name, i, f.got[i], f.want[i])
				break
			}
		}
	}
}

func TestConvertedNPZMatchesQC(t *testing.T) {
	exp := loadExpected(t)
	d, err := LoadFile("testdata/square-small.npz", Options{})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "npz", d, exp["all"])
	d, err = LoadFile("testdata/square-small.npz", Options{Filter: "valid"})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "npz valid", d, exp["valid"])
	d, err = LoadFile("testdata/square-small.npz", Options{ObsKeys: []string{"robot0_joint_pos", "object"}})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "npz joint keys", d, exp["joint"])
}

func TestRegistry(t *testing.T) {
	exp := loadExpected(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "square", "mh")
	os.MkdirAll(sub, 0o755)
	raw, _ := os.ReadFile("testdata/square-small.npz")
	os.WriteFile(filepath.Join(sub, "low_dim_v15.npz"), raw, 0o644)
	d, err := plugins.LoadDataset("robomimic:square-mh-low_dim", plugins.DatasetOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "registry", d, exp["all"])
	v, err := plugins.LoadDataset("robomimic:square-mh", plugins.DatasetOptions{Path: dir, Validation: true})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "registry valid", v, exp["valid"])
	if _, err := plugins.LoadDataset("robomimic:lift-ph", plugins.DatasetOptions{Path: dir}); err == nil ||
		!strings.Contains(err.Error(), "download_datasets.py --tasks lift --dataset_types ph") {
		t.Errorf("missing dataset: %v", err)
	}
	if _, err := plugins.LoadDataset("robomimic:square", plugins.DatasetOptions{Path: dir}); err == nil {
		t.Error("name without type accepted")
	}
	if _, err := LoadFile("testdata/square-small.npz", Options{Filter: "20_percent"}); err == nil ||
		!strings.Contains(err.Error(), `no demo filter "20_percent" (filters: [train valid])`) {
		t.Errorf("unknown filter: %v", err)
	}
}

func TestBadNPZ(t *testing.T) {
	_, err := LoadFile("testdata/bad/nan.npz", Options{})
	if err == nil || !strings.Contains(err.Error(), `bad/nan.npz: key "obs/object" has NaN at row 5, column 5`) {
		t.Errorf("NaN: %v", err)
	}
	_, err = LoadFile("../ogbench/testdata/cube-double-play-v0.npz", Options{})
	if err == nil || !strings.Contains(err.Error(), `no key "meta"; not written by convert_robomimic.py`) {
		t.Errorf("OGBench file: %v", err)
	}
}

func TestHDF5WithoutSupport(t *testing.T) {
	if HDF5Supported {
		t.Skip("this build reads HDF5; TestHDF5MatchesQC covers it")
	}
	_, err := LoadFile("testdata/square-small.hdf5", Options{})
	if err == nil || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), "convert_robomimic.py testdata/square-small.hdf5") {
		t.Errorf("HDF5 without support: %v", err)
	}
}

func TestParseName(t *testing.T) {
	for in, want := range map[string]Name{"square-mh": {"square", "mh"}, "lift-ph-low_dim": {"lift", "ph"}} {
		if got, err := ParseName(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, ok := demoIndex("demo_01"); ok {
		t.Error("demo_01 accepted")
	}
	if i, ok := demoIndex("demo_10"); !ok || i != 10 {
		t.Error("demo_10 refused")
	}
}
