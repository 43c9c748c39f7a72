// Package robomimic loads Robomimic low-dim datasets (low_dim_v15.hdf5) with the conventions of
// Q-chunking (QC): observations concatenate robot0_eef_pos, robot0_eef_quat, robot0_gripper_qpos
// and object, in that order (19 dims for lift, 23 for can and square); demos are taken in the
// order of their integer index (demo_2 before demo_10); reward = r + RewardOffset = r − 1 (so
// rewards are −1, and 0 on success); mask = 1 − done. A demo always ends a trajectory; a done inside
// a demo ends one too.
//
// The same names are environments: "robomimic:lift-mh" (or "robomimic:lift") runs robosuite through
// the remote plugin ("remote:robomimic:lift", which must be linked in) and shifts its rewards by
// RewardOffset too, so a run started with --dataset robomimic:lift-mh fine-tunes online on the
// reward scale it was pre-trained on.
//
// The prefix "robomimic" names a task and a dataset type, "robomimic:square-mh" (QC's
// "square-mh-low_dim" is accepted too), found under ~/.robomimic/<task>/<type>/ or at
// DatasetOptions.Path (a file or a directory). HDF5 files need the cgo reader, built with the
// "hdf5" build tag and Debian's libhdf5-dev (make build links it in when libhdf5-dev is installed). Without it, convert the file once
// with the script next to this package,
//
//	.venv/bin/python plugins/robomimic/convert_robomimic.py low_dim_v15.hdf5 low_dim_v15.npz
//
// and load the .npz with the pure-Go reader: it holds the same arrays and gives the same dataset.
//
// DatasetOptions.Validation selects the demos of the file's "valid" filter (mask/valid);
// Extra["filter"] names any other filter (e.g. "train", "20_percent"); Extra["obs_keys"] replaces
// the observation keys (comma-separated).
package robomimic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
	"github.com/gomvp/gomvp/plugins/npzfile"
)

// DefaultObsKeys are QC's low-dim observation keys, in order.
var DefaultObsKeys = []string{"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"}

// DefaultDir is where robomimic's download script puts datasets; "~" is the home directory.
const DefaultDir = "~/.robomimic"

// Horizons are the evaluation episode lengths of QC's protocol.
var Horizons = map[string]int{"lift": 300, "can": 300, "square": 400}

func init() {
	plugins.RegisterDataset("robomimic", load, plugins.Info{
		Description: "Robomimic low-dim demos (~/.robomimic/<task>/<type>/low_dim_v15.hdf5 with -tags hdf5, or its .npz conversion), QC conventions; " +
			"as environments, their robosuite tasks through " + SimulatorPrefix + "<task> with the same reward shift",
		Names:   []string{"lift-mh", "can-mh", "square-mh", "lift-ph", "can-ph", "square-ph"},
		Options: []string{"filter", "obs_keys"},
	})
	// The environments run robosuite through the remote plugin, whose options (python, …) they pass on.
	plugins.RegisterEnv("robomimic", newEnv, plugins.Info{OptionsOf: simulatorPlugin})
	plugins.RegisterInspector(plugins.Inspector{Format: "robomimic-npz", Match: matchNPZ, Inspect: inspectNPZ, Priority: 1})
	plugins.RegisterInspector(plugins.Inspector{Format: "robomimic-hdf5", Match: matchHDF5, Inspect: inspectHDF5, Priority: 1})
}

// Options select what is read from a file.
type Options struct {
	// ObsKeys are concatenated, in order, into the observation (default DefaultObsKeys).
	ObsKeys []string
	// Filter names a mask/<filter> demo list ("train", "valid", …); empty means every demo.
	Filter string
}

func (o Options) keys() []string {
	if len(o.ObsKeys) == 0 {
		return DefaultObsKeys
	}
	return o.ObsKeys
}

// demo is one demonstration as stored, before the conventions are applied.
type demo struct {
	id           int // i of demo_i
	length       int
	obs, nextObs []float32 // length × obsDim
	actions      []float32 // length × actDim
	rewards      []float32
	dones        []float32
}

// build concatenates demos into a dataset with QC's conventions.
func build(name string, demos []demo, obsDim, actDim int) (*datasets.Dataset, error) {
	sort.Slice(demos, func(a, b int) bool { return demos[a].id < demos[b].id })
	d := &datasets.Dataset{Name: name, ObsDim: obsDim, ActDim: actDim}
	for _, m := range demos {
		if m.length == 0 {
			continue
		}
		d.Observations = append(d.Observations, m.obs...)
		d.NextObservations = append(d.NextObservations, m.nextObs...)
		d.Actions = append(d.Actions, m.actions...)
		for t := 0; t < m.length; t++ {
			d.Rewards = append(d.Rewards, m.rewards[t]+RewardOffset)
			d.Masks = append(d.Masks, 1-m.dones[t])
			term := m.dones[t]
			if t == m.length-1 {
				term = 1
			}
			d.Terminals = append(d.Terminals, term)
		}
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("%s: no transitions", name)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Name is a parsed dataset name: task and type.
type Name struct{ Task, Type string }

// ParseName reads "square-mh" or QC's "square-mh-low_dim".
func ParseName(s string) (Name, error) {
	parts := strings.Split(strings.TrimSuffix(s, "-low_dim"), "-")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return Name{}, fmt.Errorf("robomimic: %q is not a dataset name like square-mh or lift-ph", s)
	}
	return Name{Task: parts[0], Type: parts[1]}, nil
}

func expandHome(p string) (string, error) {
	if strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, p[2:]), nil
	}
	return p, nil
}

// resolve finds the dataset file: Path may be the file or a directory (searched as
// <dir>/<task>/<type>/ and <dir>/); HDF5 files come first when this binary reads them.
func resolve(n Name, path string) (string, error) {
	if path == "" {
		path = DefaultDir
	}
	path, err := expandHome(path)
	if err != nil {
		return "", fmt.Errorf("robomimic: %w", err)
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return path, nil
	}
	var tried []string
	var hdf5Found string
	for _, dir := range []string{filepath.Join(path, n.Task, n.Type), path} {
		for _, base := range []string{"low_dim_v15", "low_dim_v141", "low_dim"} {
			for _, ext := range []string{".hdf5", ".npz"} {
				p := filepath.Join(dir, base+ext)
				tried = append(tried, p)
				if _, err := os.Stat(p); err != nil {
					continue
				}
				if ext == ".hdf5" && !HDF5Supported {
					hdf5Found = p
					continue
				}
				return p, nil
			}
		}
	}
	if hdf5Found != "" {
		return "", fmt.Errorf("robomimic: %s is HDF5, and %s", hdf5Found, noHDF5Advice(hdf5Found))
	}
	return "", fmt.Errorf("robomimic: no dataset for %s-%s (looked for %s); download it with robomimic's scripts/download_datasets.py --tasks %s --dataset_types %s --hdf5_types low_dim, or give its path in DatasetOptions.Path",
		n.Task, n.Type, strings.Join(tried, ", "), n.Task, n.Type)
}

func noHDF5Advice(path string) string {
	return fmt.Sprintf("this binary was built without HDF5 support: install libhdf5-dev and pkg-config, then rebuild with `make build` (cgo, -tags hdf5), "+
		"or convert the file once with `.venv/bin/python plugins/robomimic/convert_robomimic.py %s %s` and load the .npz",
		path, strings.TrimSuffix(path, filepath.Ext(path))+".npz")
}

func load(name string, opts plugins.DatasetOptions) (*datasets.Dataset, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	path, err := resolve(n, opts.Path)
	if err != nil {
		return nil, err
	}
	o := Options{Filter: opts.Extra["filter"]}
	if opts.Validation && o.Filter == "" {
		o.Filter = "valid"
	}
	if k := opts.Extra["obs_keys"]; k != "" {
		o.ObsKeys = strings.Split(k, ",")
	}
	d, err := LoadFile(path, o)
	if err != nil {
		return nil, err
	}
	d.Name = "robomimic:" + name
	if o.Filter != "" {
		d.Name += " (" + o.Filter + ")"
	}
	return d, nil
}

// LoadFile reads a Robomimic HDF5 file, or its .npz conversion, with QC's conventions.
func LoadFile(path string, o Options) (*datasets.Dataset, error) {
	head, err := readHead(path)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	if isHDF5(head) {
		if !HDF5Supported {
			return nil, fmt.Errorf("robomimic: %s is HDF5, and %s", path, noHDF5Advice(path))
		}
		return loadHDF5(path, o)
	}
	return loadNPZ(path, o)
}

func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := f.Read(head)
	return head[:n], nil
}

var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

func isHDF5(head []byte) bool { return bytes.HasPrefix(head, hdf5Magic) }

func matchHDF5(path string, head []byte) bool { return isHDF5(head) }

// meta is the JSON document the converter stores, as uint8 bytes, under the key "meta".
type meta struct {
	Source  string           `json:"source"`
	ObsKeys []string         `json:"obs_keys"`
	ObsDims []int            `json:"obs_dims"`
	EnvArgs json.RawMessage  `json:"env_args,omitempty"`
	Total   int              `json:"total"`
	Filters map[string][]int `json:"filters,omitempty"` // filter name → demo indices i
}

func readMeta(f *npzfile.File) (*meta, error) {
	b, _, err := f.Int64("meta")
	if err != nil {
		return nil, err
	}
	raw := make([]byte, len(b))
	for i, v := range b {
		raw[i] = byte(v)
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("npz %s: key \"meta\" is not the converter's JSON: %w", f.Path, err)
	}
	if len(m.ObsKeys) != len(m.ObsDims) {
		return nil, fmt.Errorf("npz %s: meta lists %d observation keys and %d dims", f.Path, len(m.ObsKeys), len(m.ObsDims))
	}
	return &m, nil
}

// npzKeys are the arrays of a converted file: per-key observations are stored separately, under
// "obs/<key>" and "next_obs/<key>", so that any key order can be chosen when loading.
func loadNPZ(path string, o Options) (*datasets.Dataset, error) {
	f, err := npzfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	defer f.Close()
	keys := []string{"actions", "rewards", "dones"}
	for _, k := range o.keys() {
		keys = append(keys, "obs/"+k, "next_obs/"+k)
	}
	f.Preload(keys...)
	demos, obsDim, actDim, err := readNPZ(f, o)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	return build(path, demos, obsDim, actDim)
}

func readNPZ(f *npzfile.File, o Options) (demos []demo, obsDim, actDim int, err error) {
	for _, k := range []string{"meta", "demo_ids", "demo_lengths", "actions", "rewards", "dones"} {
		if !f.Has(k) {
			return nil, 0, 0, fmt.Errorf("npz %s: no key %q; not written by convert_robomimic.py (keys: %s)", f.Path, k, strings.Join(f.Keys(), ", "))
		}
	}
	m, err := readMeta(f)
	if err != nil {
		return nil, 0, 0, err
	}
	ids, _, err := f.Int64("demo_ids")
	if err != nil {
		return nil, 0, 0, err
	}
	lens, _, err := f.Int64("demo_lengths")
	if err != nil {
		return nil, 0, 0, err
	}
	if len(ids) != len(lens) {
		return nil, 0, 0, fmt.Errorf("npz %s: %d demo_ids and %d demo_lengths", f.Path, len(ids), len(lens))
	}
	n := 0
	for i, l := range lens {
		if l < 0 {
			return nil, 0, 0, fmt.Errorf("npz %s: demo_lengths[%d] = %d", f.Path, i, l)
		}
		n += int(l)
	}
	act, ai, err := f.Float32("actions")
	if err != nil {
		return nil, 0, 0, err
	}
	if len(ai.Shape) != 2 || ai.Shape[0] != n {
		return nil, 0, 0, fmt.Errorf("npz %s: key \"actions\" has shape %v, want [%d, act_dim] (the sum of demo_lengths)", f.Path, ai.Shape, n)
	}
	actDim = ai.Shape[1]
	if err := npzfile.CheckFinite(f.Path, "actions", act, actDim); err != nil {
		return nil, 0, 0, err
	}
	vec := func(key string) ([]float32, error) {
		v, info, err := f.Float32(key)
		if err != nil {
			return nil, err
		}
		if info.Len() != n {
			return nil, fmt.Errorf("npz %s: key %q has shape %v, want [%d]", f.Path, key, info.Shape, n)
		}
		return v, npzfile.CheckFinite(f.Path, key, v, 1)
	}
	rew, err := vec("rewards")
	if err != nil {
		return nil, 0, 0, err
	}
	dones, err := vec("dones")
	if err != nil {
		return nil, 0, 0, err
	}
	// Observations: the chosen keys, concatenated per row.
	keys := o.keys()
	var parts, nextParts [][]float32
	var widths []int
	for _, k := range keys {
		for _, prefix := range []string{"obs/", "next_obs/"} {
			key := prefix + k
			if !f.Has(key) {
				return nil, 0, 0, fmt.Errorf("npz %s: no observation key %q (file has %v)", f.Path, key, m.ObsKeys)
			}
			v, info, err := f.Float32(key)
			if err != nil {
				return nil, 0, 0, err
			}
			if len(info.Shape) != 2 || info.Shape[0] != n {
				return nil, 0, 0, fmt.Errorf("npz %s: key %q has shape %v, want [%d, dim]", f.Path, key, info.Shape, n)
			}
			if err := npzfile.CheckFinite(f.Path, key, v, info.Shape[1]); err != nil {
				return nil, 0, 0, err
			}
			if prefix == "obs/" {
				parts, widths = append(parts, v), append(widths, info.Shape[1])
				obsDim += info.Shape[1]
			} else {
				if info.Shape[1] != widths[len(widths)-1] {
					return nil, 0, 0, fmt.Errorf("npz %s: key %q has %d columns, obs/%s has %d", f.Path, key, info.Shape[1], k, widths[len(widths)-1])
				}
				nextParts = append(nextParts, v)
			}
		}
	}
	allowed, err := filterSet(f.Path, o.Filter, m.Filters)
	if err != nil {
		return nil, 0, 0, err
	}
	row := 0
	for i, id := range ids {
		l := int(lens[i])
		if allowed == nil || allowed[int(id)] {
			dm := demo{id: int(id), length: l, actions: act[row*actDim : (row+l)*actDim],
				rewards: rew[row : row+l], dones: dones[row : row+l]}
			dm.obs, dm.nextObs = concatRows(parts, widths, row, l), concatRows(nextParts, widths, row, l)
			demos = append(demos, dm)
		}
		row += l
	}
	return demos, obsDim, actDim, nil
}

// concatRows joins rows [row, row+l) of each part, side by side.
func concatRows(parts [][]float32, widths []int, row, l int) []float32 {
	dim := 0
	for _, w := range widths {
		dim += w
	}
	out := make([]float32, 0, l*dim)
	for t := row; t < row+l; t++ {
		for p, w := range widths {
			out = append(out, parts[p][t*w:(t+1)*w]...)
		}
	}
	return out
}

func filterSet(path, filter string, filters map[string][]int) (map[int]bool, error) {
	if filter == "" {
		return nil, nil
	}
	ids, ok := filters[filter]
	if !ok {
		names := make([]string, 0, len(filters))
		for k := range filters {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%s: no demo filter %q (filters: %v)", path, filter, names)
	}
	set := map[int]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// demoIndex parses the i of "demo_i".
func demoIndex(name string) (int, bool) {
	var i int
	if !strings.HasPrefix(name, "demo_") {
		return 0, false
	}
	if _, err := fmt.Sscanf(name[5:], "%d", &i); err != nil || fmt.Sprint(i) != name[5:] {
		return 0, false
	}
	return i, true
}

func matchNPZ(path string, head []byte) bool {
	if !bytes.HasPrefix(head, []byte("PK")) {
		return false
	}
	f, err := npzfile.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Has("demo_lengths") && f.Has("meta")
}

func inspectNPZ(path string, opts plugins.DatasetOptions) (*plugins.FileInfo, error) {
	f, err := npzfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	defer f.Close()
	info := &plugins.FileInfo{Path: path, Format: "robomimic-npz", Attrs: map[string]any{}}
	for _, k := range f.Keys() {
		a, _ := f.Info(k)
		info.Arrays = append(info.Arrays, plugins.ArrayInfo{Key: k, DType: a.DType, Shape: a.Shape})
	}
	m, err := readMeta(f)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	info.Attrs["source"], info.Attrs["total"], info.Attrs["obs_keys"] = m.Source, m.Total, m.ObsKeys
	if len(m.EnvArgs) > 0 {
		var env any
		if json.Unmarshal(m.EnvArgs, &env) == nil {
			info.Attrs["env_args"] = env
		}
	}
	demos, obsDim, actDim, err := readNPZ(f, Options{Filter: opts.Extra["filter"]})
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	return describeDemos(info, path, demos, obsDim, actDim)
}

// describeDemos completes an inspection from the demos read out of either file format: the
// dataset as QC's conventions build it, its counts, and a note naming those conventions.
func describeDemos(info *plugins.FileInfo, path string, demos []demo, obsDim, actDim int) (*plugins.FileInfo, error) {
	d, err := build(path, demos, obsDim, actDim)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	info.Dataset, info.Trajectories, info.Transitions = d, len(demos), d.Len()
	info.Notes = append(info.Notes, "QC conventions: observation = "+strings.Join(DefaultObsKeys, "+")+", reward = r − 1, mask = 1 − done")
	return info, nil
}
