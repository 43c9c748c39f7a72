//go:build hdf5 && cgo

package robomimic

/*
#cgo pkg-config: hdf5
#include <stdlib.h>
#include "hdf5.h"

// read_double reads a whole numeric dataset converted to native doubles by the library, so that
// the Go buffer never depends on the stored element type.
static herr_t read_double(hid_t ds, double *buf) {
	return H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

// type_info describes a dataset's stored type: class (H5T_class_t), size in bytes, byte order
// (H5T_order_t) and sign (H5T_sign_t, integers only).
static void type_info(hid_t ds, int *cls, size_t *size, int *order, int *sign) {
	hid_t t = H5Dget_type(ds);
	*cls = H5Tget_class(t);
	*size = H5Tget_size(t);
	*order = H5Tget_order(t);
	*sign = (*cls == H5T_INTEGER) ? H5Tget_sign(t) : -1;
	H5Tclose(t);
}

static int class_integer() { return H5T_INTEGER; }
static int class_float() { return H5T_FLOAT; }
static int class_string() { return H5T_STRING; }
static int order_be() { return H5T_ORDER_BE; }

// read_vlen_strings reads a dataset of variable-length strings into out (n pointers, to be freed
// with H5free_memory).
static herr_t read_vlen_strings(hid_t ds, char **out) {
	hid_t ft = H5Dget_type(ds);
	hid_t mt = H5Tcopy(H5T_C_S1);
	H5Tset_size(mt, H5T_VARIABLE);
	H5Tset_cset(mt, H5Tget_cset(ft)); // h5py writes UTF-8; the library does not convert charsets
	H5Tclose(ft);
	herr_t rc = H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
	H5Tclose(mt);
	return rc;
}

static int is_vlen_string(hid_t ds) {
	hid_t t = H5Dget_type(ds);
	int r = H5Tis_variable_str(t) > 0;
	H5Tclose(t);
	return r;
}

// quiet turns off the library's printing of error stacks; errors are returned instead.
static void quiet() { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unsafe"

	"gonum.org/v1/hdf5"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

// HDF5Supported tells whether this binary reads HDF5 files (built with -tags hdf5 and cgo).
const HDF5Supported = true

func init() { C.quiet() }

// h5file wraps an open file for messages that name the file and the key.
type h5file struct {
	path string
	f    *hdf5.File
}

func openH5(path string) (*h5file, error) {
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %s: cannot open as HDF5 (truncated or corrupt?): %w", path, err)
	}
	return &h5file{path: path, f: f}, nil
}

func (h *h5file) Close() { h.f.Close() }

// dtypeString describes a stored type in numpy's notation ("<f8", "|b1"-like "|u1", "|S7").
func dtypeString(cls C.int, size C.size_t, order, sign C.int) string {
	bo := "<"
	if order == C.order_be() {
		bo = ">"
	}
	if size == 1 {
		bo = "|"
	}
	switch cls {
	case C.class_float():
		return fmt.Sprintf("%sf%d", bo, size)
	case C.class_integer():
		if sign == 0 {
			return fmt.Sprintf("%su%d", bo, size)
		}
		return fmt.Sprintf("%si%d", bo, size)
	case C.class_string():
		return fmt.Sprintf("|S%d", size)
	}
	return fmt.Sprintf("class%d-size%d", cls, size)
}

// info returns a dataset's dtype string, shape and whether it is numeric.
func (h *h5file) info(key string) (dtype string, shape []int, numeric bool, err error) {
	ds, err := h.f.OpenDataset(key)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: no dataset %q", h.path, key)
	}
	defer ds.Close()
	var cls, order, sign C.int
	var size C.size_t
	C.type_info(C.hid_t(ds.ID()), &cls, &size, &order, &sign)
	sp := ds.Space()
	defer sp.Close()
	dims, _, err := sp.SimpleExtentDims()
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: dataset %q: %w", h.path, key, err)
	}
	for _, d := range dims {
		shape = append(shape, int(d))
	}
	return dtypeString(cls, size, order, sign), shape, cls == C.class_float() || cls == C.class_integer(), nil
}

// float64s reads a numeric dataset (any integer or float type) as float64.
func (h *h5file) float64s(key string) ([]float64, []int, error) {
	dtype, shape, numeric, err := h.info(key)
	if err != nil {
		return nil, nil, err
	}
	if !numeric {
		return nil, nil, fmt.Errorf("%s: dataset %q has dtype %s, want a numeric array", h.path, key, dtype)
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	out := make([]float64, n)
	if n == 0 {
		return out, shape, nil
	}
	ds, err := h.f.OpenDataset(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: dataset %q: %w", h.path, key, err)
	}
	defer ds.Close()
	if rc := C.read_double(C.hid_t(ds.ID()), (*C.double)(unsafe.Pointer(&out[0]))); rc < 0 {
		return nil, nil, fmt.Errorf("%s: reading dataset %q failed (truncated or corrupt file?)", h.path, key)
	}
	return out, shape, nil
}

// matrix reads key as [rows, width] float32, checking the shape and finiteness.
func (h *h5file) matrix(key string, rows int) ([]float32, int, error) {
	v, shape, err := h.float64s(key)
	if err != nil {
		return nil, 0, err
	}
	width := 1
	switch {
	case len(shape) == 1 && shape[0] == rows:
	case len(shape) == 2 && shape[0] == rows:
		width = shape[1]
	default:
		return nil, 0, fmt.Errorf("%s: dataset %q has shape %v, want [%d] or [%d, dim]", h.path, key, shape, rows, rows)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, 0, fmt.Errorf("%s: dataset %q has %v at row %d, column %d", h.path, key, x, i/width, i%width)
		}
		out[i] = float32(x)
	}
	return out, width, nil
}

// strings1D reads a dataset of byte strings (robomimic's mask/<filter>), fixed- or variable-length.
func (h *h5file) strings1D(key string) ([]string, error) {
	ds, err := h.f.OpenDataset(key)
	if err != nil {
		return nil, fmt.Errorf("%s: no dataset %q", h.path, key)
	}
	defer ds.Close()
	var cls, order, sign C.int
	var size C.size_t
	C.type_info(C.hid_t(ds.ID()), &cls, &size, &order, &sign)
	if cls != C.class_string() {
		return nil, fmt.Errorf("%s: dataset %q is not a string array", h.path, key)
	}
	sp := ds.Space()
	n := sp.SimpleExtentNPoints()
	sp.Close()
	if n == 0 {
		return nil, nil
	}
	if C.is_vlen_string(C.hid_t(ds.ID())) != 0 {
		ptrs := make([]*C.char, n)
		if rc := C.read_vlen_strings(C.hid_t(ds.ID()), &ptrs[0]); rc < 0 {
			return nil, fmt.Errorf("%s: reading dataset %q failed", h.path, key)
		}
		out := make([]string, n)
		for i, p := range ptrs {
			if p != nil {
				out[i] = C.GoString(p)
				C.H5free_memory(unsafe.Pointer(p))
			}
		}
		return out, nil
	}
	buf := make([]byte, n*int(size))
	if err := ds.Read(&buf); err != nil {
		return nil, fmt.Errorf("%s: reading dataset %q: %w", h.path, key, err)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = strings.TrimRight(string(buf[i*int(size):(i+1)*int(size)]), "\x00")
	}
	return out, nil
}

// children lists the names in a group and whether each is a group.
func (h *h5file) children(group string) (names []string, isGroup map[string]bool, err error) {
	g, err := h.f.OpenGroup(group)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: no group %q; not a robomimic dataset", h.path, group)
	}
	defer g.Close()
	n, err := g.NumObjects()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: group %q: %w", h.path, group, err)
	}
	isGroup = map[string]bool{}
	for i := uint(0); i < n; i++ {
		name, err := g.ObjectNameByIndex(i)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: group %q: %w", h.path, group, err)
		}
		t, _ := g.ObjectTypeByIndex(i)
		names = append(names, name)
		isGroup[name] = t == hdf5.H5G_GROUP
	}
	return names, isGroup, nil
}

// demoNames returns the data/demo_<i> groups sorted by i.
func (h *h5file) demoNames() ([]string, []int, error) {
	names, _, err := h.children("data")
	if err != nil {
		return nil, nil, err
	}
	type d struct {
		name string
		i    int
	}
	var ds []d
	for _, n := range names {
		if i, ok := demoIndex(n); ok {
			ds = append(ds, d{n, i})
		}
	}
	if len(ds) == 0 {
		return nil, nil, fmt.Errorf("%s: no data/demo_<i> groups", h.path)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].i < ds[b].i })
	out, ids := make([]string, len(ds)), make([]int, len(ds))
	for j, x := range ds {
		out[j], ids[j] = x.name, x.i
	}
	return out, ids, nil
}

func (h *h5file) filters() (map[string][]int, error) {
	if !h.f.LinkExists("mask") {
		return nil, nil
	}
	names, _, err := h.children("mask")
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, n := range names {
		list, err := h.strings1D("mask/" + n)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			if i, ok := demoIndex(s); ok {
				out[n] = append(out[n], i)
			}
		}
	}
	return out, nil
}

func (h *h5file) readDemo(name string, id int, keys []string) (demo, int, int, error) {
	base := "data/" + name + "/"
	_, shape, _, err := h.info(base + "actions")
	if err != nil {
		return demo{}, 0, 0, err
	}
	if len(shape) != 2 {
		return demo{}, 0, 0, fmt.Errorf("%s: dataset %q has shape %v, want [T, act_dim]", h.path, base+"actions", shape)
	}
	m := demo{id: id, length: shape[0]}
	var actDim int
	if m.actions, actDim, err = h.matrix(base+"actions", m.length); err != nil {
		return demo{}, 0, 0, err
	}
	if m.rewards, _, err = h.matrix(base+"rewards", m.length); err != nil {
		return demo{}, 0, 0, err
	}
	if m.dones, _, err = h.matrix(base+"dones", m.length); err != nil {
		return demo{}, 0, 0, err
	}
	var parts, nextParts [][]float32
	var widths []int
	obsDim := 0
	for _, k := range keys {
		o, w, err := h.matrix(base+"obs/"+k, m.length)
		if err != nil {
			return demo{}, 0, 0, err
		}
		no, nw, err := h.matrix(base+"next_obs/"+k, m.length)
		if err != nil {
			return demo{}, 0, 0, err
		}
		if nw != w {
			return demo{}, 0, 0, fmt.Errorf("%s: %snext_obs/%s has %d columns, obs/%s has %d", h.path, base, k, nw, k, w)
		}
		parts, nextParts, widths = append(parts, o), append(nextParts, no), append(widths, w)
		obsDim += w
	}
	m.obs, m.nextObs = concatRows(parts, widths, 0, m.length), concatRows(nextParts, widths, 0, m.length)
	return m, obsDim, actDim, nil
}

func loadHDF5(path string, o Options) (*datasets.Dataset, error) {
	h, err := openH5(path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	demos, obsDim, actDim, err := h.readAll(o)
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	return build(path, demos, obsDim, actDim)
}

func (h *h5file) readAll(o Options) (demos []demo, obsDim, actDim int, err error) {
	names, ids, err := h.demoNames()
	if err != nil {
		return nil, 0, 0, err
	}
	var filters map[string][]int
	if o.Filter != "" { // a damaged filter list matters only to who asks for it
		if filters, err = h.filters(); err != nil {
			return nil, 0, 0, err
		}
	}
	allowed, err := filterSet(h.path, o.Filter, filters)
	if err != nil {
		return nil, 0, 0, err
	}
	for j, name := range names {
		if allowed != nil && !allowed[ids[j]] {
			continue
		}
		m, od, ad, err := h.readDemo(name, ids[j], o.keys())
		if err != nil {
			return nil, 0, 0, err
		}
		if len(demos) > 0 && (od != obsDim || ad != actDim) {
			return nil, 0, 0, fmt.Errorf("%s: data/%s has obs dim %d and action dim %d, earlier demos %d and %d", h.path, name, od, ad, obsDim, actDim)
		}
		obsDim, actDim = od, ad
		demos = append(demos, m)
	}
	return demos, obsDim, actDim, nil
}

func (h *h5file) attrString(group, name string) (string, bool) {
	g, err := h.f.OpenGroup(group)
	if err != nil {
		return "", false
	}
	defer g.Close()
	a, err := g.OpenAttribute(name)
	if err != nil {
		return "", false
	}
	defer a.Close()
	var s string
	if err := a.Read(&s, hdf5.T_GO_STRING); err != nil {
		return "", false
	}
	return s, true
}

func (h *h5file) attrInt(group, name string) (int64, bool) {
	g, err := h.f.OpenGroup(group)
	if err != nil {
		return 0, false
	}
	defer g.Close()
	a, err := g.OpenAttribute(name)
	if err != nil {
		return 0, false
	}
	defer a.Close()
	var v int64
	if err := a.Read(&v, hdf5.T_NATIVE_INT64); err != nil {
		return 0, false
	}
	return v, true
}

// inspectHDF5 summarises a robomimic file: the arrays of one demo (with the row count summed over
// demos, under data/demo_*/…), the filters, the data attributes, and the QC-convention dataset.
func inspectHDF5(path string, opts plugins.DatasetOptions) (*plugins.FileInfo, error) {
	h, err := openH5(path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	info := &plugins.FileInfo{Path: path, Format: "robomimic-hdf5", Attrs: map[string]any{}}
	if v, ok := h.attrInt("data", "total"); ok {
		info.Attrs["total"] = v
	}
	if s, ok := h.attrString("data", "env_args"); ok {
		var env any
		if json.Unmarshal([]byte(s), &env) == nil {
			info.Attrs["env_args"] = env
		} else {
			info.Attrs["env_args"] = s
		}
	}
	names, _, err := h.demoNames()
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	info.Attrs["demos"] = len(names)
	// Array keys of the first demo, with the rows of every demo summed.
	var keys []string
	var walk func(group, rel string) error
	walk = func(group, rel string) error {
		children, isGroup, err := h.children(group)
		if err != nil {
			return err
		}
		for _, c := range children {
			if isGroup[c] {
				if err := walk(group+"/"+c, rel+c+"/"); err != nil {
					return err
				}
			} else {
				keys = append(keys, rel+c)
			}
		}
		return nil
	}
	if err := walk("data/"+names[0], ""); err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	sort.Strings(keys)
	for _, k := range keys {
		dtype, shape, _, err := h.info("data/" + names[0] + "/" + k)
		if err != nil {
			return nil, fmt.Errorf("robomimic: %w", err)
		}
		if len(shape) > 0 {
			rows := 0
			for _, n := range names {
				_, s, _, err := h.info("data/" + n + "/" + k)
				if err != nil {
					return nil, fmt.Errorf("robomimic: %w", err)
				}
				if len(s) > 0 {
					rows += s[0]
				}
			}
			shape[0] = rows
		}
		info.Arrays = append(info.Arrays, plugins.ArrayInfo{Key: "data/demo_*/" + k, DType: dtype, Shape: shape})
	}
	if filters, err := h.filters(); err == nil {
		fnames := make([]string, 0, len(filters))
		for f := range filters {
			fnames = append(fnames, f)
		}
		sort.Strings(fnames)
		for _, f := range fnames {
			dtype, shape, _, _ := h.info("mask/" + f)
			info.Arrays = append(info.Arrays, plugins.ArrayInfo{Key: "mask/" + f, DType: dtype, Shape: shape})
		}
	}
	demos, obsDim, actDim, err := h.readAll(Options{Filter: opts.Extra["filter"]})
	if err != nil {
		return nil, fmt.Errorf("robomimic: %w", err)
	}
	return describeDemos(info, path, demos, obsDim, actDim)
}
