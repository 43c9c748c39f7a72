package deploy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomvp/gomvp/mvp/deploy/internal/kernels"
	"github.com/gomvp/gomvp/xla"
)

// testBackend is the backend the graph tests run on: xla.Default() (the go backend in the
// pure-Go test build).
func testBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := xla.Default()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRuntimeChoice checks how a policy chooses to act: directly on an AVX-512 CPU unless a backend
// is asked for ($GOMLX_BACKEND or SetBackend); UseDirect anywhere; $MVP_DIRECT over the default.
func TestRuntimeChoice(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	t.Setenv(DirectEnv, "")
	p := randomPolicy(t, testConfig(), 1)
	rt, err := p.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if wantDirect := kernels.HasAsm() && !xla.GPUVisible(); strings.HasPrefix(rt, "direct") != wantDirect {
		t.Errorf("default runtime %q; direct expected: %v", rt, wantDirect)
	}
	p.SetBackend(testBackend(t))
	if rt, _ := p.Runtime(); strings.HasPrefix(rt, "direct") {
		t.Errorf("after SetBackend the runtime is %q, want the graph's backend", rt)
	}
	if err := p.UseDirect(); err != nil {
		t.Fatal(err)
	}
	if rt, _ := p.Runtime(); !strings.HasPrefix(rt, "direct") {
		t.Errorf("after UseDirect the runtime is %q", rt)
	}
	t.Setenv("GOMLX_BACKEND", xla.DefaultGoConfig)
	if rt, _ := randomPolicy(t, testConfig(), 1).Runtime(); strings.HasPrefix(rt, "direct") {
		t.Errorf("with $GOMLX_BACKEND set the runtime is %q, want that backend", rt)
	}
	t.Setenv(DirectEnv, "1") // $MVP_DIRECT=1 decides directly even so
	if rt, _ := randomPolicy(t, testConfig(), 1).Runtime(); !strings.HasPrefix(rt, "direct") {
		t.Errorf("with $MVP_DIRECT=1 the runtime is %q", rt)
	}
	t.Setenv("GOMLX_BACKEND", "")
	t.Setenv(DirectEnv, "0")
	if rt, _ := randomPolicy(t, testConfig(), 1).Runtime(); strings.HasPrefix(rt, "direct") {
		t.Errorf("with $MVP_DIRECT=0 the runtime is %q, want the graph's backend", rt)
	}
}

// TestDirectMatchesGraph holds the graph-free decision against the action graph (Policy.Act on the
// test backend) over every generator type, time encoding, critic layout and normaliser, with the
// assembly and with the Go loops, on one to three goroutines.
func TestDirectMatchesGraph(t *testing.T) {
	variants := map[string]func(c *Config){
		"mvp": func(c *Config) {},
		"mvp k=2 t,r-t wide": func(c *Config) {
			c.Generator.Steps, c.Generator.TimeInput = 2, "t,r-t"
			c.Generator.Net.Widths = []int{70, 130}
		},
		"flow k=3 fourier": func(c *Config) {
			c.Generator = GeneratorConfig{Type: GenFlow, Steps: 3, TimeFeatures: "fourier", FourierFrequencies: 4, Net: c.Generator.Net}
		},
		"regression relu": func(c *Config) {
			c.Generator = GeneratorConfig{Type: GenRegression, Net: MLPConfig{Widths: []int{32}, Activation: "relu"}}
		},
		"no critic":          func(c *Config) { c.Critic = nil },
		"one candidate":      func(c *Config) { c.Candidates = 1 },
		"three critics none": func(c *Config) { c.Critic.Ensemble = 3; c.Critic.Net.Activation = "none"; c.Candidates = 9 },
		"normalisers": func(c *Config) {
			c.ObsNorm = &Normalizer{Shift: []float32{1, 2, 3, 4}, Scale: []float32{1, 0.5, 2, 4}}
			c.ActNorm = &Normalizer{Shift: []float32{0.5, -0.5}, Scale: []float32{2, 3}}
		},
	}
	defer kernels.SetAsm(kernels.SetAsm(true))
	for name, change := range variants {
		cfg := testConfig()
		change(&cfg)
		p := randomPolicy(t, cfg, 7)
		p.SetBackend(testBackend(t)) // Act: the graph
		d, err := p.Direct()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := rand.New(rand.NewPCG(8, 9))
		for _, batch := range []int{1, 3} {
			obs, noise := randn(r, batch*cfg.ObsDim), randn(r, batch*cfg.Candidates*cfg.ChunkDim())
			want, err := p.Act(obs, noise)
			if err != nil {
				t.Fatalf("%s: graph: %v", name, err)
			}
			for _, asm := range []bool{false, true} {
				kernels.SetAsm(asm)
				var first []float32
				for threads := 1; threads <= 3; threads++ {
					d.SetThreads(threads)
					got, err := d.Act(obs, noise)
					if err != nil {
						t.Fatalf("%s: direct: %v", name, err)
					}
					worst := 0.0
					for i := range want {
						worst = max(worst, math.Abs(float64(got[i]-want[i])))
					}
					if worst > 2e-5 || len(got) != len(want) {
						t.Errorf("%s, batch %d, asm %v, %d threads: direct and graph differ by %g\n got %v\nwant %v",
							name, batch, asm, threads, worst, got, want)
					}
					// Every output element is computed the same way however the work is split.
					if first == nil {
						first = got
					} else if !slices.Equal(got, first) {
						t.Errorf("%s, batch %d, asm %v: %d threads give other bits than one", name, batch, asm, threads)
					}
				}
			}
		}
	}
}

// TestDirectMatchesFloat64Reference checks the direct decision against the independent float64
// implementation of deploy_test.go at the paper's widths (where the assembly takes every row).
func TestDirectMatchesFloat64Reference(t *testing.T) {
	cfg := testConfig()
	cfg.Generator.Net.Widths, cfg.Critic.Net.Widths = []int{512, 512}, []int{512, 512}
	cfg.Candidates = 32
	// Weights scaled by 0.4/√fan_in keep the 512-wide layers' outputs of order one.
	weights := map[string]*tensors.Tensor{}
	for name, w := range randomPolicy(t, cfg, 3).Weights() {
		data := tensors.MustCopyFlatData[float32](w)
		if dims := w.Shape().Dimensions; strings.HasSuffix(name, "weights") {
			for i := range data {
				data[i] /= float32(math.Sqrt(float64(dims[0])))
			}
		}
		weights[name] = tensors.FromFlatDataAndDimensions(data, w.Shape().Dimensions...)
	}
	p, err := New(cfg, weights)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Direct()
	if err != nil {
		t.Fatal(err)
	}
	ref := newReference(p)
	r := rand.New(rand.NewPCG(4, 5))
	for range 3 {
		obs, noise := randn(r, cfg.ObsDim), randn(r, cfg.Candidates*cfg.ChunkDim())
		got, err := d.Act(obs, noise)
		if err != nil {
			t.Fatal(err)
		}
		o := make([]float64, cfg.ObsDim)
		for i := range o {
			o[i] = float64(obs[i])
		}
		rows := make([][]float64, cfg.Candidates)
		for n := range rows {
			rows[n] = make([]float64, cfg.ChunkDim())
			for j := range rows[n] {
				rows[n][j] = float64(noise[n*cfg.ChunkDim()+j])
			}
		}
		for j, v := range ref.act(o, rows) {
			if diff := math.Abs(v - float64(got[j])); diff > 1e-4 {
				t.Fatalf("direct differs from the float64 reference at %d by %g (got %v, want %v)", j, diff, got[j], v)
			}
		}
	}
}

func TestDirectBadInputAndUnsupported(t *testing.T) {
	p := randomPolicy(t, testConfig(), 1)
	d, err := p.Direct()
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config
	noise1 := make([]float32, c.Candidates*c.ChunkDim())
	for _, tc := range []struct {
		obs, noise []float32
		want       string
	}{
		{make([]float32, c.ObsDim+1), noise1, "not a positive multiple of obs_dim=4"},
		{make([]float32, c.ObsDim), noise1[1:], "noise has 29 values, want 30"},
		{[]float32{0, 0, float32(math.Inf(1)), 0}, noise1, "row 0, feature 2"},
	} {
		if _, err := d.Act(tc.obs, tc.noise); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
	cfg := testConfig()
	cfg.Critic.Net.Activation = "tanh"
	if _, err := randomPolicy(t, cfg, 1).Direct(); err == nil || !strings.Contains(err.Error(), `activation "tanh"`) {
		t.Errorf("a tanh critic: got %v, want an error naming the activation", err)
	}
}

// BenchmarkActDirect is one batch-1 decision at the paper's sizes without a graph (compare
// BenchmarkActGo, BenchmarkActXLA).
func BenchmarkActDirect(b *testing.B) {
	p := randomPolicy(&testing.T{}, paperConfig(), 1)
	d, err := p.Direct()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	obs, noise := randn(r, p.Config.ObsDim), randn(r, p.Config.Candidates*p.Config.ChunkDim())
	for b.Loop() {
		if _, err := d.Act(obs, noise); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
	}
}
