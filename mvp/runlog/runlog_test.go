package runlog

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readRecords splits a TFRecord file, checking both masked CRCs of every record.
func readRecords(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mask := func(b []byte) uint32 {
		c := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
		return ((c >> 15) | (c << 17)) + 0xa282ead8
	}
	var out [][]byte
	for len(raw) > 0 {
		if len(raw) < 12 {
			t.Fatalf("trailing %d bytes", len(raw))
		}
		n := binary.LittleEndian.Uint64(raw)
		if mask(raw[:8]) != binary.LittleEndian.Uint32(raw[8:12]) {
			t.Fatal("bad length CRC")
		}
		data := raw[12 : 12+n]
		if mask(data) != binary.LittleEndian.Uint32(raw[12+n:16+n]) {
			t.Fatal("bad data CRC")
		}
		out = append(out, data)
		raw = raw[16+n:]
	}
	return out
}

// field is one decoded protobuf field.
type field struct {
	num  int
	wire int
	u    uint64
	b    []byte
}

func decode(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	varint := func() uint64 {
		var v uint64
		for s := 0; ; s += 7 {
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << s
			if c < 0x80 {
				return v
			}
		}
	}
	for len(b) > 0 {
		key := varint()
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.u = varint()
		case 1:
			f.u = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 5:
			f.u = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case 2:
			n := varint()
			f.b = b[:n]
			b = b[n:]
		default:
			t.Fatalf("wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out
}

// TestEventFile hand-decodes the TensorBoard event file: TFRecord framing with masked CRC-32C,
// the file-version event, then Event{wall_time, step, summary{value{tag, simple_value}}}.
func TestEventFile(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 500_000_000)
	if err := l.Log(Record{Step: 42, Phase: "train", Time: now, Metrics: map[string]float64{"loss": 0.25, "q": -3}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(Record{Step: 50, Phase: "eval", Time: now, Metrics: map[string]float64{"success_rate": 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files: %v", files)
	}
	recs := readRecords(t, files[0])
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	first := decode(t, recs[0])
	if len(first) != 2 || first[1].num != 3 || string(first[1].b) != "brain.Event:2" {
		t.Fatalf("first event %+v, want wall_time and file_version", first)
	}
	ev := decode(t, recs[1])
	got := map[string]float32{}
	var step uint64
	var wall float64
	for _, f := range ev {
		switch f.num {
		case 1:
			wall = math.Float64frombits(f.u)
		case 2:
			step = f.u
		case 5:
			for _, v := range decode(t, f.b) {
				var tag string
				var val float32
				for _, vf := range decode(t, v.b) {
					if vf.num == 1 {
						tag = string(vf.b)
					} else if vf.num == 2 && vf.wire == 5 {
						val = math.Float32frombits(uint32(vf.u))
					}
				}
				got[tag] = val
			}
		}
	}
	if step != 42 || wall != 1700000000.5 || got["train/loss"] != 0.25 || got["train/q"] != -3 || len(got) != 2 {
		t.Fatalf("event: step %d wall %v values %v", step, wall, got)
	}

	// JSONL and CSV hold the same numbers.
	rs, err := ReadJSONL(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(rs) != 2 || rs[0].Metrics["loss"] != 0.25 || rs[1].Phase != "eval" {
		t.Fatalf("ReadJSONL: %+v, %v", rs, err)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "train.csv"))
	if !strings.HasPrefix(string(csv), "step,time,loss,q\n42,") || !strings.Contains(string(csv), ",0.25,-3") {
		t.Fatalf("train.csv:\n%s", csv)
	}
}

func TestProgressLine(t *testing.T) {
	p := &Progress{}
	p.Start("offline", 0, 100)
	p.start = time.Unix(0, 0)
	p.SetMetrics(map[string]float64{"loss": 0.5})
	got := p.line(50, time.Unix(10, 0))
	want := "offline [##########..........] 50/100  50% 5.0 it/s ETA 10s | loss=0.5"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
