package npzfile

import (
	"archive/zip"
	"bytes"
	"os"
	"testing"
)

// FuzzHeaderLen feeds arbitrary npy members: the preamble parser must return a length inside the
// input or an error, never panic.
func FuzzHeaderLen(f *testing.F) {
	raw, err := os.ReadFile("testdata/dtypes.npz")
	if err != nil {
		f.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		f.Add(b.Bytes())
	}
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"))
	f.Add([]byte("\x93NUMPY\x09\x00"))
	f.Fuzz(func(t *testing.T, member []byte) {
		n, err := HeaderLen(member)
		if err == nil && (n < 10 || n > len(member)) || err != nil && n > 0 && n <= len(member) {
			t.Fatalf("HeaderLen = %d for %d bytes", n, len(member))
		}
	})
}

// FuzzArchive feeds arbitrary archives and arbitrary members wrapped in a valid zip: opening and
// reading every key must give values or errors, never a panic or a hang.
func FuzzArchive(f *testing.F) {
	for _, name := range []string{"testdata/dtypes.npz", "testdata/dtypes_compressed.npz", "testdata/unsupported.npz"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, false)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }     \n"), true)
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '|b1'"), true)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("x.npy")
			w.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		nf, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			return
		}
		for _, k := range nf.Keys() {
			info, _ := nf.Info(k)
			if info.Len() > 1<<20 {
				continue // a header may claim a huge shape; reading it would only test memory
			}
			v, _, err := nf.Float32(k)
			if err == nil && len(v) != info.Len() {
				t.Fatalf("key %s: %d values for shape %v", k, len(v), info.Shape)
			}
		}
	})
}
