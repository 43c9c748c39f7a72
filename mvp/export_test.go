package mvp_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/datasets"
	. "github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
)

// smallTrainedAgent returns an agent of kind with small networks after a few updates on random
// data, so that every weight (LayerNorm included) has moved from its initial value.
func smallTrainedAgent(t *testing.T, kind string) *Agent {
	t.Helper()
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultAgentConfig(kind, 5, 2)
	cfg.Horizon = min(cfg.Horizon, 3)
	cfg.Candidates = min(cfg.Candidates, 4)
	cfg.ActorHidden = []int{16, 16}
	cfg.Critic.Hidden = []int{16, 16}
	cfg.BatchSize = 8
	cfg.LearningRate = 1e-2
	cfg.Seed = 11
	a, err := NewAgent(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := cfg.BatchSize
	for range 3 {
		b := &Batch{Size: n,
			Obs: randn(r, n*cfg.ObsDim), Actions: randn(r, n*cfg.ChunkDim()), ChunkReward: randn(r, n),
			NextObs: randn(r, n*cfg.ObsDim), Mask: ones(n), Valid: ones(n * cfg.Horizon)}
		for i := range b.Actions {
			b.Actions[i] = float32(math.Tanh(float64(b.Actions[i])))
		}
		if _, err := a.Update(b); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func randn(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func ones(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// trainingSideAct runs the agent's own generate-and-select graph on given noise [B·N, chunk].
func trainingSideAct(t *testing.T, a *Agent, obs, noise []float32) []float32 {
	t.Helper()
	c := a.Config
	b := len(obs) / c.ObsDim
	exec, err := model.NewExec(a.Backend, a.Store, func(scope *model.Scope, s, eps *Node) *Node {
		return a.SelectBestOfN(scope, s, eps)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(obs, b, c.ObsDim),
		tensors.FromFlatDataAndDimensions(noise, b*c.Candidates, c.ChunkDim()))
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// TestExportPolicyBitIdentical checks that the deploy package, which rebuilds the action function
// from its own code, acts exactly like the agent's SelectBestOfN on the go backend, before and
// after a save → load round trip.
func TestExportPolicyBitIdentical(t *testing.T) {
	for _, kind := range []string{KindMVP, KindQC, KindBC} {
		t.Run(kind, func(t *testing.T) {
			a := smallTrainedAgent(t, kind)
			p, err := a.ExportPolicy(nil)
			if err != nil {
				t.Fatal(err)
			}
			p.SetBackend(a.Backend)
			const batch = 6
			r := rand.New(rand.NewPCG(9, 9))
			obs := randn(r, batch*a.Config.ObsDim)
			noise := randn(r, batch*a.Config.Candidates*a.Config.ChunkDim())
			want := trainingSideAct(t, a, obs, noise)
			got, err := p.Act(obs, noise)
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "deploy vs agent", got, want)

			dir := filepath.Join(t.TempDir(), "policy")
			if err := p.Save(dir); err != nil {
				t.Fatal(err)
			}
			loaded, err := deploy.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			loaded.SetBackend(a.Backend)
			got2, err := loaded.Act(obs, noise)
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "loaded policy vs agent", got2, want)

			// Selection is not trivial: with a critic, some state picks a candidate other than the first.
			if a.Config.UseCritic {
				first := trainingSideAct(t, &Agent{Config: withoutCritic(a.Config), Store: a.Store, Backend: a.Backend, Gen: a.Gen}, obs, noise)
				if maxDiff(first, want) == 0 {
					t.Errorf("every state selected its first candidate: the critic did not choose")
				}
			}

			// The policy holds copies: further training leaves it unchanged.
			c := a.Config
			n := c.BatchSize
			if _, err := a.Update(&Batch{Size: n, Obs: randn(r, n*c.ObsDim), Actions: make([]float32, n*c.ChunkDim()),
				ChunkReward: randn(r, n), NextObs: randn(r, n*c.ObsDim), Mask: ones(n), Valid: ones(n * c.Horizon)}); err != nil {
				t.Fatal(err)
			}
			got3, err := p.Act(obs, noise)
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "exported policy after the agent trained on", got3, want)
			if maxDiff(trainingSideAct(t, a, obs, noise), want) == 0 {
				t.Errorf("the update did not change the agent's actions, so the copy check is void")
			}
		})
	}
}

func withoutCritic(c AgentConfig) AgentConfig {
	c.UseCritic = false
	return c
}

// TestExportPolicyFromCheckpoint exports through the checkpoint the training loop writes, with a
// normalisation: observations are normalised and actions mapped back inside the policy.
func TestExportPolicyFromCheckpoint(t *testing.T) {
	a := smallTrainedAgent(t, KindMVP)
	dir := t.TempDir()
	path, err := SaveCheckpoint(dir, 3, a, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Config
	norm := &datasets.Normalization{
		Obs: &datasets.Normalizer{Kind: datasets.NormStandard, Shift: []float32{1, -1, 0.5, 0, 2}, Scale: []float32{2, 0.5, 1, 3, 1}},
		Act: &datasets.Normalizer{Kind: datasets.NormMinMax, Shift: []float32{0.1, -0.2}, Scale: []float32{2, 0.5}},
	}
	p, err := PolicyFromCheckpoint(ck, norm)
	if err != nil {
		t.Fatal(err)
	}
	p.SetBackend(a.Backend)
	const batch = 3
	r := rand.New(rand.NewPCG(1, 2))
	raw := randn(r, batch*c.ObsDim)
	noise := randn(r, batch*c.Candidates*c.ChunkDim())
	normed := append([]float32(nil), raw...)
	norm.Obs.Apply(normed)
	want := trainingSideAct(t, a, normed, noise)
	norm.Act.Invert(want)
	got, err := p.Act(raw, noise)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got, want); d > 1e-6 {
		t.Errorf("normalised policy differs from normalise → agent → invert by %g", d)
	}
}

func assertBitIdentical(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d is %v, want %v (max diff %g): not bit-identical", what, i, got[i], want[i], maxDiff(got, want))
		}
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// customGen is a user generator the deploy package cannot rebuild.
type customGen struct{ *BCGenerator }

func TestExportPolicyCustomGenerator(t *testing.T) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultAgentConfig(KindBC, 3, 2)
	cfg.ActorHidden = []int{8}
	cfg.Generator = customGen{NewBCGenerator(cfg.ActorHidden, cfg.ChunkDim())}
	a, err := NewAgent(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExportPolicy(nil); err == nil || !strings.Contains(err.Error(), "has no deployable form") {
		t.Errorf("custom generator: got %v, want an error saying it cannot be deployed", err)
	}
}
