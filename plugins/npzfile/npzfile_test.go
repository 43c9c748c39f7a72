package npzfile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type expectedArray struct {
	DType   string    `json:"dtype"`
	Shape   []int     `json:"shape"`
	Fortran bool      `json:"fortran"`
	Values  []float64 `json:"values"`
}

func loadExpected(t *testing.T) map[string]expectedArray {
	t.Helper()
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectedArray
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// TestReadsNumpyFiles compares every array numpy wrote, in both savez variants, value by value.
func TestReadsNumpyFiles(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"dtypes.npz", "dtypes_compressed.npz"} {
		f, err := Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Keys()) != len(exp) {
			t.Errorf("%s: keys %v, want %d", name, f.Keys(), len(exp))
		}
		for key, e := range exp {
			info, ok := f.Info(key)
			if !ok {
				t.Fatalf("%s: missing %s", name, key)
			}
			if info.DType != e.DType || !reflect.DeepEqual(append([]int{}, info.Shape...), append([]int{}, e.Shape...)) || info.Fortran != e.Fortran {
				t.Errorf("%s %s: header %+v, want dtype %s shape %v fortran %v", name, key, info, e.DType, e.Shape, e.Fortran)
			}
			got64, _, err := f.Float64(key)
			if err != nil {
				t.Fatalf("%s %s: %v", name, key, err)
			}
			got32, _, err := f.Float32(key)
			if err != nil {
				t.Fatalf("%s %s: %v", name, key, err)
			}
			if len(got64) != len(e.Values) || len(got32) != len(e.Values) {
				t.Fatalf("%s %s: %d values, want %d", name, key, len(got64), len(e.Values))
			}
			for i, v := range e.Values {
				if got64[i] != v && !(e.DType[1:] == "f4" && got64[i] == float64(float32(v))) {
					t.Errorf("%s %s[%d] = %v, want %v", name, key, i, got64[i], v)
				}
				if got32[i] != float32(v) {
					t.Errorf("%s %s[%d] as float32 = %v, want %v", name, key, i, got32[i], float32(v))
				}
			}
			if strings.ContainsAny(e.DType[1:2], "iub") {
				ints, _, err := f.Int64(key)
				if err != nil {
					t.Fatalf("%s %s: Int64: %v", name, key, err)
				}
				for i, v := range e.Values {
					if float64(ints[i]) != v {
						t.Errorf("%s %s[%d] as int64 = %v, want %v", name, key, i, ints[i], v)
					}
				}
			}
		}
		if _, _, err := f.Int64("f4"); err == nil || !strings.Contains(err.Error(), `"f4"`) {
			t.Errorf("Int64 of a float array: %v", err)
		}
		if _, _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `no key "nope"`) {
			t.Errorf("missing key: %v", err)
		}
		f.Close()
	}
}

func TestUnsupportedDtypes(t *testing.T) {
	f, err := Open("testdata/unsupported.npz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, key := range []string{"strings", "complex", "half"} {
		_, _, err := f.Float32(key)
		if err == nil || !strings.Contains(err.Error(), "unsupported dtype") || !strings.Contains(err.Error(), key) ||
			!strings.Contains(err.Error(), "unsupported.npz") {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []string{"dtypes.npz", "dtypes_compressed.npz"} {
		raw, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		// Truncated: the zip directory at the end is gone.
		p := filepath.Join(dir, "trunc-"+src)
		os.WriteFile(p, raw[:len(raw)*2/3], 0o644)
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("truncated %s: %v", src, err)
		}
		// Corrupt: flip bytes inside the member data; the CRC or the inflater must object.
		c := append([]byte(nil), raw...)
		zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		var off int64
		for _, zf := range zr.File {
			if zf.Name == "f8.npy" {
				off, _ = zf.DataOffset()
			}
		}
		for i := off + 140; i < off+150; i++ {
			c[i] ^= 0x5a
		}
		p = filepath.Join(dir, "corrupt-"+src)
		os.WriteFile(p, c, 0o644)
		f, err := Open(p)
		if err == nil {
			_, _, err = f.Float64("f8")
		}
		if err == nil || !strings.Contains(err.Error(), "corrupt-"+src) {
			t.Errorf("corrupt %s: %v", src, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.npz")); err == nil || !strings.Contains(err.Error(), "missing.npz") {
		t.Errorf("missing file: %v", err)
	}
}

// TestShortMember: a member whose header promises more data than it has (consistent zip, CRC
// right) is an error, not zero-filled values.
func TestShortMember(t *testing.T) {
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
	hdr += strings.Repeat(" ", 128-10-len(hdr)-1) + "\n"
	member := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), 0)
	member = append(member, hdr...)
	member = append(member, make([]byte, 8)...) // 2 of 4 floats
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("x.npy")
	w.Write(member)
	zw.Close()
	_, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "short.npz")
	if err == nil || !strings.Contains(err.Error(), `short.npz: key "x": shape [4] of <f4 needs 16 data bytes, the member holds 8`) {
		t.Errorf("short member: %v", err)
	}
}

func TestCheckFinite(t *testing.T) {
	err := CheckFinite("f.npz", "observations", []float32{1, 2, 3, float32(math.NaN())}, 2)
	if err == nil || !strings.Contains(err.Error(), `"observations" has NaN at row 1, column 1`) {
		t.Errorf("got %v", err)
	}
	if CheckFinite("f.npz", "k", []float64{1, 2}, 1) != nil {
		t.Error("finite values refused")
	}
}

func TestHeaderLen(t *testing.T) {
	raw, _ := os.ReadFile("testdata/dtypes.npz")
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		n, err := HeaderLen(b.Bytes())
		// numpy pads the preamble to a multiple of 64 bytes.
		if err != nil || n%64 != 0 {
			t.Errorf("%s: header length %d, %v", zf.Name, n, err)
		}
	}
}

// A corrupt header length must be refused before anything that large is allocated.
func TestHugeHeaderLength(t *testing.T) {
	member := append([]byte("\x93NUMPY\x02\x00"), 0xff, 0xff, 0xff, 0x7f)
	member = append(member, "{'descr': '<f4'"...)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("x.npy")
	w.Write(member)
	zw.Close()
	_, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "huge.npz")
	if err == nil || !strings.Contains(err.Error(), `huge.npz: key "x"`) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("huge header: %v", err)
	}
}
