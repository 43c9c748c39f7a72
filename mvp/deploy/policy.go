package deploy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/xla"
)

// File names inside a policy directory.
const (
	ConfigFile  = "policy.json"
	WeightsFile = "weights.bin"
)

// TensorEntry locates one tensor inside weights.bin.
type TensorEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	// Offset is in float32 elements from the start of weights.bin.
	Offset int `json:"offset"`
}

// file is the JSON content of policy.json.
type file struct {
	Config
	DType   string        `json:"dtype"`
	Tensors []TensorEntry `json:"tensors"`
	SHA256  string        `json:"weights_sha256"`
}

// Policy is a loaded policy: config plus weights, acting through one compiled graph per batch size.
type Policy struct {
	Config  Config
	weights map[string]*tensors.Tensor

	mu      sync.Mutex
	chosen  bool    // the way of acting is decided (chooseLocked)
	direct  *Direct // non-nil: Act computes directly, without a graph
	backend compute.Backend
	exec    *model.Exec
	store   *model.Store
}

// New checks weights against cfg (every tensor present, no extra, shapes equal, float32) and
// returns the policy. The tensors are used, not copied.
func New(cfg Config, weights map[string]*tensors.Tensor) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	want := cfg.WeightShapes()
	var problems []string
	for _, name := range sortedKeys(want) {
		t, ok := weights[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing tensor %q %v", name, want[name]))
		case t.DType() != dtypes.Float32:
			problems = append(problems, fmt.Sprintf("tensor %q is %s, want float32", name, t.DType()))
		case !slices.Equal(t.Shape().Dimensions, want[name]):
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v, the config implies %v", name, t.Shape().Dimensions, want[name]))
		}
	}
	for _, name := range sortedKeys(weights) {
		if _, ok := want[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected tensor %q (not used by this config)", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("deploy: weights do not match the policy config: %s", joinMax(problems, 6))
	}
	return &Policy{Config: cfg, weights: weights}, nil
}

// Weights returns the named tensors of the policy (shared, do not modify).
func (p *Policy) Weights() map[string]*tensors.Tensor { return p.weights }

// Store returns a model.Store holding copies of the weights under their names, as used by
// ActionFn. Each store can live on its own backend.
func (p *Policy) Store() (*model.Store, error) {
	store := model.NewStore()
	for _, name := range sortedKeys(p.weights) {
		t, err := p.weights[name].LocalClone()
		if err != nil {
			return nil, fmt.Errorf("deploy: weight %q: %w", name, err)
		}
		if _, err := store.CreateVariable("/"+name, t); err != nil {
			return nil, fmt.Errorf("deploy: weight %q: %w", name, err)
		}
	}
	return store, nil
}

// ActionFn returns the action function as a graph function for model.NewExec on a store from
// Store: (obs [B, ObsDim], noise [B, N, h·ActDim]) → chunk [B, h·ActDim].
func (p *Policy) ActionFn() func(scope *model.Scope, obs, noise *Node) *Node {
	return func(scope *model.Scope, obs, noise *Node) *Node {
		store := scope.Store()
		w := func(name string) *Node {
			v := store.GetVariable("/" + name)
			if v == nil {
				panic(fmt.Errorf("deploy: weight %q is not in the store", name))
			}
			return v.NodeValue(obs.Graph())
		}
		return p.Config.ActionGraph(w, obs, noise)
	}
}

// SetBackend makes Act run the action graph on b.
//
// Without SetBackend or UseDirect, the first Act chooses the fastest way it knows: the graph-free
// Direct decision on a CPU with AVX-512 when neither $GOMLX_BACKEND is set nor a GPU is visible
// ($MVP_DIRECT=0 or 1 overrides this, see DirectEnv), else the action graph on xla.Default()
// ($GOMLX_BACKEND, else the fastest backend found: CUDA with a visible GPU, XLA's CPU plugin where
// it is installed, else the go backend).
func (p *Policy) SetBackend(b compute.Backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend, p.exec, p.direct, p.chosen = b, nil, nil, true
}

// UseDirect makes Act compute the decision directly (see Direct), on any CPU; it fails for a
// policy Direct cannot compute.
func (p *Policy) UseDirect() error {
	d, err := p.Direct()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend, p.exec, p.direct, p.chosen = nil, nil, d, true
	return nil
}

// Runtime names how Act computes the decision: "direct" (Direct, with its kernels), or the name of
// the graph's backend. It makes the choice Act would make if none is made yet.
func (p *Policy) Runtime() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.chooseLocked(); err != nil {
		return "", err
	}
	if p.direct != nil {
		return "direct (" + kernelsName() + ")", nil
	}
	return p.backend.Name(), nil
}

// chooseLocked decides, once, between Direct and the graph (see SetBackend).
func (p *Policy) chooseLocked() error {
	if !p.chosen {
		p.chosen = true
		if DirectByDefault(os.Getenv(compute.ConfigEnvVar) != "") && DirectSupported(&p.Config) == nil {
			d, err := p.Direct()
			if err != nil {
				return err
			}
			p.direct = d
			return nil
		}
	}
	if p.direct != nil {
		return nil
	}
	return p.compileLocked()
}

// Act returns the selected action chunk per observation: obs holds B·ObsDim values (row-major),
// noise B·N·h·ActDim standard normal values (N = Candidates). The result holds B·h·ActDim values.
// Acting is a pure function of (weights, obs, noise).
func (p *Policy) Act(obs, noise []float32) ([]float32, error) {
	c := &p.Config
	b, err := c.checkActInput(obs, noise)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.chooseLocked(); err != nil {
		return nil, err
	}
	if p.direct != nil {
		return p.direct.act(b, obs, noise), nil
	}
	out, err := p.exec.Call(
		tensors.FromFlatDataAndDimensions(obs, b, c.ObsDim),
		tensors.FromFlatDataAndDimensions(noise, b, c.Candidates, c.ChunkDim()))
	if err != nil {
		return nil, fmt.Errorf("deploy: acting: %w", err)
	}
	return tensors.CopyFlatData[float32](out[0])
}

// checkActInput is the input check of Act: the batch size, or an error naming the input.
func (c *Config) checkActInput(obs, noise []float32) (int, error) {
	if len(obs) == 0 || len(obs)%c.ObsDim != 0 {
		return 0, fmt.Errorf("deploy: observation has %d values, not a positive multiple of obs_dim=%d", len(obs), c.ObsDim)
	}
	b := len(obs) / c.ObsDim
	if want := b * c.Candidates * c.ChunkDim(); len(noise) != want {
		return 0, fmt.Errorf("deploy: noise has %d values, want %d (batch %d × candidates %d × chunk %d)",
			len(noise), want, b, c.Candidates, c.ChunkDim())
	}
	for i, v := range obs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("deploy: observation value %d (row %d, feature %d) is %v", i, i/c.ObsDim, i%c.ObsDim, v)
		}
	}
	return b, nil
}

// ActTensor is Act for tensors: obs [B, ObsDim] and noise [B, N, h·ActDim], both float32; a wrong
// dtype or shape is an error naming the input.
func (p *Policy) ActTensor(obs, noise *tensors.Tensor) (*tensors.Tensor, error) {
	c := &p.Config
	if err := checkInput("observation", obs, 2, c.ObsDim); err != nil {
		return nil, err
	}
	b := obs.Shape().Dim(0)
	if err := checkInput("noise", noise, 3, b, c.Candidates, c.ChunkDim()); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.chooseLocked(); err != nil {
		return nil, err
	}
	if p.direct != nil {
		o, err := tensors.CopyFlatData[float32](obs)
		if err != nil {
			return nil, fmt.Errorf("deploy: observation: %w", err)
		}
		n, err := tensors.CopyFlatData[float32](noise)
		if err != nil {
			return nil, fmt.Errorf("deploy: noise: %w", err)
		}
		if _, err := c.checkActInput(o, n); err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(p.direct.act(b, o, n), b, c.ChunkDim()), nil
	}
	out, err := p.exec.Call(obs, noise)
	if err != nil {
		return nil, fmt.Errorf("deploy: acting: %w", err)
	}
	return out[0], nil
}

func checkInput(what string, t *tensors.Tensor, rank int, dims ...int) error {
	if t.DType() != dtypes.Float32 {
		return fmt.Errorf("deploy: %s must be float32, got %s", what, t.Shape())
	}
	if t.Rank() != rank {
		return fmt.Errorf("deploy: %s must have rank %d (trailing axes %v), got %s", what, rank, dims, t.Shape())
	}
	// dims are the sizes of the trailing axes.
	for i := range dims {
		axis := rank - len(dims) + i
		if t.Shape().Dim(axis) != dims[i] {
			return fmt.Errorf("deploy: %s axis %d is %d, want %d (shape %s)", what, axis, t.Shape().Dim(axis), dims[i], t.Shape())
		}
	}
	return nil
}

func (p *Policy) compileLocked() error {
	if p.exec != nil {
		return nil
	}
	if p.backend == nil {
		b, err := xla.Default()
		if err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
		p.backend = b
	}
	store, err := p.Store()
	if err != nil {
		return err
	}
	exec, err := model.NewExec(p.backend, store, p.ActionFn())
	if err != nil {
		return fmt.Errorf("deploy: building the action function: %w", err)
	}
	p.store, p.exec = store, exec.WithName("deploy_act")
	return nil
}

// Noise returns B·N·h·ActDim standard normal values drawn from a PCG stream seeded with seed:
// the host-side noise for Act when the caller has no noise source of its own.
func (p *Policy) Noise(batch int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x6d7670))
	out := make([]float32, batch*p.Config.Candidates*p.Config.ChunkDim())
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// Save writes the policy to dir (created if needed) as policy.json and weights.bin. Each file is
// written to a temporary name and renamed, so an interrupted save never leaves a mixed policy.
func (p *Policy) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	f := file{Config: p.Config, DType: "float32"}
	h := sha256.New()
	var buf []byte
	offset := 0
	for _, name := range sortedKeys(p.weights) {
		t := p.weights[name]
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return fmt.Errorf("deploy: weight %q: %w", name, err)
		}
		f.Tensors = append(f.Tensors, TensorEntry{Name: name, Shape: slices.Clone(t.Shape().Dimensions), Offset: offset})
		for _, v := range data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		offset += len(data)
	}
	h.Write(buf)
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	js, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return fmt.Errorf("deploy: encoding %s: %w", ConfigFile, err)
	}
	// Weights first: a policy.json is only ever next to the weights it describes.
	if err := writeAtomic(filepath.Join(dir, WeightsFile), buf); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ConfigFile), append(js, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("deploy: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("deploy: writing %s: %w", path, err)
	}
	return nil
}

// Load reads a policy directory written by Save, checking the format, the weights' checksum and
// size, and that the tensors match the config.
func Load(dir string) (*Policy, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	js, err := os.ReadFile(cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("deploy: %s not found: is %q a policy directory written by `mvp export --format gomlx`?", cfgPath, dir)
		}
		return nil, fmt.Errorf("deploy: %w", err)
	}
	var f file
	if err := json.Unmarshal(js, &f); err != nil {
		return nil, fmt.Errorf("deploy: parsing %s: %w", cfgPath, err)
	}
	if f.Format != FormatName {
		return nil, fmt.Errorf("deploy: %s: format is %q, want %q", cfgPath, f.Format, FormatName)
	}
	if f.DType != "float32" {
		return nil, fmt.Errorf("deploy: %s: dtype %q is not supported (float32 only)", cfgPath, f.DType)
	}
	wPath := filepath.Join(dir, WeightsFile)
	raw, err := os.ReadFile(wPath)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("deploy: %s has %d bytes, not a whole number of float32 values (truncated?)", wPath, len(raw))
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
		return nil, fmt.Errorf("deploy: %s checksum %s does not match %s's weights_sha256 %s (corrupt, truncated or from another export)", wPath, got[:12], ConfigFile, short(f.SHA256))
	}
	n := len(raw) / 4
	weights := make(map[string]*tensors.Tensor, len(f.Tensors))
	for _, e := range f.Tensors {
		size := 1
		for _, d := range e.Shape {
			if d <= 0 {
				return nil, fmt.Errorf("deploy: %s: tensor %q has invalid shape %v", cfgPath, e.Name, e.Shape)
			}
			size *= d
		}
		if e.Offset < 0 || e.Offset+size > n {
			return nil, fmt.Errorf("deploy: %s: tensor %q [%d, %d) lies outside %s (%d values)", cfgPath, e.Name, e.Offset, e.Offset+size, wPath, n)
		}
		if _, dup := weights[e.Name]; dup {
			return nil, fmt.Errorf("deploy: %s: tensor %q listed twice", cfgPath, e.Name)
		}
		data := make([]float32, size)
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(e.Offset+i):]))
		}
		weights[e.Name] = tensors.FromFlatDataAndDimensions(data, e.Shape...)
	}
	p, err := New(f.Config, weights)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	return p, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinMax(items []string, max int) string {
	s := ""
	for i, it := range items {
		if i == max {
			return s + fmt.Sprintf("; … and %d more", len(items)-max)
		}
		if i > 0 {
			s += "; "
		}
		s += it
	}
	return s
}
