package deploy

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomvp/gomvp/xla"
)

// paperConfig has method.md's sizes on OGBench cube-double: obs 40, act 5, h = 5, N = 32,
// 4×512 GELU actor, 2 × 4×512 LayerNorm critics.
func paperConfig() Config {
	c := testConfig()
	c.ObsDim, c.ActDim, c.Horizon, c.Candidates = 40, 5, 5, 32
	c.Generator.Net.Widths = []int{512, 512, 512, 512}
	c.Critic.Net.Widths = []int{512, 512, 512, 512}
	return c
}

// BenchmarkActGo is one batch-1 decision of the deployed policy on the go backend (default config).
func BenchmarkActGo(b *testing.B) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		b.Fatal(err)
	}
	benchActOn(b, backend)
}

// benchActOn times Policy.Act at paperConfig's sizes on backend, after one warm-up call that
// compiles the graph.
func benchActOn(b *testing.B, backend compute.Backend) {
	p := randomPolicy(&testing.T{}, paperConfig(), 1)
	p.SetBackend(backend)
	r := rand.New(rand.NewPCG(1, 1))
	obs, noise := randn(r, p.Config.ObsDim), randn(r, p.Config.Candidates*p.Config.ChunkDim())
	if _, err := p.Act(obs, noise); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := p.Act(obs, noise); err != nil {
			b.Fatal(err)
		}
	}
}
