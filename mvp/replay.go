package mvp

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomvp/gomvp/datasets"
)

// The online part of the replay buffer is stored next to the checkpoints as append-only segment
// files, replay/seg-<first row>-<rows>.gmvps: each holds the transitions collected between two
// checkpoints, in binary, so a checkpoint writes only what is new and never re-encodes the whole
// buffer. A checkpoint lists the segments it covers (first rows 0, n₁, n₁+n₂, …). Layout, the
// checkpoint's container with another magic:
//
//	"GMVPSEG02\n" | uint64 header length | JSON header | float32 arrays | uint32 CRC-32C
//
// with the arrays observations [n, obs], actions [n, act], rewards [n], next_observations
// [n, obs], masks [n], terminals [n] (little-endian float32) described by the header's index.

const (
	replayMagic  = "GMVPSEG02\n"
	replayDir    = "replay"
	replayPrefix = "seg-"
	replayExt    = ".gmvps"
)

// ReplaySegment is a checkpoint's reference to one replay segment file.
type ReplaySegment struct {
	// File is the segment's name inside the checkpoint directory (replay/seg-….gmvps).
	File string `json:"file"`
	// FirstRow is the index of its first transition among all online transitions; Rows its count.
	FirstRow int64 `json:"first_row"`
	Rows     int   `json:"rows"`
	// Bytes is the file's size and CRC32C its trailing checksum, so a checkpoint only accepts the
	// very file it was written with.
	Bytes  int64  `json:"bytes"`
	CRC32C uint32 `json:"crc32c"`
}

type replayHeader struct {
	FirstRow int64         `json:"first_row"`
	Rows     int           `json:"rows"`
	ObsDim   int           `json:"obs_dim"`
	ActDim   int           `json:"act_dim"`
	Arrays   []TensorEntry `json:"arrays"`
}

func (s ReplaySegment) validate() error {
	clean := filepath.ToSlash(filepath.Clean(s.File))
	if !strings.HasPrefix(clean, replayDir+"/"+replayPrefix) || strings.Contains(clean[len(replayDir)+1:], "/") || s.Rows <= 0 || s.FirstRow < 0 || s.Bytes <= 0 {
		return fmt.Errorf("bad replay segment reference %+v", s)
	}
	return nil
}

func (s ReplaySegment) checkPresent(dir string) error {
	st, err := os.Stat(filepath.Join(dir, s.File))
	if err != nil {
		return fmt.Errorf("replay segment: %w", err)
	}
	if st.Size() != s.Bytes {
		return fmt.Errorf("replay segment %s has %d bytes, the checkpoint recorded %d", s.File, st.Size(), s.Bytes)
	}
	return nil
}

// WriteReplaySegment atomically writes the transitions of d, the online rows firstRow …
// firstRow+d.Len()−1, as a segment file under dir/replay and returns its reference.
func WriteReplaySegment(dir string, firstRow int64, d *datasets.Dataset) (ReplaySegment, error) {
	n := d.Len()
	if n == 0 {
		return ReplaySegment{}, fmt.Errorf("mvp: replay segment at row %d: no transitions", firstRow)
	}
	if err := d.Validate(); err != nil {
		return ReplaySegment{}, fmt.Errorf("mvp: replay segment at row %d: %w", firstRow, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, replayDir), 0o755); err != nil {
		return ReplaySegment{}, fmt.Errorf("mvp: replay directory: %w", err)
	}
	hdr := replayHeader{FirstRow: firstRow, Rows: n, ObsDim: d.ObsDim, ActDim: d.ActDim}
	var blobs [][]byte
	var off int64
	for _, a := range replayArrays(d) {
		b := float32Bytes(a.values)
		hdr.Arrays = append(hdr.Arrays, TensorEntry{Name: a.name, DType: "Float32", Shape: a.shape, Offset: off, Bytes: int64(len(b))})
		blobs = append(blobs, b)
		off += int64(len(b))
	}
	name := filepath.Join(replayDir, fmt.Sprintf("%s%012d-%d%s", replayPrefix, firstRow, n, replayExt))
	path := filepath.Join(dir, name)
	crc, err := writeContainer(path, replayMagic, hdr, blobs)
	if err != nil {
		return ReplaySegment{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return ReplaySegment{}, fmt.Errorf("mvp: replay segment: %w", err)
	}
	return ReplaySegment{File: name, FirstRow: firstRow, Rows: n, Bytes: st.Size(), CRC32C: crc}, nil
}

type replayArray struct {
	name   string
	shape  []int
	values *[]float32
}

func replayArrays(d *datasets.Dataset) []replayArray {
	n := d.Len()
	return []replayArray{
		{"observations", []int{n, d.ObsDim}, &d.Observations},
		{"actions", []int{n, d.ActDim}, &d.Actions},
		{"rewards", []int{n}, &d.Rewards},
		{"next_observations", []int{n, d.ObsDim}, &d.NextObservations},
		{"masks", []int{n}, &d.Masks},
		{"terminals", []int{n}, &d.Terminals},
	}
}

func float32Bytes(p *[]float32) []byte {
	out := make([]byte, 4*len(*p))
	for i, v := range *p {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// ReadReplay reads the segments of a checkpoint in dir, in order, into one dataset of online
// transitions with the given dimensions. Each file is verified (CRC, the reference's size and
// checksum, contiguous rows, the index against the dimensions) before its arrays are allocated.
func ReadReplay(dir string, segs []ReplaySegment, obsDim, actDim int) (*datasets.Dataset, error) {
	out := &datasets.Dataset{Name: "online", ObsDim: obsDim, ActDim: actDim}
	var next int64
	for _, s := range segs {
		if s.FirstRow != next {
			return nil, fmt.Errorf("mvp: replay segment %s starts at row %d, want %d", s.File, s.FirstRow, next)
		}
		if err := readSegmentInto(dir, s, out); err != nil {
			return nil, err
		}
		next += int64(s.Rows)
	}
	return out, nil
}

func readSegmentInto(dir string, s ReplaySegment, out *datasets.Dataset) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("mvp: %w", err)
	}
	path := filepath.Join(dir, s.File)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mvp: reading replay segment: %w", err)
	}
	if int64(len(raw)) != s.Bytes || binary.LittleEndian.Uint32(raw[max(0, len(raw)-4):]) != s.CRC32C {
		return fmt.Errorf("mvp: replay segment %s (%d bytes) is not the one the checkpoint recorded (%d bytes, CRC %08x)", path, len(raw), s.Bytes, s.CRC32C)
	}
	hdr, data, err := parseReplaySegment(path, raw)
	if err != nil {
		return err
	}
	if hdr.Rows != s.Rows || hdr.FirstRow != s.FirstRow || hdr.ObsDim != out.ObsDim || hdr.ActDim != out.ActDim {
		return fmt.Errorf("mvp: replay segment %s holds rows %d+%d of obs %d act %d, the checkpoint expects rows %d+%d of obs %d act %d",
			path, hdr.FirstRow, hdr.Rows, hdr.ObsDim, hdr.ActDim, s.FirstRow, s.Rows, out.ObsDim, out.ActDim)
	}
	for i, a := range replayArrays(out) {
		e := hdr.Arrays[i]
		vals := *a.values
		for j := int64(0); j < e.Bytes; j += 4 {
			vals = append(vals, math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offset+j:])))
		}
		*a.values = vals
	}
	return nil
}

// parseReplaySegment verifies a segment file's bytes and its index (names, dtypes and shapes of
// the six arrays for its rows and dimensions) without allocating the arrays.
func parseReplaySegment(path string, raw []byte) (*replayHeader, []byte, error) {
	_, hjson, data, err := parseContainer("replay segment", path, raw, replayMagic)
	if err != nil {
		return nil, nil, err
	}
	var hdr replayHeader
	if err := json.Unmarshal(hjson, &hdr); err != nil {
		return nil, nil, fmt.Errorf("mvp: replay segment %s: header: %w", path, err)
	}
	if hdr.Rows <= 0 || hdr.ObsDim <= 0 || hdr.ActDim <= 0 || hdr.Rows > maxDim || hdr.ObsDim > maxDim || hdr.ActDim > maxDim {
		return nil, nil, fmt.Errorf("mvp: replay segment %s: rows %d, obs %d, act %d out of range", path, hdr.Rows, hdr.ObsDim, hdr.ActDim)
	}
	if err := checkIndex("replay segment", path, hdr.Arrays, len(data)); err != nil {
		return nil, nil, err
	}
	want := replayArrays(&datasets.Dataset{ObsDim: hdr.ObsDim, ActDim: hdr.ActDim, Rewards: make([]float32, 0)})
	if len(hdr.Arrays) != len(want) {
		return nil, nil, fmt.Errorf("mvp: replay segment %s: %d arrays, want %d", path, len(hdr.Arrays), len(want))
	}
	for i, w := range want {
		w.shape[0] = hdr.Rows
		e := hdr.Arrays[i]
		if e.Name != w.name || e.DType != "Float32" || !slices.Equal(e.Shape, w.shape) {
			return nil, nil, fmt.Errorf("mvp: replay segment %s: array %d is %s %s%v, want %s Float32%v", path, i, e.Name, e.DType, e.Shape, w.name, w.shape)
		}
	}
	return &hdr, data, nil
}

// RemoveReplayAfter deletes the segment files of dir from row rows on — transitions a crashed run
// wrote after its last checkpoint, which the resumed run collects again — and the temporary files
// of writes a crash interrupted.
func RemoveReplayAfter(dir string, rows int64) error {
	for _, d := range []string{dir, filepath.Join(dir, replayDir)} {
		tmps, _ := filepath.Glob(filepath.Join(d, ".tmp-*"))
		for _, f := range tmps {
			_ = os.Remove(f) // best effort: a leftover temporary file is never read
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, replayDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("mvp: listing replay segments: %w", err)
	}
	for _, e := range entries {
		var first int64
		var n int
		if _, err := fmt.Sscanf(e.Name(), replayPrefix+"%012d-%d"+replayExt, &first, &n); err != nil {
			continue
		}
		if first >= rows {
			if err := os.Remove(filepath.Join(dir, replayDir, e.Name())); err != nil {
				return fmt.Errorf("mvp: removing stale replay segment: %w", err)
			}
		}
	}
	return nil
}
