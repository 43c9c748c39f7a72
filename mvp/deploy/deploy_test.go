package deploy

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// testConfig is a small MVP-shaped policy: one-step mean flow, 2-member LayerNorm critic.
func testConfig() Config {
	return Config{
		Format: FormatName, Version: FormatVersion, Kind: "mvp",
		ObsDim: 4, ActDim: 2, Horizon: 3, Candidates: 5, ActionLow: -1, ActionHigh: 1,
		Generator: GeneratorConfig{Type: GenMeanFlow, Steps: 1, TimeInput: "t,r", TimeFeatures: "raw",
			Net: MLPConfig{Widths: []int{16, 16}, Activation: "gelu"}},
		Critic: &CriticConfig{Ensemble: 2, Net: MLPConfig{Widths: []int{16, 16}, Activation: "gelu", LayerNorm: true, LayerNormEpsilon: 1e-6}},
	}
}

// randomPolicy fills cfg's weights with N(0, scale²) values (LayerNorm gains around 1).
func randomPolicy(t *testing.T, cfg Config, seed uint64) *Policy {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 5))
	weights := map[string]*tensors.Tensor{}
	for _, name := range sortedKeys(cfg.WeightShapes()) {
		dims := cfg.WeightShapes()[name]
		n := 1
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64() * 0.4)
			if strings.HasSuffix(name, "norm_gain") {
				data[i] += 1
			}
		}
		weights[name] = tensors.FromFlatDataAndDimensions(data, dims...)
	}
	p, err := New(cfg, weights)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randn(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// reference is an independent float64 implementation of the action function.
type reference struct {
	cfg Config
	w   map[string][]float64
}

func newReference(p *Policy) *reference {
	ref := &reference{cfg: p.Config, w: map[string][]float64{}}
	for name, t := range p.Weights() {
		data := tensors.MustCopyFlatData[float32](t)
		ref.w[name] = make([]float64, len(data))
		for i, v := range data {
			ref.w[name][i] = float64(v)
		}
	}
	return ref
}

func (r *reference) mlp(prefix string, m MLPConfig, x []float64) []float64 {
	layer := func(p string, x []float64, out int) []float64 {
		w, b := r.w[p+"weights"], r.w[p+"biases"]
		y := make([]float64, out)
		for j := range out {
			y[j] = b[j]
			for i := range x {
				y[j] += x[i] * w[i*out+j]
			}
		}
		return y
	}
	for i, width := range m.Widths {
		p := prefix + "/layer_" + string(rune('0'+i)) + "/"
		x = layer(p, x, width)
		for j := range x {
			x[j] = 0.5 * x[j] * (1 + math.Erf(x[j]/math.Sqrt2)) // exact GELU
		}
		if m.LayerNorm {
			mean, variance := 0.0, 0.0
			for _, v := range x {
				mean += v
			}
			mean /= float64(len(x))
			for _, v := range x {
				variance += (v - mean) * (v - mean)
			}
			variance /= float64(len(x))
			for j := range x {
				x[j] = (x[j]-mean)/math.Sqrt(variance+m.LayerNormEpsilon)*r.w[p+"norm_gain"][j] + r.w[p+"norm_offset"][j]
			}
		}
	}
	return layer(prefix+"/output/", x, len(r.w[prefix+"/output/biases"]))
}

// act returns the selected chunk for one observation and its N noise rows.
func (r *reference) act(obs []float64, noise [][]float64) []float64 {
	c := r.cfg
	best, bestQ := []float64(nil), math.Inf(-1)
	for _, eps := range noise {
		in := append(append(append([]float64{}, eps...), 0, 1), obs...) // [a, t, r, s]
		u := r.mlp(ActorPrefix, c.Generator.Net, in)
		a := make([]float64, len(eps))
		for j := range a {
			a[j] = math.Min(math.Max(eps[j]+u[j], c.ActionLow), c.ActionHigh)
		}
		q := 0.0
		for e := range c.Critic.Ensemble {
			q += r.mlp(CriticMemberPrefix(e), c.Critic.Net, append(append([]float64{}, obs...), a...))[0]
		}
		if q /= float64(c.Critic.Ensemble); q > bestQ {
			best, bestQ = a, q
		}
	}
	return best
}

// TestActMatchesFloat64Reference checks the graph and the direct decision against a plain-Go
// float64 implementation of one-step generation, clipping, the critic ensemble and argmax.
func TestActMatchesFloat64Reference(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			p := randomPolicy(t, testConfig(), 1)
			if direct {
				if err := p.UseDirect(); err != nil {
					t.Fatal(err)
				}
			} else {
				p.SetBackend(testBackend(t))
			}
			actMatchesReference(t, p)
		})
	}
}

func actMatchesReference(t *testing.T, p *Policy) {
	c := p.Config
	const batch = 7
	r := rand.New(rand.NewPCG(2, 3))
	obs, noise := randn(r, batch*c.ObsDim), randn(r, batch*c.Candidates*c.ChunkDim())
	got, err := p.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}
	ref := newReference(p)
	worst := 0.0
	for b := range batch {
		o := make([]float64, c.ObsDim)
		for i := range o {
			o[i] = float64(obs[b*c.ObsDim+i])
		}
		rows := make([][]float64, c.Candidates)
		for n := range rows {
			rows[n] = make([]float64, c.ChunkDim())
			for j := range rows[n] {
				rows[n][j] = float64(noise[(b*c.Candidates+n)*c.ChunkDim()+j])
			}
		}
		want := ref.act(o, rows)
		for j, v := range want {
			worst = max(worst, math.Abs(v-float64(got[b*c.ChunkDim()+j])))
		}
	}
	rt, _ := p.Runtime()
	t.Logf("max |%s − float64 reference| = %.3g", rt, worst)
	if worst > 1e-5 {
		t.Errorf("action function differs from the float64 reference by %g", worst)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := testConfig()
	cfg.ObsNorm = &Normalizer{Shift: []float32{1, 2, 3, 4}, Scale: []float32{1, 0.5, 2, 4}}
	cfg.ActNorm = &Normalizer{Shift: []float32{0.5, -0.5}, Scale: []float32{2, 3}}
	p := randomPolicy(t, cfg, 4)
	dir := filepath.Join(t.TempDir(), "policy")
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	q, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	obs, noise := randn(r, 3*cfg.ObsDim), randn(r, 3*cfg.Candidates*cfg.ChunkDim())
	a1, err := p.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := q.Act(obs, noise)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a1 {
		if math.Float32bits(a1[i]) != math.Float32bits(a2[i]) {
			t.Fatalf("loaded policy acts differently at %d: %v vs %v", i, a2[i], a1[i])
		}
	}
	// The action normaliser maps the box [−1, 1] to [shift − scale, shift + scale] per step.
	for i, v := range a1 {
		j := i % cfg.ActDim
		lo, hi := cfg.ActNorm.Shift[j]-cfg.ActNorm.Scale[j], cfg.ActNorm.Shift[j]+cfg.ActNorm.Scale[j]
		if v < lo-1e-6 || v > hi+1e-6 {
			t.Errorf("action %d = %v outside [%v, %v]", i, v, lo, hi)
		}
	}
	// Acting is a pure function of its inputs: other noise, other actions; same noise, same actions.
	a3, _ := p.Act(obs, randn(r, len(noise)))
	same := true
	for i := range a1 {
		same = same && a1[i] == a3[i]
	}
	if same {
		t.Error("different noise gave identical actions")
	}
}

func TestActBadInput(t *testing.T) {
	p := randomPolicy(t, testConfig(), 1)
	c := p.Config
	noise1 := make([]float32, c.Candidates*c.ChunkDim())
	for _, tc := range []struct {
		name       string
		obs, noise []float32
		want       string
	}{
		{"obs size", make([]float32, c.ObsDim+1), noise1, "not a positive multiple of obs_dim=4"},
		{"empty obs", nil, noise1, "observation has 0 values"},
		{"noise size", make([]float32, c.ObsDim), noise1[1:], "noise has 29 values, want 30"},
		{"NaN obs", []float32{0, float32(math.NaN()), 0, 0}, noise1, "row 0, feature 1"},
	} {
		if _, err := p.Act(tc.obs, tc.noise); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	okNoise := tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.Candidates, c.ChunkDim()))
	for _, tc := range []struct {
		name       string
		obs, noise *tensors.Tensor
		want       string
	}{
		{"float64 obs", tensors.FromShape(shapes.Make(dtypes.Float64, 2, c.ObsDim)), okNoise, "observation must be float32"},
		{"obs width", tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.ObsDim+2)), okNoise, "observation axis 1 is 6, want 4"},
		{"obs rank", tensors.FromShape(shapes.Make(dtypes.Float32, c.ObsDim)), okNoise, "observation must have rank 2"},
		{"noise candidates", tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.ObsDim)),
			tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.Candidates+1, c.ChunkDim())), "noise axis 1 is 6, want 5"},
		{"noise batch", tensors.FromShape(shapes.Make(dtypes.Float32, 3, c.ObsDim)), okNoise, "noise axis 0 is 2, want 3"},
	} {
		if _, err := p.ActTensor(tc.obs, tc.noise); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	out, err := p.ActTensor(tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.ObsDim)), okNoise)
	if err != nil || !slices.Equal(out.Shape().Dimensions, []int{2, c.ChunkDim()}) {
		t.Errorf("ActTensor: got %v, %v; want a [2, %d] action", out, err, c.ChunkDim())
	}
}

func TestLoadBadPolicy(t *testing.T) {
	p := randomPolicy(t, testConfig(), 1)
	fresh := func() string {
		dir := filepath.Join(t.TempDir(), "p")
		if err := p.Save(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	editJSON := func(dir string, edit func(m map[string]any)) {
		path := filepath.Join(dir, ConfigFile)
		raw, _ := os.ReadFile(path)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		raw, _ = json.Marshal(m)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		break_ func(dir string)
		want   string
	}{
		{"missing dir", func(dir string) { os.RemoveAll(dir) }, "policy.json not found"},
		{"missing weights", func(dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }, "weights.bin: no such file"},
		{"truncated weights", func(dir string) {
			path := filepath.Join(dir, WeightsFile)
			raw, _ := os.ReadFile(path)
			os.WriteFile(path, raw[:len(raw)-2], 0o644)
		}, "not a whole number of float32"},
		{"corrupt weights", func(dir string) {
			path := filepath.Join(dir, WeightsFile)
			raw, _ := os.ReadFile(path)
			raw[100] ^= 0xff
			os.WriteFile(path, raw, 0o644)
		}, "checksum"},
		{"bad json", func(dir string) { os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{"), 0o644) }, "parsing"},
		{"other format", func(dir string) { editJSON(dir, func(m map[string]any) { m["format"] = "onnx" }) }, `format is "onnx"`},
		{"mismatched widths", func(dir string) {
			editJSON(dir, func(m map[string]any) {
				m["generator"].(map[string]any)["net"].(map[string]any)["widths"] = []int{16, 8}
			})
		}, `"actor/layer_1/weights" has shape [16 16], the config implies [16 8]`},
		{"mismatched obs dim", func(dir string) { editJSON(dir, func(m map[string]any) { m["obs_dim"] = 5 }) }, "the config implies"},
		{"one more member", func(dir string) {
			editJSON(dir, func(m map[string]any) { m["critic"].(map[string]any)["ensemble"] = 3 })
		}, `missing tensor "critic/q2/layer_0/biases"`},
		{"no critic", func(dir string) { editJSON(dir, func(m map[string]any) { delete(m, "critic") }) }, `unexpected tensor "critic/q0/layer_0/biases"`},
		{"bad generator", func(dir string) {
			editJSON(dir, func(m map[string]any) { m["generator"].(map[string]any)["type"] = "diffusion" })
		}, `generator.type "diffusion"`},
	} {
		dir := fresh()
		tc.break_(dir)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
