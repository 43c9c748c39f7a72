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
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// A checkpoint is one file, ckpt-<step>.gmvp, holding the agent's spec and every variable of its
// store (parameters, target critic, Adam moments and counters, the update's RNG state), an opaque
// JSON state of the caller (training counters, sampler and environment seeds) and the list of
// replay segments (replay.go) whose transitions it covers. Layout (docs/checkpoints.md):
//
//	"GMVPCKPT2\n" | uint64 header length | JSON header | raw little-endian tensors | uint32 CRC-32C
//
// The header holds the format version, the spec and an index of the variables (name, dtype, shape,
// offset, bytes). Readers check the index against the file size and the spec before allocating
// anything. The CRC covers everything before it, so a truncated or corrupted file is detected.
// Files are written to a temporary name, fsynced and renamed, so a crash leaves either the old set
// of checkpoints or the old set plus a complete new one, never a partial file under a final name.
//
// Version 1 files (magic "GMVPCKPT1\n", header {step, agent, state, variables}, the online replay
// buffer as JSON inside the state) still load: their spec is rebuilt from the kind table, which is
// what a version-1 loader did.

// CheckpointVersion is the format version SaveCheckpoint writes.
const CheckpointVersion = 2

const (
	checkpointMagicV1 = "GMVPCKPT1\n"
	checkpointMagic   = "GMVPCKPT2\n"
	checkpointPrefix  = "ckpt-"
	checkpointExt     = ".gmvp"
	// maxHeaderBytes bounds the JSON header a reader accepts: the header holds the spec, the
	// variable index and small state, never arrays.
	maxHeaderBytes = 64 << 20
	// maxDim bounds any one dimension of a stored tensor.
	maxDim = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CheckpointWarnings receives one line per unusable checkpoint that LatestCheckpoint skips.
var CheckpointWarnings io.Writer = os.Stderr

// TensorEntry is one entry of a checkpoint's (or replay segment's) index: a tensor of the given
// dtype and shape stored at Offset (from the start of the data section) in Bytes bytes.
type TensorEntry struct {
	Name      string `json:"name"`
	DType     string `json:"dtype"`
	Shape     []int  `json:"shape"`
	Trainable bool   `json:"trainable,omitempty"`
	Offset    int64  `json:"offset"`
	Bytes     int64  `json:"bytes"`
}

type checkpointHeader struct {
	Version   int             `json:"version"`
	Step      int64           `json:"step"`
	Spec      Spec            `json:"spec"`
	State     json.RawMessage `json:"state,omitempty"`
	Variables []TensorEntry   `json:"variables"`
	Replay    []ReplaySegment `json:"replay,omitempty"`
}

// CheckpointContent is what a checkpoint holds besides the agent.
type CheckpointContent struct {
	// State is the caller's state, any JSON-marshalable value (keep it small: arrays belong in
	// replay segments).
	State any
	// Replay lists the replay segments, already written with WriteReplaySegment, that the
	// checkpoint covers.
	Replay []ReplaySegment
}

// SaveCheckpoint atomically writes the agent and state (any JSON-marshalable value) at step into
// dir, then deletes the oldest checkpoints so that at most keep remain (keep ≤ 0 keeps all). It
// returns the file written.
func SaveCheckpoint(dir string, step int64, a *Agent, state any, keep int) (string, error) {
	return WriteCheckpoint(dir, step, a, CheckpointContent{State: state}, keep)
}

// WriteCheckpoint is SaveCheckpoint with replay segments.
func WriteCheckpoint(dir string, step int64, a *Agent, content CheckpointContent, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mvp: checkpoint directory: %w", err)
	}
	hdr := checkpointHeader{Version: CheckpointVersion, Step: step, Spec: a.Spec, Replay: content.Replay}
	if content.State != nil {
		raw, err := json.Marshal(content.State)
		if err != nil {
			return "", fmt.Errorf("mvp: checkpoint state: %w", err)
		}
		hdr.State = raw
	}
	var blobs [][]byte
	var off int64
	for _, v := range sortedVariables(a.Store) {
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
		hdr.Variables = append(hdr.Variables, TensorEntry{
			Name: v.Path(), DType: t.DType().String(), Shape: slices.Clone(t.Shape().Dimensions),
			Trainable: v.Trainable, Offset: off, Bytes: int64(len(blob)),
		})
		off += int64(len(blob))
	}
	final := filepath.Join(dir, fmt.Sprintf("%s%012d%s", checkpointPrefix, step, checkpointExt))
	if _, err := writeContainer(final, checkpointMagic, hdr, blobs); err != nil {
		return "", err
	}
	if keep > 0 {
		if err := pruneCheckpoints(dir, keep); err != nil {
			return final, err
		}
	}
	return final, nil
}

func sortedVariables(store *model.Store) []*model.Variable {
	var vars []*model.Variable
	for v := range store.IterVariables() {
		vars = append(vars, v)
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	return vars
}

// writeContainer atomically writes magic | uint64 header length | JSON header | blobs | CRC-32C
// to path (temporary file, fsync, rename, directory fsync) and returns the CRC.
func writeContainer(path, magic string, header any, blobs [][]byte) (uint32, error) {
	hjson, err := json.Marshal(header)
	if err != nil {
		return 0, fmt.Errorf("mvp: %s: header: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return 0, fmt.Errorf("mvp: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	fail := func(what string, err error) (uint32, error) {
		tmp.Close()
		return 0, fmt.Errorf("mvp: %s %s: %w", what, tmpName, err)
	}
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(tmp, crc), 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hjson)))
	for _, part := range append([][]byte{[]byte(magic), lenBuf[:], hjson}, blobs...) {
		if _, err := w.Write(part); err != nil {
			return fail("writing", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fail("writing", err)
	}
	sum := crc.Sum32()
	var crcBuf [4]byte
	binary.LittleEndian.PutUint32(crcBuf[:], sum)
	if _, err := tmp.Write(crcBuf[:]); err != nil {
		return fail("writing", err)
	}
	if err := tmp.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("mvp: closing %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return 0, fmt.Errorf("mvp: %w", err)
	}
	syncDir(dir)
	return sum, nil
}

// parseContainer verifies the bytes of a file written by writeContainer with one of magics (what
// names the kind of file in errors): it returns the magic found, the header bytes and the data
// section.
func parseContainer(what, path string, raw []byte, magics ...string) (magic string, header, data []byte, err error) {
	for _, m := range magics {
		if len(raw) >= len(m) && string(raw[:len(m)]) == m {
			magic = m
		}
	}
	if magic == "" || len(raw) < len(magic)+12 {
		return "", nil, nil, fmt.Errorf("mvp: %s %s: not a gomvp %s (bad magic or truncated to %d bytes)", what, path, what, len(raw))
	}
	body, tail := raw[:len(raw)-4], raw[len(raw)-4:]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(tail); got != want {
		return "", nil, nil, fmt.Errorf("mvp: %s %s: CRC-32C mismatch (file truncated or corrupted)", what, path)
	}
	p := len(magic)
	hlen := binary.LittleEndian.Uint64(body[p:])
	p += 8
	if hlen == 0 || hlen > maxHeaderBytes || hlen > uint64(len(body)-p) {
		return "", nil, nil, fmt.Errorf("mvp: %s %s: header length %d out of range", what, path, hlen)
	}
	return magic, body[p : p+int(hlen)], body[p+int(hlen):], nil
}

// checkIndex checks that entries describe data exactly: known dtypes, sane shapes whose size
// matches Bytes, contiguous offsets from 0, unique names, and a total of len(data) bytes.
func checkIndex(what, path string, entries []TensorEntry, dataLen int) error {
	var off int64
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Name] {
			return fmt.Errorf("mvp: %s %s: tensor %s is listed twice", what, path, e.Name)
		}
		seen[e.Name] = true
		dt, err := dtypes.DTypeString(e.DType)
		if err != nil || dt.Size() <= 0 {
			return fmt.Errorf("mvp: %s %s: tensor %s has unknown dtype %q", what, path, e.Name, e.DType)
		}
		n, err := elements(e.Shape)
		if err != nil {
			return fmt.Errorf("mvp: %s %s: tensor %s: %w", what, path, e.Name, err)
		}
		if n > math.MaxInt64/int64(dt.Size()) || n*int64(dt.Size()) != e.Bytes {
			return fmt.Errorf("mvp: %s %s: tensor %s: %d bytes for %s%v", what, path, e.Name, e.Bytes, e.DType, e.Shape)
		}
		if e.Offset != off || e.Bytes > int64(dataLen)-off {
			return fmt.Errorf("mvp: %s %s: tensor %s at [%d, +%d) does not follow the previous one at %d within %d bytes of data", what, path, e.Name, e.Offset, e.Bytes, off, dataLen)
		}
		off += e.Bytes
	}
	if off != int64(dataLen) {
		return fmt.Errorf("mvp: %s %s: %d bytes of tensors, the index announces %d", what, path, dataLen, off)
	}
	return nil
}

// elements is the number of elements of shape, refusing negative or absurd dimensions.
func elements(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || d > maxDim {
			return 0, fmt.Errorf("dimension %d out of range in shape %v", d, shape)
		}
		if d > 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= int64(d)
	}
	return n, nil
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

// Checkpoint is a loaded and verified checkpoint file.
type Checkpoint struct {
	Path string
	// Version of the file's format (1 or 2).
	Version int
	Step    int64
	// Spec is the agent's spec (for version 1 files, rebuilt from the kind table).
	Spec Spec
	// State is the caller's JSON state, to unmarshal into its own type.
	State json.RawMessage
	// Variables is the index of the stored variables.
	Variables []TensorEntry
	// Replay lists the replay segments the checkpoint covers (ReadReplay loads them).
	Replay []ReplaySegment
	data   []byte
}

// ReadCheckpoint reads and verifies one checkpoint file: magic, CRC, header, the index against
// the file's size, and that every replay segment it lists is present with its recorded size.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mvp: reading checkpoint: %w", err)
	}
	ck, err := ParseCheckpoint(path, raw)
	if err != nil {
		return nil, err
	}
	for _, s := range ck.Replay {
		if err := s.checkPresent(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("mvp: checkpoint %s: %w", path, err)
		}
	}
	return ck, nil
}

// ParseCheckpoint verifies and decodes the bytes of a checkpoint file (named path in errors). It
// allocates nothing beyond the header's decoding: raw stays the tensors' backing store until
// LoadAgent copies them.
func ParseCheckpoint(path string, raw []byte) (*Checkpoint, error) {
	magic, hjson, data, err := parseContainer("checkpoint", path, raw, checkpointMagic, checkpointMagicV1)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Path: path, data: data}
	if magic == checkpointMagicV1 {
		if err := ck.decodeV1(hjson); err != nil {
			return nil, err
		}
	} else {
		var hdr checkpointHeader
		if err := json.Unmarshal(hjson, &hdr); err != nil {
			return nil, fmt.Errorf("mvp: checkpoint %s: header: %w", path, err)
		}
		if hdr.Version != CheckpointVersion {
			return nil, fmt.Errorf("mvp: checkpoint %s: format version %d, this build reads 1 and %d", path, hdr.Version, CheckpointVersion)
		}
		ck.Version, ck.Step, ck.Spec, ck.State, ck.Variables, ck.Replay = hdr.Version, hdr.Step, hdr.Spec, hdr.State, hdr.Variables, hdr.Replay
	}
	if err := checkIndex("checkpoint", path, ck.Variables, len(data)); err != nil {
		return nil, err
	}
	for i, s := range ck.Replay {
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("mvp: checkpoint %s: replay segment %d: %w", path, i, err)
		}
	}
	if err := ck.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: spec: %w", path, err)
	}
	return ck, nil
}

// v1Header is the header of a version-1 checkpoint: the agent config had no generator fields
// (its generator was always the kind's default with ActorHidden widths).
type v1Header struct {
	Step  int64 `json:"step"`
	Agent struct {
		Kind                string
		ObsDim, ActDim      int
		Horizon, Candidates int
		Critic              struct {
			Hidden     []int
			LayerNorm  bool
			Ensemble   int
			Gamma, Tau float64
		}
		UseCritic             bool
		ActorHidden           []int
		LearningRate          float64
		BatchSize             int
		ActionLow, ActionHigh float64
		Seed                  int64
		PolicyTarget          string
	} `json:"agent"`
	State     json.RawMessage `json:"state,omitempty"`
	Variables []struct {
		Path      string `json:"path"`
		DType     string `json:"dtype"`
		Dims      []int  `json:"dims"`
		Trainable bool   `json:"trainable"`
		Bytes     int64  `json:"bytes"`
	} `json:"variables"`
}

func (ck *Checkpoint) decodeV1(hjson []byte) error {
	var h v1Header
	if err := json.Unmarshal(hjson, &h); err != nil {
		return fmt.Errorf("mvp: checkpoint %s (version 1): header: %w", ck.Path, err)
	}
	c := h.Agent
	spec, err := DefaultSpec(c.Kind, c.ObsDim, c.ActDim)
	if err != nil {
		return fmt.Errorf("mvp: checkpoint %s (version 1): %w; retrain, or load it with the build that wrote it and save it again", ck.Path, err)
	}
	spec.Horizon, spec.Candidates, spec.UseCritic = c.Horizon, c.Candidates, c.UseCritic
	spec.Critic = CriticConfig{Hidden: c.Critic.Hidden, LayerNorm: c.Critic.LayerNorm, Ensemble: c.Critic.Ensemble, Gamma: c.Critic.Gamma, Tau: c.Critic.Tau}
	spec.Generator.Hidden = c.ActorHidden
	spec.LearningRate, spec.BatchSize, spec.ActionLow, spec.ActionHigh, spec.Seed = c.LearningRate, c.BatchSize, c.ActionLow, c.ActionHigh, c.Seed
	if c.PolicyTarget != PolicyTargetBatch {
		spec.PolicyTarget = c.PolicyTarget
	}
	ck.Version, ck.Step, ck.Spec, ck.State = 1, h.Step, spec, h.State
	var off int64
	for _, v := range h.Variables {
		ck.Variables = append(ck.Variables, TensorEntry{Name: v.Path, DType: v.DType, Shape: v.Dims, Trainable: v.Trainable, Offset: off, Bytes: v.Bytes})
		off += v.Bytes
	}
	return nil
}

// LatestCheckpoint reads the newest valid checkpoint in dir. An unusable newer file is skipped
// with a line on CheckpointWarnings naming it and why; when none is valid the error lists them
// all. It returns nil, nil when dir has no checkpoint.
func LatestCheckpoint(dir string) (*Checkpoint, error) {
	all, err := ListCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := len(all) - 1; i >= 0; i-- {
		ck, err := ReadCheckpoint(all[i])
		if err == nil {
			for _, e := range errs {
				fmt.Fprintf(CheckpointWarnings, "mvp: skipping unusable checkpoint: %v; using %s\n", e, ck.Path)
			}
			return ck, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mvp: no valid checkpoint in %s: %w", dir, errors.Join(errs...))
	}
	return nil, nil
}

// CheckVariables compares the checkpoint's index with the variables of store (declared, with or
// without values): every variable must be stored with its dtype and shape, and nothing else may be
// stored. The error names each missing, extra or mismatched variable.
func (ck *Checkpoint) CheckVariables(store *model.Store) error {
	stored := map[string]TensorEntry{}
	for _, e := range ck.Variables {
		stored[e.Name] = e
	}
	var problems []string
	for _, v := range sortedVariables(store) {
		e, ok := stored[v.Path()]
		delete(stored, v.Path())
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("variable %s (%s%v) is missing", v.Path(), v.DType(), v.Shape().Dimensions))
		case e.DType != v.DType().String() || !slices.Equal(e.Shape, v.Shape().Dimensions):
			problems = append(problems, fmt.Sprintf("variable %s is stored as %s%v, the spec builds %s%v", v.Path(), e.DType, e.Shape, v.DType(), v.Shape().Dimensions))
		}
	}
	for _, e := range ck.Variables {
		if _, extra := stored[e.Name]; extra {
			problems = append(problems, fmt.Sprintf("variable %s (%s%v) is not part of the spec's agent", e.Name, e.DType, e.Shape))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("mvp: checkpoint %s does not match its spec (agent %q): %s", ck.Path, ck.Spec.Kind, strings.Join(problems, "; "))
	}
	return nil
}

// restore copies the stored variables into store's declared variables (after CheckVariables).
func (ck *Checkpoint) restore(store *model.Store) error {
	for _, e := range ck.Variables {
		dt, _ := dtypes.DTypeString(e.DType)
		t := tensors.FromShape(shapes.Make(dt, e.Shape...))
		var size int
		err := t.MutableBytes(func(b []byte) {
			size = len(b)
			if int64(size) == e.Bytes {
				copy(b, ck.data[e.Offset:e.Offset+e.Bytes])
			}
		})
		if err != nil || int64(size) != e.Bytes {
			return fmt.Errorf("mvp: checkpoint %s: variable %s: %d bytes for shape %v, want %d (%v)", ck.Path, e.Name, e.Bytes, e.Shape, size, err)
		}
		v := store.GetVariable(e.Name)
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("mvp: checkpoint %s: variable %s: %w", ck.Path, e.Name, err)
		}
		v.SetTrainable(e.Trainable)
	}
	return nil
}

// LoadAgent rebuilds the agent saved in ck on backend from its spec: it declares the agent's
// variables (compiling its update graph, which allocates none), checks them against the
// checkpoint's index, and only then restores every value, so acting and further updates continue
// exactly where the saved run stopped.
func LoadAgent(backend compute.Backend, ck *Checkpoint) (*Agent, error) {
	a, err := newAgentShell(backend, ck.Spec)
	if err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	// Every agent has the update's random stream, used by its graph or not (BC).
	if err := a.Store.SetRNGStateFromSeed(ck.Spec.Seed); err != nil {
		return nil, fmt.Errorf("mvp: checkpoint %s: %w", ck.Path, err)
	}
	if err := a.declareVariables(); err != nil {
		return nil, err
	}
	if err := ck.CheckVariables(a.Store); err != nil {
		if ck.Version == 1 {
			return nil, fmt.Errorf("%w (a version-1 checkpoint whose variables this build's agent no longer has: "+
				"export its policy with the build that wrote it, `mvp export --format gomlx`, or retrain)", err)
		}
		return nil, err
	}
	if err := ck.restore(a.Store); err != nil {
		return nil, err
	}
	return a, nil
}
