// Package npzfile reads the arrays of NumPy .npz archives (np.savez and np.savez_compressed) in
// any numeric dtype into float32, float64 or int64 slices, with errors that name the file and the
// key. The dataset plugins and `mvp data inspect` share it.
//
// Each member is read whole and its CRC checked by archive/zip; the npy header is parsed by
// codeberg.org/sbinet/npyio and the length of the data is checked against the header's shape, so
// that a truncated member is an error and never silently zero-filled. Little-endian float32 and
// float64 arrays (the bulk of every dataset) are decoded straight from the bytes; every other
// dtype is read by npyio into the Go type the header's dtype names.
package npzfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"

	"codeberg.org/sbinet/npyio/npy"
)

// Info describes one array of an archive.
type Info struct {
	Key     string `json:"key"`
	DType   string `json:"dtype"` // numpy's header string, e.g. "<f4", "|b1", "<i8"
	Shape   []int  `json:"shape"`
	Fortran bool   `json:"fortran,omitempty"`
}

// Len returns the number of elements.
func (i Info) Len() int {
	n := 1
	for _, s := range i.Shape {
		n *= s
	}
	return n
}

// Rows returns the first dimension (1 for a scalar) and the product of the others.
func (i Info) Rows() (rows, width int) {
	if len(i.Shape) == 0 {
		return 1, 1
	}
	width = 1
	for _, s := range i.Shape[1:] {
		width *= s
	}
	return i.Shape[0], width
}

// File is an open .npz archive.
type File struct {
	Path  string
	f     *os.File
	zr    *zip.Reader
	infos map[string]Info
	files map[string]*zip.File
	keys  []string

	mu      sync.Mutex
	preload map[string]preloaded
}

type preloaded struct {
	raw []byte
	err error
}

// Preload decompresses the given members concurrently (one goroutine each) and keeps their bytes
// until each is read once; decompression is most of the cost of reading a compressed archive.
// Unknown keys are ignored here and reported by the read.
func (nf *File) Preload(keys ...string) {
	var wg sync.WaitGroup
	for _, k := range keys {
		zf, ok := nf.files[k]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := readMember(zf)
			nf.mu.Lock()
			if nf.preload == nil {
				nf.preload = map[string]preloaded{}
			}
			nf.preload[k] = preloaded{raw, err}
			nf.mu.Unlock()
		}()
	}
	wg.Wait()
}

func readMember(zf *zip.File) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
}

// Open opens the archive at path and reads the header of every array.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npz %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("npz %s: %w", path, err)
	}
	nf, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	nf.f = f
	return nf, nil
}

// NewReader reads an archive of the given size from r; name is used in messages.
func NewReader(r io.ReaderAt, size int64, name string) (nf *File, err error) {
	defer func() {
		if p := recover(); p != nil {
			nf, err = nil, fmt.Errorf("npz %s: corrupt archive: %v", name, p)
		}
	}()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz %s: not a readable .npz (zip) archive, truncated or corrupt: %w", name, err)
	}
	nf = &File{Path: name, zr: zr, infos: map[string]Info{}, files: map[string]*zip.File{}}
	for _, zf := range zr.File {
		key := strings.TrimSuffix(zf.Name, ".npy")
		if _, dup := nf.files[key]; dup {
			return nil, fmt.Errorf("npz %s: key %q appears twice", name, key)
		}
		hdr, err := readHeader(zf)
		if err != nil {
			return nil, fmt.Errorf("npz %s: key %q: %w", name, key, err)
		}
		nf.files[key] = zf
		nf.infos[key] = hdr
		nf.keys = append(nf.keys, key)
	}
	sort.Strings(nf.keys)
	return nf, nil
}

// MaxHeaderLen bounds the npy header text, as numpy's own max_header_size does, so that a corrupt
// length field cannot make the reader allocate gigabytes.
const MaxHeaderLen = 1 << 16

// readHeader parses only the npy header at the start of a member and checks that the member holds
// exactly the bytes its shape and dtype need.
func readHeader(zf *zip.File) (Info, error) {
	rc, err := zf.Open()
	if err != nil {
		return Info{}, err
	}
	defer rc.Close()
	pre := make([]byte, 12)
	if _, err := io.ReadFull(rc, pre); err != nil {
		return Info{}, fmt.Errorf("truncated npy header: %w", err)
	}
	hlen, err := HeaderLen(pre)
	if err != nil && hlen == 0 {
		return Info{}, err
	}
	if hlen > MaxHeaderLen+12 {
		return Info{}, fmt.Errorf("npy header of %d bytes, more than %d: corrupt", hlen, MaxHeaderLen)
	}
	head := make([]byte, hlen)
	copy(head, pre)
	if hlen > len(pre) {
		if _, err := io.ReadFull(rc, head[len(pre):]); err != nil {
			return Info{}, fmt.Errorf("truncated npy header: %w", err)
		}
	} else {
		head = pre[:hlen]
	}
	r, err := npy.NewReader(bytes.NewReader(head))
	if err != nil {
		return Info{}, fmt.Errorf("bad npy header: %w", err)
	}
	// npyio keeps the quotes of some dtype strings ("'<u2'").
	info := Info{Key: strings.TrimSuffix(zf.Name, ".npy"), DType: strings.Trim(r.Header.Descr.Type, `'"`),
		Shape: append([]int{}, r.Header.Descr.Shape...), Fortran: r.Header.Descr.Fortran}
	n := uint64(1)
	for _, s := range info.Shape {
		if s < 0 {
			return Info{}, fmt.Errorf("negative dimension in shape %v", info.Shape)
		}
		if s > 0 && n > math.MaxInt32*uint64(64)/uint64(s) {
			return Info{}, fmt.Errorf("shape %v is too large", info.Shape)
		}
		n *= uint64(s)
	}
	if _, esize, err := newSlice(info.DType); err == nil {
		if want, got := n*uint64(esize), zf.UncompressedSize64-uint64(hlen); zf.UncompressedSize64 < uint64(hlen) || want != got {
			return Info{}, fmt.Errorf("shape %v of %s needs %d data bytes, the member holds %d (truncated or corrupt)",
				info.Shape, info.DType, want, int64(zf.UncompressedSize64)-int64(hlen))
		}
	}
	return info, nil
}

// Close closes the file.
func (nf *File) Close() error {
	if nf.f == nil {
		return nil
	}
	err := nf.f.Close()
	nf.f = nil
	return err
}

// Keys returns the array names (without ".npy"), sorted.
func (nf *File) Keys() []string { return append([]string(nil), nf.keys...) }

// Info returns the header of the array key.
func (nf *File) Info(key string) (Info, bool) { i, ok := nf.infos[key]; return i, ok }

// Has tells whether the archive holds key.
func (nf *File) Has(key string) bool { _, ok := nf.infos[key]; return ok }

// Float32 reads key, converting any numeric or bool dtype to float32 in C (row-major) order.
func (nf *File) Float32(key string) ([]float32, Info, error) {
	if info, ok := nf.infos[key]; ok {
		if size, fast := littleFloat(info.DType); fast {
			info, _, raw, err := nf.readRaw(key)
			if err != nil {
				return nil, info, err
			}
			hlen, _ := HeaderLen(raw)
			out := make([]float32, info.Len())
			decodeFloats(raw[hlen:], size, out)
			return reorder(out, info), info, nil
		}
	}
	info, vals, err := nf.read(key)
	if err != nil {
		return nil, info, err
	}
	out := make([]float32, info.Len())
	convert(vals, func(i int, f float64) { out[i] = float32(f) }, func(i int, v int64) { out[i] = float32(v) })
	return reorder(out, info), info, nil
}

// Float64 reads key, converting any numeric or bool dtype to float64 in C order.
func (nf *File) Float64(key string) ([]float64, Info, error) {
	if info, ok := nf.infos[key]; ok {
		if size, fast := littleFloat(info.DType); fast {
			info, _, raw, err := nf.readRaw(key)
			if err != nil {
				return nil, info, err
			}
			hlen, _ := HeaderLen(raw)
			out := make([]float64, info.Len())
			decodeFloats(raw[hlen:], size, out)
			return reorder(out, info), info, nil
		}
	}
	info, vals, err := nf.read(key)
	if err != nil {
		return nil, info, err
	}
	out := make([]float64, info.Len())
	convert(vals, func(i int, f float64) { out[i] = f }, func(i int, v int64) { out[i] = float64(v) })
	return reorder(out, info), info, nil
}

// Int64 reads key, which must hold integers or bools (not floats), in C order.
func (nf *File) Int64(key string) ([]int64, Info, error) {
	info, vals, err := nf.read(key)
	if err != nil {
		return nil, info, err
	}
	switch vals.(type) {
	case []float32, []float64:
		return nil, info, fmt.Errorf("npz %s: key %q has dtype %s, want an integer or bool dtype", nf.Path, key, info.DType)
	}
	out := make([]int64, info.Len())
	convert(vals, func(i int, f float64) {}, func(i int, v int64) { out[i] = v })
	return reorder(out, info), info, nil
}

// newSlice returns a pointer to an empty slice of the Go type of a numpy dtype string, and the
// element size.
func newSlice(dtype string) (any, int, error) {
	if len(dtype) < 3 {
		return nil, 0, fmt.Errorf("unsupported dtype %q", dtype)
	}
	switch dtype[1:] {
	case "f4":
		return new([]float32), 4, nil
	case "f8":
		return new([]float64), 8, nil
	case "i1":
		return new([]int8), 1, nil
	case "i2":
		return new([]int16), 2, nil
	case "i4":
		return new([]int32), 4, nil
	case "i8":
		return new([]int64), 8, nil
	case "u1":
		return new([]uint8), 1, nil
	case "u2":
		return new([]uint16), 2, nil
	case "u4":
		return new([]uint32), 4, nil
	case "u8":
		return new([]uint64), 8, nil
	case "b1":
		return new([]bool), 1, nil
	}
	return nil, 0, fmt.Errorf("unsupported dtype %q (want a bool, integer, float32 or float64 array)", dtype)
}

// readRaw returns the member's data bytes (after the npy header), checked against the shape.
func (nf *File) readRaw(key string) (info Info, esize int, data []byte, err error) {
	info, ok := nf.infos[key]
	if !ok {
		return info, 0, nil, fmt.Errorf("npz %s: no key %q (keys: %s)", nf.Path, key, strings.Join(nf.keys, ", "))
	}
	_, esize, err = newSlice(info.DType)
	if err != nil {
		return info, 0, nil, fmt.Errorf("npz %s: key %q: %w", nf.Path, key, err)
	}
	nf.mu.Lock()
	p, ok := nf.preload[key]
	delete(nf.preload, key)
	nf.mu.Unlock()
	raw, err := p.raw, p.err
	if !ok {
		raw, err = readMember(nf.files[key])
	}
	if err != nil {
		return info, 0, nil, fmt.Errorf("npz %s: key %q: truncated or corrupt member: %w", nf.Path, key, err)
	}
	hlen, err := HeaderLen(raw)
	if err != nil {
		return info, 0, nil, fmt.Errorf("npz %s: key %q: %w", nf.Path, key, err)
	}
	if want := info.Len() * esize; len(raw)-hlen != want {
		return info, 0, nil, fmt.Errorf("npz %s: key %q: %d data bytes for shape %v of %s, want %d (truncated?)",
			nf.Path, key, len(raw)-hlen, info.Shape, info.DType, want)
	}
	return info, esize, raw, nil
}

// read returns the array as a slice of its stored Go type, in stored order, decoded by npyio.
func (nf *File) read(key string) (info Info, vals any, err error) {
	info, _, raw, err := nf.readRaw(key)
	if err != nil {
		return info, nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			vals, err = nil, fmt.Errorf("npz %s: key %q: corrupt array: %v", nf.Path, key, p)
		}
	}()
	ptr, _, _ := newSlice(info.DType)
	r, err := npy.NewReader(bytes.NewReader(raw))
	if err != nil {
		return info, nil, fmt.Errorf("npz %s: key %q: %w", nf.Path, key, err)
	}
	if info.Len() == 0 {
		return info, deref(ptr), nil
	}
	if err := r.Read(ptr); err != nil && err != io.EOF {
		return info, nil, fmt.Errorf("npz %s: key %q: reading %s: %w", nf.Path, key, info.DType, err)
	}
	return info, deref(ptr), nil
}

// littleFloat tells whether dtype is a little-endian float32 or float64, which Float32 and Float64
// decode straight from the bytes (the bulk of every dataset) instead of element by element.
func littleFloat(dtype string) (size int, ok bool) {
	switch dtype {
	case "<f4":
		return 4, true
	case "<f8":
		return 8, true
	}
	return 0, false
}

// decodeFloats converts little-endian float32/float64 bytes (after the header) into out.
func decodeFloats[T float32 | float64](data []byte, size int, out []T) {
	if size == 4 {
		for i := range out {
			out[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		}
		return
	}
	for i := range out {
		out[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
	}
}

// HeaderLen returns the length of the npy preamble (magic, version, header) at the start of raw:
// 10 + HEADER_LEN for format version 1, 12 + HEADER_LEN for versions 2 and 3. When raw is shorter
// than the preamble it returns the declared length and an error.
func HeaderLen(raw []byte) (int, error) {
	if len(raw) < 10 || string(raw[:6]) != "\x93NUMPY" {
		return 0, fmt.Errorf("not an npy array (bad magic)")
	}
	var n int
	switch raw[6] {
	case 1:
		n = 10 + int(binary.LittleEndian.Uint16(raw[8:10]))
	case 2, 3:
		if len(raw) < 12 {
			return 0, fmt.Errorf("truncated npy header")
		}
		n = 12 + int(binary.LittleEndian.Uint32(raw[8:12]))
	default:
		return 0, fmt.Errorf("unsupported npy format version %d.%d", raw[6], raw[7])
	}
	if n > len(raw) {
		return n, fmt.Errorf("truncated npy header (%d bytes declared, %d present)", n, len(raw))
	}
	return n, nil
}

func deref(ptr any) any {
	switch p := ptr.(type) {
	case *[]float32:
		return *p
	case *[]float64:
		return *p
	case *[]int8:
		return *p
	case *[]int16:
		return *p
	case *[]int32:
		return *p
	case *[]int64:
		return *p
	case *[]uint8:
		return *p
	case *[]uint16:
		return *p
	case *[]uint32:
		return *p
	case *[]uint64:
		return *p
	case *[]bool:
		return *p
	}
	panic(fmt.Sprintf("npzfile: unexpected slice type %T", ptr))
}

// convert calls fl for float elements and in for integer and bool elements.
func convert(vals any, fl func(int, float64), in func(int, int64)) {
	switch v := vals.(type) {
	case []float32:
		for i, x := range v {
			fl(i, float64(x))
		}
	case []float64:
		for i, x := range v {
			fl(i, x)
		}
	case []int8:
		for i, x := range v {
			in(i, int64(x))
		}
	case []int16:
		for i, x := range v {
			in(i, int64(x))
		}
	case []int32:
		for i, x := range v {
			in(i, int64(x))
		}
	case []int64:
		for i, x := range v {
			in(i, x)
		}
	case []uint8:
		for i, x := range v {
			in(i, int64(x))
		}
	case []uint16:
		for i, x := range v {
			in(i, int64(x))
		}
	case []uint32:
		for i, x := range v {
			in(i, int64(x))
		}
	case []uint64:
		for i, x := range v {
			in(i, int64(x))
		}
	case []bool:
		for i, x := range v {
			if x {
				in(i, 1)
			} else {
				in(i, 0)
			}
		}
	}
}

// reorder turns Fortran-ordered data into C order.
func reorder[T any](x []T, info Info) []T {
	if !info.Fortran || len(info.Shape) < 2 {
		return x
	}
	out := make([]T, len(x))
	shape := info.Shape
	idx := make([]int, len(shape))
	for c := range out {
		// Fortran offset of the C-order multi-index idx.
		f, stride := 0, 1
		for d := 0; d < len(shape); d++ {
			f += idx[d] * stride
			stride *= shape[d]
		}
		out[c] = x[f]
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// CheckFinite returns an error naming the file, key, row and column of the first NaN or Inf.
func CheckFinite[T float32 | float64](path, key string, x []T, width int) error {
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			if width <= 0 {
				width = 1
			}
			return fmt.Errorf("npz %s: key %q has %v at row %d, column %d", path, key, f, i/width, i%width)
		}
	}
	return nil
}
