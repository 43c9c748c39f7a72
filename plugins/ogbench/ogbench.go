// Package ogbench loads OGBench datasets (<name>.npz and <name>-val.npz, as written by
// np.savez_compressed) for reward-based single-task RL, and registers the dataset prefix
// "ogbench" and an inspector for OGBench-format files. Import it for its side effect:
//
//	import _ "github.com/gomvp/gomvp/plugins/ogbench"
//	d, err := plugins.LoadDataset("ogbench:cube-double-play-singletask-task2-v0", plugins.DatasetOptions{})
//
// Loading follows ogbench.utils.load_dataset (the standard, non-compact form): the row whose
// terminals flag is set ends a trajectory and is dropped as a state, next observations are taken
// from the row after, and the last kept transition of each trajectory is terminal. The rewards
// and masks of "<env>-<type>-singletask[-taskN]-v0" follow ogbench.relabel_utils.relabel_dataset:
// the per-subtask successes of each transition's state (qpos, button_states) against the task's
// goal table give reward = successes − subtasks and mask = 1 − all(successes). Pixel datasets
// (visual-*) are refused.
package ogbench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
	"github.com/gomvp/gomvp/plugins/npzfile"
)

// DefaultDir is where OGBench downloads its datasets; "~" is the home directory.
const DefaultDir = "~/.ogbench/data"

func init() {
	plugins.RegisterDataset("ogbench", load, plugins.Info{
		Description: "OGBench .npz datasets (~/.ogbench/data or DatasetOptions.Path), single-task rewards relabelled from the goal tables",
		Names: []string{"cube-double-play-singletask-task2-v0", "cube-triple-play-singletask-task4-v0",
			"scene-play-singletask-task2-v0", "puzzle-3x3-play-singletask-task4-v0"},
	})
	plugins.RegisterInspector(plugins.Inspector{Format: "ogbench-npz", Match: matchNPZ, Inspect: inspect})
}

// Name is a parsed OGBench dataset name.
type Name struct {
	Full string // as given, e.g. "cube-double-play-singletask-task2-v0"
	File string // the dataset file's base name, e.g. "cube-double-play-v0"
	Env  string // environment family, e.g. "cube-double"
	// SingleTask tells whether rewards are asked for; TaskID is 1…5, or 0 for the default task.
	SingleTask bool
	TaskID     int
	Visual     bool
}

// ParseName splits an OGBench dataset name as ogbench.make_env_and_datasets does.
func ParseName(s string) (Name, error) {
	n := Name{Full: s}
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !strings.HasPrefix(parts[len(parts)-1], "v") {
		return n, fmt.Errorf("ogbench: %q is not a dataset name like cube-double-play-singletask-task2-v0", s)
	}
	n.Visual = parts[0] == "visual"
	pos := -1
	for i, p := range parts {
		if p == "singletask" {
			pos = i
		}
	}
	if pos >= 0 {
		if pos < 2 {
			return n, fmt.Errorf("ogbench: %q: no environment and dataset type before \"singletask\"", s)
		}
		n.SingleTask = true
		n.File = strings.Join(append(append([]string{}, parts[:pos]...), parts[len(parts)-1]), "-")
		n.Env = strings.Join(parts[:pos-1], "-")
		if rest := parts[pos+1 : len(parts)-1]; len(rest) == 1 && strings.HasPrefix(rest[0], "task") {
			id, err := strconv.Atoi(strings.TrimPrefix(rest[0], "task"))
			if err != nil || id < 1 || id > 5 {
				return n, fmt.Errorf("ogbench: %q: task %q, want task1…task5", s, rest[0])
			}
			n.TaskID = id
		} else if len(rest) != 0 {
			return n, fmt.Errorf("ogbench: %q: unexpected %q after \"singletask\"", s, strings.Join(rest, "-"))
		}
	} else {
		n.File = s
		n.Env = strings.Join(parts[:len(parts)-2], "-")
	}
	n.Env = strings.TrimPrefix(n.Env, "visual-")
	return n, nil
}

// FileName returns the file name of the training or validation split.
func (n Name) FileName(validation bool) string {
	if validation {
		return n.File + "-val.npz"
	}
	return n.File + ".npz"
}

func load(name string, opts plugins.DatasetOptions) (*datasets.Dataset, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if n.Visual {
		return nil, fmt.Errorf("ogbench: %s: pixel-observation datasets (visual-*, uint8 N×64×64×3) are not supported; use the state-based dataset %s", name, strings.TrimPrefix(name, "visual-"))
	}
	if !n.SingleTask {
		cut := strings.LastIndex(n.File, "-")
		return nil, fmt.Errorf("ogbench: %s is a goal-conditioned dataset without rewards; name a single-task variant such as %s-singletask-task%d%s",
			name, n.File[:cut], max(defaultTask[n.Env], 1), n.File[cut:])
	}
	task, err := TaskFor(n.Env, n.TaskID)
	if err != nil {
		return nil, fmt.Errorf("ogbench: %s: %w", name, err)
	}
	path, err := resolve(n, opts)
	if err != nil {
		return nil, err
	}
	d, err := LoadFile(path, task)
	if err != nil {
		return nil, err
	}
	d.Name = "ogbench:" + name
	if opts.Validation {
		d.Name += " (val)"
	}
	return d, nil
}

// resolve finds the file: DatasetOptions.Path may be the file itself (its "-val" sibling is used
// for the validation split) or a directory; without it, DefaultDir.
func resolve(n Name, opts plugins.DatasetOptions) (string, error) {
	dir := opts.Path
	if dir == "" {
		dir = DefaultDir
	}
	if strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("ogbench: %w", err)
		}
		dir = filepath.Join(home, dir[2:])
	}
	path := filepath.Join(dir, n.FileName(opts.Validation))
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		path = dir
		if opts.Validation && !strings.HasSuffix(dir, "-val.npz") {
			path = strings.TrimSuffix(dir, ".npz") + "-val.npz"
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("ogbench: dataset file %s not found (%v); download it with\n"+
			"  python -c \"import ogbench; ogbench.download_datasets(['%s'])\"\n"+
			"or write a local one with scripts/ogbench_oracle_dataset.py, or give its path in DatasetOptions.Path (--dataset-path)",
			path, errors.Unwrap(err), n.File)
	}
	return path, nil
}

// LoadFile reads an OGBench-format .npz file in the standard (non-compact) form. With a task, the
// rewards and masks are relabelled from its goal table; without one, rewards are 0 and masks 1.
func LoadFile(path string, task *Task) (*datasets.Dataset, error) {
	f, err := npzfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ogbench: %w", err)
	}
	defer f.Close()
	keys := []string{"observations", "actions", "terminals"}
	if task != nil {
		keys = append(keys, "qpos", "button_states")
	}
	f.Preload(keys...)
	raw, err := readRaw(f)
	if err != nil {
		return nil, fmt.Errorf("ogbench: %w", err)
	}
	d, kept := standard(raw)
	d.Name = path
	if task != nil {
		if err := relabel(f, raw, kept, task, d); err != nil {
			return nil, fmt.Errorf("ogbench: %w", err)
		}
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("ogbench: %w", err)
	}
	return d, nil
}

// rawFile holds the arrays of a file, one row per stored step.
type rawFile struct {
	path           string
	rows           int
	obsDim, actDim int
	obs, act, term []float32
}

func readRaw(f *npzfile.File) (*rawFile, error) {
	r := &rawFile{path: f.Path}
	for _, k := range []string{"observations", "actions", "terminals"} {
		if !f.Has(k) {
			return nil, fmt.Errorf("npz %s: no key %q (keys: %s); not an OGBench dataset", f.Path, k, strings.Join(f.Keys(), ", "))
		}
	}
	oi, _ := f.Info("observations")
	if len(oi.Shape) != 2 {
		if len(oi.Shape) == 4 {
			return nil, fmt.Errorf("npz %s: key \"observations\" has shape %v of %s: pixel-observation (visual-*) datasets are not supported; use the state-based dataset", f.Path, oi.Shape, oi.DType)
		}
		return nil, fmt.Errorf("npz %s: key \"observations\" has shape %v, want [N, obs_dim]", f.Path, oi.Shape)
	}
	var err error
	if r.obs, _, err = f.Float32("observations"); err != nil {
		return nil, err
	}
	r.rows, r.obsDim = oi.Shape[0], oi.Shape[1]
	ai, _ := f.Info("actions")
	if len(ai.Shape) != 2 || ai.Shape[0] != r.rows {
		return nil, fmt.Errorf("npz %s: key \"actions\" has shape %v, want [%d, act_dim]", f.Path, ai.Shape, r.rows)
	}
	if r.act, _, err = f.Float32("actions"); err != nil {
		return nil, err
	}
	r.actDim = ai.Shape[1]
	ti, _ := f.Info("terminals")
	if ti.Len() != r.rows || len(ti.Shape) > 2 {
		return nil, fmt.Errorf("npz %s: key \"terminals\" has shape %v, want [%d]", f.Path, ti.Shape, r.rows)
	}
	if r.term, _, err = f.Float32("terminals"); err != nil {
		return nil, err
	}
	if err := npzfile.CheckFinite(f.Path, "observations", r.obs, r.obsDim); err != nil {
		return nil, err
	}
	if err := npzfile.CheckFinite(f.Path, "actions", r.act, r.actDim); err != nil {
		return nil, err
	}
	if err := npzfile.CheckFinite(f.Path, "terminals", r.term, 1); err != nil {
		return nil, err
	}
	if r.rows == 0 {
		return nil, fmt.Errorf("npz %s: no rows", f.Path)
	}
	if r.term[r.rows-1] == 0 {
		return nil, fmt.Errorf("npz %s: the last row (%d) does not end a trajectory (terminals is 0): truncated file?", f.Path, r.rows-1)
	}
	return r, nil
}

// standard builds the non-compact dataset; kept[j] is the file row of transition j.
func standard(r *rawFile) (*datasets.Dataset, []int) {
	n := 0
	for _, t := range r.term {
		if t == 0 {
			n++
		}
	}
	od, ad := r.obsDim, r.actDim
	d := &datasets.Dataset{ObsDim: od, ActDim: ad,
		Observations: make([]float32, 0, n*od), NextObservations: make([]float32, 0, n*od),
		Actions: make([]float32, 0, n*ad), Rewards: make([]float32, n), Masks: make([]float32, n),
		Terminals: make([]float32, 0, n)}
	kept := make([]int, 0, n)
	for i := 0; i < r.rows-1; i++ {
		if r.term[i] != 0 {
			continue
		}
		kept = append(kept, i)
		d.Observations = append(d.Observations, r.obs[i*od:(i+1)*od]...)
		d.NextObservations = append(d.NextObservations, r.obs[(i+1)*od:(i+2)*od]...)
		d.Actions = append(d.Actions, r.act[i*ad:(i+1)*ad]...)
		t := float32(0)
		if r.term[i+1] != 0 {
			t = 1
		}
		d.Terminals = append(d.Terminals, t)
	}
	for j := range d.Masks {
		d.Masks[j] = 1
	}
	return d, kept
}

// relabel sets rewards and masks from the task's success conditions on the state of each kept row.
func relabel(f *npzfile.File, r *rawFile, kept []int, task *Task, d *datasets.Dataset) error {
	var qpos []float64
	qw := 0
	need := qposObjectStart + qposCubeLen*len(task.CubeGoals)
	if task.HasDrawerWindow {
		need += len(task.Buttons) + 2
	}
	if len(task.CubeGoals) > 0 || task.HasDrawerWindow {
		if !f.Has("qpos") {
			return fmt.Errorf("npz %s: no key \"qpos\", needed to relabel rewards for %s task%d", f.Path, task.Env, task.ID)
		}
		var info npzfile.Info
		var err error
		if qpos, info, err = f.Float64("qpos"); err != nil {
			return err
		}
		if len(info.Shape) != 2 || info.Shape[0] != r.rows || info.Shape[1] < need {
			return fmt.Errorf("npz %s: key \"qpos\" has shape %v, want [%d, ≥%d] for %s", f.Path, info.Shape, r.rows, need, task.Env)
		}
		qw = info.Shape[1]
		if err := npzfile.CheckFinite(f.Path, "qpos", qpos, qw); err != nil {
			return err
		}
	}
	var buttons []int64
	bw := len(task.Buttons)
	if bw > 0 {
		if !f.Has("button_states") {
			return fmt.Errorf("npz %s: no key \"button_states\", needed to relabel rewards for %s task%d", f.Path, task.Env, task.ID)
		}
		var info npzfile.Info
		var err error
		if buttons, info, err = f.Int64("button_states"); err != nil {
			return err
		}
		if len(info.Shape) != 2 || info.Shape[0] != r.rows || info.Shape[1] != bw {
			return fmt.Errorf("npz %s: key \"button_states\" has shape %v, want [%d, %d] for %s", f.Path, info.Shape, r.rows, bw, task.Env)
		}
	}
	sub := float32(task.SubtaskCount())
	for j, i := range kept {
		succ := 0
		for c, g := range task.CubeGoals {
			q := qpos[i*qw+qposObjectStart+qposCubeLen*c:]
			dx, dy, dz := q[0]-g[0], q[1]-g[1], q[2]-g[2]
			if math.Sqrt(dx*dx+dy*dy+dz*dz) <= goalTolerance {
				succ++
			}
		}
		for b, g := range task.Buttons {
			if buttons[i*bw+b] == g {
				succ++
			}
		}
		if task.HasDrawerWindow {
			drawer := qpos[i*qw+qposObjectStart+qposCubeLen*len(task.CubeGoals)+bw]
			window := qpos[i*qw+qposObjectStart+qposCubeLen*len(task.CubeGoals)+bw+1]
			if math.Abs(drawer-task.Drawer) <= goalTolerance {
				succ++
			}
			if math.Abs(window-task.Window) <= goalTolerance {
				succ++
			}
		}
		d.Rewards[j] = float32(succ) - sub
		if float32(succ) == sub {
			d.Masks[j] = 0
		} else {
			d.Masks[j] = 1
		}
	}
	return nil
}

// matchNPZ accepts zip archives holding observations, actions and terminals and no robomimic keys.
func matchNPZ(path string, head []byte) bool {
	if !bytes.HasPrefix(head, []byte("PK\x03\x04")) && !bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return false
	}
	f, err := npzfile.Open(path)
	if err != nil {
		return true // let Inspect report the damage
	}
	defer f.Close()
	return f.Has("observations") && f.Has("terminals") && !f.Has("demo_lengths")
}

// inspect describes an OGBench-format file. The task comes from opts.Extra["task"] (a dataset
// name such as cube-double-play-singletask-task2-v0, or a task number with the environment taken
// from the file name); without one, a file named after a known environment is relabelled with its
// default task.
func inspect(path string, opts plugins.DatasetOptions) (*plugins.FileInfo, error) {
	f, err := npzfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ogbench: %w", err)
	}
	info := &plugins.FileInfo{Path: path, Format: "ogbench-npz"}
	for _, k := range f.Keys() {
		a, _ := f.Info(k)
		info.Arrays = append(info.Arrays, plugins.ArrayInfo{Key: k, DType: a.DType, Shape: a.Shape})
	}
	f.Close()
	task, note := inspectTask(path, opts)
	if note != "" {
		info.Notes = append(info.Notes, note)
	}
	d, err := LoadFile(path, task)
	if err != nil {
		return nil, err
	}
	if task == nil {
		info.Notes = append(info.Notes, "no rewards stored and no single-task goal known: reward statistics omitted")
	} else {
		info.Dataset = d
	}
	info.Trajectories = len(d.Episodes())
	info.Transitions = d.Len()
	info.ObsDim, info.ActDim = d.ObsDim, d.ActDim
	return info, nil
}

func inspectTask(path string, opts plugins.DatasetOptions) (*Task, string) {
	spec := opts.Extra["task"]
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".npz"), "-val")
	if spec != "" {
		if id, err := strconv.Atoi(strings.TrimPrefix(spec, "task")); err == nil {
			spec = ""
			if n, err := ParseName(base); err == nil {
				if t, err := TaskFor(n.Env, id); err == nil {
					return t, fmt.Sprintf("rewards relabelled for %s task%d (goal table)", t.Env, t.ID)
				}
			}
			return nil, fmt.Sprintf("task %d asked, but the environment is not known from the file name %q", id, base)
		}
		n, err := ParseName(spec)
		if err != nil {
			return nil, err.Error()
		}
		t, err := TaskFor(n.Env, n.TaskID)
		if err != nil {
			return nil, err.Error()
		}
		return t, fmt.Sprintf("rewards relabelled for %s task%d (goal table)", t.Env, t.ID)
	}
	n, err := ParseName(base)
	if err != nil {
		return nil, ""
	}
	t, err := TaskFor(n.Env, 0)
	if err != nil {
		return nil, ""
	}
	return t, fmt.Sprintf("rewards relabelled for %s default task%d (goal table); choose another with --task", t.Env, t.ID)
}
