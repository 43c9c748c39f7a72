package ogbench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/plugins"
)

type expectedDataset struct {
	ObsDim           int       `json:"obs_dim"`
	ActDim           int       `json:"act_dim"`
	Observations     []float64 `json:"observations"`
	NextObservations []float64 `json:"next_observations"`
	Actions          []float64 `json:"actions"`
	Terminals        []float64 `json:"terminals"`
	Rewards          []float64 `json:"rewards"`
	Masks            []float64 `json:"masks"`
}

func compare(t *testing.T, what, field string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s %s: %d values, want %d", what, field, len(got), len(want))
		return
	}
	for i := range want {
		if float64(got[i]) != want[i] && float64(got[i]) != float64(float32(want[i])) {
			t.Errorf("%s %s[%d] = %v, want %v", what, field, i, got[i], want[i])
			return
		}
	}
}

// TestMatchesOGBench compares the loader with ogbench.utils.load_dataset and
// ogbench.relabel_utils.relabel_dataset run on the same files (testdata/make_fixtures.py).
func TestMatchesOGBench(t *testing.T) {
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectedDataset
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp) < 8 {
		t.Fatalf("only %d expected datasets", len(exp))
	}
	for key, e := range exp {
		file, envName, _ := strings.Cut(key, "|")
		n, err := ParseName(strings.Replace(envName, "-singletask", "-play-singletask", 1))
		if err != nil {
			t.Fatal(err)
		}
		task, err := TaskFor(n.Env, n.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		d, err := LoadFile(filepath.Join("testdata", file), task)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if d.ObsDim != e.ObsDim || d.ActDim != e.ActDim {
			t.Errorf("%s: dims %d %d, want %d %d", key, d.ObsDim, d.ActDim, e.ObsDim, e.ActDim)
		}
		compare(t, key, "observations", d.Observations, e.Observations)
		compare(t, key, "next_observations", d.NextObservations, e.NextObservations)
		compare(t, key, "actions", d.Actions, e.Actions)
		compare(t, key, "terminals", d.Terminals, e.Terminals)
		compare(t, key, "rewards", d.Rewards, e.Rewards)
		compare(t, key, "masks", d.Masks, e.Masks)
	}
}

// TestGoalTables compares TaskFor with the goals read from the environments' task_infos.
func TestGoalTables(t *testing.T) {
	raw, err := os.ReadFile("testdata/goal_tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var tables map[string][]struct {
		Cubes   [][3]float64 `json:"cubes"`
		Buttons []int64      `json:"buttons"`
		Drawer  *float64     `json:"drawer"`
		Window  *float64     `json:"window"`
	}
	if err := json.Unmarshal(raw, &tables); err != nil {
		t.Fatal(err)
	}
	for env, tasks := range tables {
		for i, want := range tasks {
			got, err := TaskFor(env, i+1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.CubeGoals) != len(want.Cubes) || len(got.Buttons) != len(want.Buttons) {
				t.Fatalf("%s task%d: %+v, want %+v", env, i+1, got, want)
			}
			for c := range want.Cubes {
				if got.CubeGoals[c] != want.Cubes[c] {
					t.Errorf("%s task%d cube %d: %v, want %v", env, i+1, c, got.CubeGoals[c], want.Cubes[c])
				}
			}
			for b := range want.Buttons {
				if got.Buttons[b] != want.Buttons[b] {
					t.Errorf("%s task%d buttons %v, want %v", env, i+1, got.Buttons, want.Buttons)
					break
				}
			}
			if want.Drawer != nil && (got.Drawer != *want.Drawer || got.Window != *want.Window || !got.HasDrawerWindow) {
				t.Errorf("%s task%d drawer/window %v %v, want %v %v", env, i+1, got.Drawer, got.Window, *want.Drawer, *want.Window)
			}
		}
	}
}

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		in                string
		file, env         string
		single            bool
		task              int
		visual, wantError bool
	}{
		{"cube-double-play-singletask-task2-v0", "cube-double-play-v0", "cube-double", true, 2, false, false},
		{"cube-triple-play-singletask-v0", "cube-triple-play-v0", "cube-triple", true, 0, false, false},
		{"puzzle-3x3-play-singletask-task4-v0", "puzzle-3x3-play-v0", "puzzle-3x3", true, 4, false, false},
		{"scene-play-v0", "scene-play-v0", "scene", false, 0, false, false},
		{"visual-cube-double-play-singletask-task1-v0", "visual-cube-double-play-v0", "cube-double", true, 1, true, false},
		{"cube-double-play-singletask-task9-v0", "", "", false, 0, false, true},
		{"cube", "", "", false, 0, false, true},
	} {
		n, err := ParseName(c.in)
		if (err != nil) != c.wantError {
			t.Errorf("%s: error %v", c.in, err)
			continue
		}
		if err == nil && (n.File != c.file || n.Env != c.env || n.SingleTask != c.single || n.TaskID != c.task || n.Visual != c.visual) {
			t.Errorf("%s: %+v", c.in, n)
		}
	}
}

func TestRegistryAndValidationFile(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	train, err := plugins.LoadDataset("ogbench:cube-double-play-singletask-task4-v0", plugins.DatasetOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	val, err := plugins.LoadDataset("ogbench:cube-double-play-singletask-task4-v0", plugins.DatasetOptions{Path: dir, Validation: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Episodes()) != 3 || len(val.Episodes()) != 2 || train.Len() != 15 || val.Len() != 10 {
		t.Errorf("train %d trajectories %d rows, val %d trajectories %d rows", len(train.Episodes()), train.Len(), len(val.Episodes()), val.Len())
	}
	// The path may also name the file itself.
	d, err := plugins.LoadDataset("ogbench:cube-double-play-singletask-task4-v0",
		plugins.DatasetOptions{Path: filepath.Join(dir, "cube-double-play-v0.npz"), Validation: true})
	if err != nil || d.Len() != 10 {
		t.Errorf("validation by file path: %v", err)
	}
	for _, c := range []struct{ name, want string }{
		{"visual-cube-double-play-singletask-task2-v0", "visual-*"},
		{"cube-double-play-v0", "goal-conditioned dataset without rewards; name a single-task variant such as cube-double-play-singletask-task2-v0"},
		{"cube-quadruple-play-singletask-task2-v0", "cube-quadruple-play-v0.npz not found"},
		{"antmaze-large-navigate-singletask-task1-v0", `no goal table for environment "antmaze-large"`},
	} {
		_, err := plugins.LoadDataset("ogbench:"+c.name, plugins.DatasetOptions{Path: dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestBadFiles(t *testing.T) {
	task, _ := TaskFor("cube-double", 2)
	for file, want := range map[string]string{
		"bad/nan-obs.npz":                `key "observations" has NaN at row 5, column 7`,
		"bad/complex-actions.npz":        `key "actions": unsupported dtype "<c8"`,
		"bad/short-terminals.npz":        `key "terminals" has shape [7], want [8]`,
		"bad/unterminated.npz":           "does not end a trajectory",
		"bad/no-qpos.npz":                `no key "qpos", needed to relabel rewards for cube-double task2`,
		"visual-cube-double-play-v0.npz": "pixel-observation (visual-*) datasets are not supported",
		"bad/missing.npz":                "no such file",
	} {
		_, err := LoadFile(filepath.Join("testdata", file), task)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %v, want the file name and %q", file, err, want)
		}
	}
	// A truncated copy of a good file.
	raw, _ := os.ReadFile("testdata/cube-double-play-v0.npz")
	p := filepath.Join(t.TempDir(), "cut.npz")
	os.WriteFile(p, raw[:len(raw)-200], 0o644)
	if _, err := LoadFile(p, task); err == nil || !strings.Contains(err.Error(), "cut.npz") {
		t.Errorf("truncated file: %v", err)
	}
}

func TestInspect(t *testing.T) {
	info, err := plugins.InspectFile("testdata/scene-play-v0.npz", plugins.DatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "ogbench-npz" || info.Trajectories != 3 || info.Transitions != 15 || info.Dataset == nil || len(info.Arrays) != 6 {
		t.Errorf("inspect: %+v", info)
	}
	info, err = plugins.InspectFile("testdata/cube-double-play-v0.npz", plugins.DatasetOptions{Extra: map[string]string{"task": "task1"}})
	if err != nil || !strings.Contains(strings.Join(info.Notes, " "), "cube-double task1") {
		t.Errorf("inspect with task: %v %v", info, err)
	}
}

// The standard loading never lets a chunk window cross trajectories: every window of the loaded
// dataset starts and ends inside one trajectory.
func TestWindowsStayInTrajectories(t *testing.T) {
	task, _ := TaskFor("cube-double", 2)
	d, err := LoadFile("testdata/cube-double-play-v0.npz", task)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < d.Len(); k++ {
		w := d.Window(k, 5, 0.99)
		valid := 0
		for _, v := range w.Valid {
			valid += int(v)
		}
		rest := 5 - (k % 5) // 5 transitions per trajectory
		if valid != min(5, rest) {
			t.Fatalf("window at %d has %d valid steps, want %d", k, valid, min(5, rest))
		}
	}
}
