package toy

import (
	"fmt"
	"os"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins/npzfile"
)

// WriteNPZ writes the demonstrations in OGBench's dataset format: observations, actions, qpos and
// qvel as <f4 matrices and terminals as |b1, one row per stored step, each trajectory followed by
// its final observation row. OGBench's loaders and the ogbench plugin read it as they read
// OGBench's own files.
func (d *Demos) WriteNPZ(path string) (err error) {
	rows := d.Rows()
	w, err := npz.Create(path)
	if err != nil {
		return fmt.Errorf("toy: writing %s: %w", path, err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("toy: writing %s: %w", path, cerr)
		}
		if err != nil {
			_ = os.Remove(path) // never leave a half-written dataset behind
		}
	}()
	for _, a := range []struct {
		key  string
		flat []float32
		dim  int
	}{
		{"observations", d.Observations, d.ObsDim}, {"actions", d.Actions, d.ActDim},
		{"qpos", d.Qpos, d.QposDim}, {"qvel", d.Qvel, d.QvelDim},
	} {
		if len(a.flat) != rows*a.dim {
			return fmt.Errorf("toy: writing %s: %s has %d values, want %d×%d", path, a.key, len(a.flat), rows, a.dim)
		}
		if err := w.Write(a.key+".npy", matrix(a.flat, rows, a.dim)); err != nil {
			return fmt.Errorf("toy: writing %s: %w", path, err)
		}
	}
	if err := w.Write("terminals.npy", d.Terminals); err != nil {
		return fmt.Errorf("toy: writing %s: %w", path, err)
	}
	return nil
}

// matrix views a row-major array as rows (no copy), which npyio writes with shape (rows, dim).
func matrix(flat []float32, rows, dim int) [][]float32 {
	m := make([][]float32, rows)
	for i := range m {
		m[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return m
}

// ReadNPZ reads an OGBench-format npz written by WriteNPZ (or by OGBench's tools for a task with
// the same layout) for the toy task full ("toy:cube-task2") and applies the task's standard
// loading and relabelling.
func ReadNPZ(path, full string) (*datasets.Dataset, error) {
	demos, err := ReadDemosNPZ(path, full)
	if err != nil {
		return nil, err
	}
	ds, err := demos.Dataset()
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	ds.Name = path
	return ds, nil
}

// ReadDemosNPZ reads the rows of an OGBench-format npz for the toy task full, checking every key's
// dtype and shape against the task (through plugins/npzfile, as the other dataset plugins do).
func ReadDemosNPZ(path, full string) (*Demos, error) {
	task, err := taskOf(full)
	if err != nil {
		return nil, err
	}
	f, err := npzfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	defer f.Close()
	d := &Demos{Task: Prefix + ":" + task.Name(), ObsDim: task.ObservationDim(), ActDim: task.ActionDim(),
		QposDim: task.QposDim(), QvelDim: task.QvelDim(), task: task}
	rows := -1
	// check returns whether key is there, after checking its dtype and shape (dim 0: a vector).
	check := func(key, dtype string, dim int, required bool) (bool, error) {
		info, ok := f.Info(key)
		if !ok {
			if required {
				return false, fmt.Errorf("toy: %s has no key %q (keys: %v)", path, key, f.Keys())
			}
			return false, nil
		}
		if info.DType != dtype {
			return false, fmt.Errorf("toy: %s: key %q has dtype %s, want %s", path, key, info.DType, dtype)
		}
		wantRank := 2
		if dim == 0 {
			wantRank = 1
		}
		if len(info.Shape) != wantRank || (dim > 0 && info.Shape[1] != dim) {
			return false, fmt.Errorf("toy: %s: key %q has shape %v, want (N, %d) for %s", path, key, info.Shape, dim, d.Task)
		}
		if rows >= 0 && info.Shape[0] != rows {
			return false, fmt.Errorf("toy: %s: key %q has %d rows, other keys %d", path, key, info.Shape[0], rows)
		}
		rows = info.Shape[0]
		return true, nil
	}
	f.Preload("observations", "actions", "terminals", "qpos", "qvel")
	for _, k := range []struct {
		key      string
		dim      int
		dst      *[]float32
		required bool
	}{
		{"observations", d.ObsDim, &d.Observations, true},
		{"actions", d.ActDim, &d.Actions, true},
		{"qpos", d.QposDim, &d.Qpos, true},
		{"qvel", d.QvelDim, &d.Qvel, false},
	} {
		ok, err := check(k.key, "<f4", k.dim, k.required)
		if err != nil {
			return nil, err
		}
		if ok {
			if *k.dst, _, err = f.Float32(k.key); err != nil {
				return nil, fmt.Errorf("toy: %w", err)
			}
		}
	}
	if _, err := check("terminals", "|b1", 0, true); err != nil {
		return nil, err
	}
	terms, _, err := f.Int64("terminals")
	if err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	d.Terminals = make([]bool, len(terms))
	for i, v := range terms {
		d.Terminals[i] = v != 0
	}
	// Per-trajectory success, for reports: any row of the trajectory solves the task.
	ok := false
	for i := 0; i < len(d.Terminals); i++ {
		ok = ok || task.SuccessFromQpos(d.Qpos[i*d.QposDim:(i+1)*d.QposDim])
		if d.Terminals[i] {
			d.Successes = append(d.Successes, ok)
			ok = false
		}
	}
	return d, nil
}
