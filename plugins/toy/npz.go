package toy

import (
	"errors"
	"fmt"
	"github.com/gomvp/gomvp/datasets"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio/npz"
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
// dtype and shape against the task.
func ReadDemosNPZ(path, full string) (*Demos, error) {
	task, err := taskOf(full)
	if err != nil {
		return nil, err
	}
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("toy: reading %s: %w", path, err)
	}
	defer r.Close()
	d := &Demos{Task: Prefix + ":" + task.Name(), ObsDim: task.ObservationDim(), ActDim: task.ActionDim(),
		QposDim: task.QposDim(), QvelDim: task.QvelDim(), task: task}
	has := map[string]bool{}
	for _, k := range r.Keys() {
		has[k] = true
	}
	rows := -1
	read := func(key, dtype string, dim int, dst any, required bool) error {
		name := key + ".npy"
		if !has[name] {
			if has[key] {
				name = key
			} else if required {
				return fmt.Errorf("toy: %s has no key %q (keys: %v)", path, key, r.Keys())
			} else {
				return errSkip
			}
		}
		h := r.Header(name)
		if h == nil {
			return fmt.Errorf("toy: %s: key %q: unreadable npy header", path, key)
		}
		if got := strings.Trim(h.Descr.Type, "'"); got != dtype {
			return fmt.Errorf("toy: %s: key %q has dtype %s, want %s", path, key, got, dtype)
		}
		shape := h.Descr.Shape
		wantRank := 2
		if dim == 0 {
			wantRank = 1
		}
		if len(shape) != wantRank || (dim > 0 && shape[1] != dim) {
			return fmt.Errorf("toy: %s: key %q has shape %v, want (N, %d) for %s", path, key, shape, dim, d.Task)
		}
		if rows >= 0 && shape[0] != rows {
			return fmt.Errorf("toy: %s: key %q has %d rows, other keys %d", path, key, shape[0], rows)
		}
		rows = shape[0]
		if err := r.Read(name, dst); err != nil {
			return fmt.Errorf("toy: %s: key %q: %w", path, key, err)
		}
		return nil
	}
	for _, k := range []struct {
		key      string
		dtype    string
		dim      int
		dst      any
		required bool
	}{
		{"observations", "<f4", d.ObsDim, &d.Observations, true},
		{"actions", "<f4", d.ActDim, &d.Actions, true},
		{"terminals", "|b1", 0, &d.Terminals, true},
		{"qpos", "<f4", d.QposDim, &d.Qpos, true},
		{"qvel", "<f4", d.QvelDim, &d.Qvel, false},
	} {
		if err := read(k.key, k.dtype, k.dim, k.dst, k.required); err != nil && !errors.Is(err, errSkip) {
			return nil, err
		}
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

var errSkip = errors.New("skip")
