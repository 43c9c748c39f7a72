//go:build hdf5 && cgo

package robomimic

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/plugins"
)

// TestHDF5MatchesQC reads the h5py-written file with the cgo reader and compares it value by value
// with the numpy reimplementation of QC's loader, and with the converted .npz.
func TestHDF5MatchesQC(t *testing.T) {
	exp := loadExpected(t)
	d, err := LoadFile("testdata/square-small.hdf5", Options{})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "hdf5", d, exp["all"])
	v, err := LoadFile("testdata/square-small.hdf5", Options{Filter: "valid"})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "hdf5 valid", v, exp["valid"])
	j, err := LoadFile("testdata/square-small.hdf5", Options{ObsKeys: []string{"robot0_joint_pos", "object"}})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "hdf5 joint keys", j, exp["joint"])
	vl, err := LoadFile("testdata/vlen-mask.hdf5", Options{Filter: "valid"})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "hdf5 variable-length filter", vl, exp["vlen_valid"])
	n, err := LoadFile("testdata/square-small.npz", Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Name, n.Name = "", ""
	if !reflect.DeepEqual(d, n) {
		t.Error("the HDF5 file and its .npz conversion load differently")
	}
}

func TestHDF5Registry(t *testing.T) {
	exp := loadExpected(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "square", "mh")
	os.MkdirAll(sub, 0o755)
	raw, _ := os.ReadFile("testdata/square-small.hdf5")
	os.WriteFile(filepath.Join(sub, "low_dim_v15.hdf5"), raw, 0o644)
	d, err := plugins.LoadDataset("robomimic:square-mh", plugins.DatasetOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	compareDataset(t, "registry hdf5", d, exp["all"])
}

func TestHDF5BadFiles(t *testing.T) {
	for file, want := range map[string]string{
		"bad/nan.hdf5":            `dataset "data/demo_1/obs/object" has NaN at row 2, column 5`,
		"bad/missing-key.hdf5":    `no dataset "data/demo_0/next_obs/object"`,
		"bad/short-rewards.hdf5":  `dataset "data/demo_1/rewards" has shape [3], want [4]`,
		"bad/string-actions.hdf5": `dataset "data/demo_0/actions" has shape [3], want [T, act_dim]`,
		"bad/absent.hdf5":         "absent.hdf5",
	} {
		_, err := LoadFile(filepath.Join("testdata", file), Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %v, want the file name and %q", file, err, want)
		}
	}
	raw, _ := os.ReadFile("testdata/square-small.hdf5")
	p := filepath.Join(t.TempDir(), "cut.hdf5")
	os.WriteFile(p, raw[:len(raw)/2], 0o644)
	if _, err := LoadFile(p, Options{}); err == nil || !strings.Contains(err.Error(), "cut.hdf5") {
		t.Errorf("truncated HDF5: %v", err)
	}
}

func TestHDF5Inspect(t *testing.T) {
	info, err := plugins.InspectFile("testdata/square-small.hdf5", plugins.DatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "robomimic-hdf5" || info.Trajectories != 5 || info.Transitions != 31 || info.Attrs["total"] != int64(31) {
		t.Errorf("inspect: %+v", info)
	}
	found := false
	for _, a := range info.Arrays {
		if a.Key == "data/demo_*/obs/object" && a.DType == "<f8" && reflect.DeepEqual(a.Shape, []int{31, 14}) {
			found = true
		}
	}
	if !found {
		t.Errorf("arrays: %+v", info.Arrays)
	}
}
