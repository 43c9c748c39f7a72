package mvp

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/gomvp/gomvp/xla"
)

// withCRC returns data with its trailing CRC-32C recomputed, so that mutations reach the header
// and index checks behind the checksum.
func withCRC(data []byte) []byte {
	if len(data) < 4 {
		return data
	}
	out := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.Checksum(out[:len(out)-4], castagnoli))
	return out
}

// FuzzParseCheckpoint feeds arbitrary bytes to the checkpoint reader: it must return an error or
// a checkpoint whose index lies inside its data, never panic or allocate what the file does not
// hold. Small agents that parse are also loaded, which checks the index against the spec. The
// seeds (testdata/fuzz/FuzzParseCheckpoint) are a version-1 and a version-2 file and damaged ones.
func FuzzParseCheckpoint(f *testing.F) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, raw := range [][]byte{data, withCRC(data)} {
			ck, err := ParseCheckpoint("fuzz.gmvp", raw)
			if err != nil {
				continue
			}
			var total int64
			for _, e := range ck.Variables {
				total += e.Bytes
			}
			if total != int64(len(ck.data)) {
				t.Fatalf("index announces %d bytes, data holds %d", total, len(ck.data))
			}
			s := ck.Spec
			small := s.ObsDim <= 64 && s.ActDim <= 16 && s.Horizon <= 8 && s.Candidates <= 64 && s.BatchSize <= 64 &&
				s.Critic.Ensemble <= 4 && s.Generator.Steps <= 8 && len(s.Generator.Hidden) <= 3 && len(s.Critic.Hidden) <= 3
			for _, w := range append(append([]int(nil), s.Generator.Hidden...), s.Critic.Hidden...) {
				small = small && w <= 64
			}
			if small {
				_, _ = LoadAgent(backend, ck) // an error is fine; a panic is not
			}
		}
	})
}

// FuzzParseReplaySegment feeds arbitrary bytes to the replay segment reader.
func FuzzParseReplaySegment(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, raw := range [][]byte{data, withCRC(data)} {
			hdr, body, err := parseReplaySegment("fuzz.gmvps", raw)
			if err != nil {
				continue
			}
			for _, e := range hdr.Arrays {
				if e.Offset+e.Bytes > int64(len(body)) {
					t.Fatalf("array %s [%d, +%d) outside %d bytes", e.Name, e.Offset, e.Bytes, len(body))
				}
			}
		}
	})
}
