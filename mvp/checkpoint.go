package mvp

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// A checkpoint is one file, ckpt-<step>.gmvp, holding the whole learning state: every variable of
// the agent's store (parameters, target critic, Adam moments and counters, the update's RNG state),
// the agent config and an opaque JSON state of the caller (training counters, data sampler and
// environment RNG states). Layout:
//
//	"GMVPCKPT1\n" | uint64 header length | JSON header | raw little-endian tensors | uint32 CRC-32C
//
// The CRC covers everything before it, so a truncated or corrupted file is detected and skipped.
// Files are written to a temporary name, fsynced and renamed, so a crash leaves either the old set
// of checkpoints or the old set plus a complete new one, never a partial file under a final name.

const (
	checkpointMagic  = "GMVPCKPT1\n"
	checkpointPrefix = "ckpt-"
	checkpointExt    = ".gmvp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type checkpointHeader struct {
	Step      int64           `json:"step"`
	Agent     Spec            `json:"agent"`
	State     json.RawMessage `json:"state,omitempty"`
	Variables []checkpointVar `json:"variables"`
}

type checkpointVar struct {
	Path      string `json:"path"`
	DType     string `json:"dtype"`
	Dims      []int  `json:"dims"`
	Trainable bool   `json:"trainable"`
	Bytes     int    `json:"bytes"`
}

// SaveCheckpoint atomically writes the agent and state (any JSON-marshalable value) at step into
// dir, then deletes the oldest checkpoints so that at most keep remain (keep ≤ 0 keeps all). It
// returns the file written.
func SaveCheckpoint(dir string, step int64, a *Agent, state any, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mvp: checkpoint directory: %w", err)
	}
	hdr := checkpointHeader{Step: step, Agent: a.Spec}
	if state != nil {
		raw, err := json.Marshal(state)
		if err != nil {
			return "", fmt.Errorf("mvp: checkpoint state: %w", err)
		}
		hdr.State = raw
	}
	var blobs [][]byte
	var vars []*model.Variable
	for v := range a.Store.IterVariables() {
		vars = append(vars, v)
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	for _, v := range vars {
		if !v.HasValue() {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("mvp: checkpoint: reading variable %s: %w", v.Path(), err)
		}
		if t.DType() == dtypes.Float32 {
			bad := -1
			tensors.MustConstFlatData[float32](t, func(f []float32) {
				for i, x := range f {
					if x != x || x > math.MaxFloat32 || x < -math.MaxFloat32 {
						bad = i
						return
					}
				}
			})
			if bad >= 0 {
				return "", fmt.Errorf("%w: variable %s has a non-finite value at index %d; checkpoint at step %d not written", ErrDiverged, v.Path(), bad, step)
			}
		}
		var blob []byte
		if err := t.ConstBytes(func(b []byte) { blob = append([]byte(nil), b...) }); err != nil {
			return "", fmt.Errorf("mvp: checkpoint: bytes of variable %s: %w", v.Path(), err)
		}
		blobs = append(blobs, blob)
		hdr.Variables = append(hdr.Variables, checkpointVar{
			Path: v.Path(), DType: t.DType().String(), Dims: t.Shape().Dimensions,
			Trainable: v.Trainable, Bytes: len(blob),
		})
	}
	hjson, err := json.Marshal(hdr)
	if err != nil {
		return "", fmt.Errorf("mvp: checkpoint header: %w", err)
	}

	final := filepath.Join(dir, fmt.Sprintf("%s%012d%s", checkpointPrefix, step, checkpointExt))
	tmp, err := os.CreateTemp(dir, ".tmp-"+checkpointPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("mvp: checkpoint: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(tmp, crc), 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hjson)))
	for _, part := range append([][]byte{[]byte(checkpointMagic), lenBuf[:], hjson}, blobs...) {
		if _, err := w.Write(part); err != nil {
			tmp.Close()
			return "", fmt.Errorf("mvp: writing checkpoint %s: %w", tmpName, err)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("mvp: writing checkpoint %s: %w", tmpName, err)
	}
	var crcBuf [4]byte
	binary.LittleEndian.PutUint32(crcBuf[:], crc.Sum32())
	if _, err := tmp.Write(crcBuf[:]); err != nil {
		tmp.Close()
		return "", fmt.Errorf("mvp: writing checkpoint %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("mvp: syncing checkpoint %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("mvp: closing checkpoint %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, final); err != nil {
		return "", fmt.Errorf("mvp: checkpoint: %w", err)
	}
	syncDir(dir)
	if keep > 0 {
		if err := pruneCheckpoints(dir, keep); err != nil {
			return final, err
		}
	}
	return final, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every filesystem supports syncing a directory
		d.Close()
	}
}

// ListCheckpoints returns the checkpoint files in dir, oldest first.
func ListCheckpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("mvp: listing checkpoints: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, checkpointPrefix) && strings.HasSuffix(n, checkpointExt) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out) // zero-padded steps sort in order
	return out, nil
}

func pruneCheckpoints(dir string, keep int) error {
	all, err := ListCheckpoints(dir)
	if err != nil {
		return err
	}
	for len(all) > keep {
		if err := os.Remove(all[0]); err != nil {
			return fmt.Errorf("mvp: removing old checkpoint: %w", err)
		}
		all = all[1:]
	}
	return nil
}

// Checkpoint is a loaded checkpoint file.
type Checkpoint struct {
	Path  string
	Step  int64
	Agent Spec
	// State is the caller's JSON state, to unmarshal into its own type.
	State json.RawMessage
	vars  []checkpointVar
	data  []byte
}

// ReadCheckpoint reads and verifies one checkpoint file.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mvp: reading checkpoint: %w", err)
	}
	if len(raw) < len(checkpointMagic)+12 || string(raw[:len(checkpointMagic)]) != checkpointMagic {
		return nil, fmt.Errorf("mvp: checkpoint %s: not a gomvp checkpoint (bad magic or truncated to %d bytes)", path, len(raw))
	}
	body, tail := raw[:len(raw)-4], raw[len(raw)-4:]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(tail); got != want {
		return nil, fmt.Errorf("mvp: checkpoint %s: CRC-32C mismatch (file truncated or corrupted)", path)
	}
	p := len(checkpointMagic)
	hlen := int(binary.LittleEndian.Uint64(body[p:]))
	p += 8
	if hlen <= 0 || p+hlen > len(body) {
		return nil, fmt.Errorf("mvp: checkpoint %s: header length %d out of range", path, hlen)
	}
	var hdr checkpointHeader
	if err := json.Unmarshal(body[p:p+hlen], &hdr); err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: header: %w", path, err)
	}
	p += hlen
	total := 0
	for _, v := range hdr.Variables {
		total += v.Bytes
	}
	if p+total != len(body) {
		return nil, fmt.Errorf("mvp: checkpoint %s: %d bytes of tensors, header announces %d", path, len(body)-p, total)
	}
	return &Checkpoint{Path: path, Step: hdr.Step, Agent: hdr.Agent, State: hdr.State, vars: hdr.Variables, data: body[p:]}, nil
}

// LatestCheckpoint reads the newest valid checkpoint in dir, skipping (and reporting in the error
// when none is valid) unreadable ones. It returns nil, nil when dir has no checkpoint.
func LatestCheckpoint(dir string) (*Checkpoint, error) {
	all, err := ListCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := len(all) - 1; i >= 0; i-- {
		ck, err := ReadCheckpoint(all[i])
		if err == nil {
			return ck, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mvp: no valid checkpoint in %s: %w", dir, errors.Join(errs...))
	}
	return nil, nil
}

// Restore loads the checkpoint's variables into store (which should be empty).
func (ck *Checkpoint) Restore(store *model.Store) error {
	off := 0
	for _, v := range ck.vars {
		dt, err := dtypes.DTypeString(v.DType)
		if err != nil {
			return fmt.Errorf("mvp: checkpoint %s: variable %s has unknown dtype %q", ck.Path, v.Path, v.DType)
		}
		t := tensors.FromShape(shapes.Make(dt, v.Dims...))
		var size int
		err = t.MutableBytes(func(b []byte) {
			size = len(b)
			if size == v.Bytes {
				copy(b, ck.data[off:off+v.Bytes])
			}
		})
		if err != nil || size != v.Bytes {
			return fmt.Errorf("mvp: checkpoint %s: variable %s: %d bytes for shape %v, want %d (%v)", ck.Path, v.Path, v.Bytes, v.Dims, size, err)
		}
		off += v.Bytes
		mv, err := store.CreateVariable(v.Path, t)
		if err != nil {
			return fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
		}
		mv.SetTrainable(v.Trainable)
	}
	return nil
}

// LoadAgent rebuilds the agent saved in ck on backend from its spec, every variable restored, so
// acting and further updates continue exactly where the saved run stopped.
func LoadAgent(backend compute.Backend, ck *Checkpoint) (*Agent, error) {
	a, err := newAgentShell(backend, ck.Agent)
	if err != nil {
		return nil, err
	}
	if err := ck.Restore(a.Store); err != nil {
		return nil, err
	}
	return a, nil
}
