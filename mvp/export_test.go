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
	return smallTrainedAgentWith(t, kind, nil)
}

// smallTrainedAgentWith is smallTrainedAgent with the spec changed by tweak before training.
func smallTrainedAgentWith(t *testing.T, kind string, tweak func(*Spec)) *Agent {
	t.Helper()
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := DefaultSpec(kind, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Horizon = min(cfg.Horizon, 3)
	cfg.Candidates = min(cfg.Candidates, 4)
	cfg.Generator.Hidden = []int{16, 16}
	cfg.Critic.Hidden = []int{16, 16}
	cfg.BatchSize = 8
	cfg.LearningRate = 1e-2
	cfg.Seed = 11
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := NewAgent(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := cfg.BatchSize
	for range 3 {
		b := &datasets.Batch{Size: n,
			Observations: randn(r, n*cfg.ObsDim), Actions: randn(r, n*cfg.ChunkDim()), Rewards: randn(r, n),
			NextObservations: randn(r, n*cfg.ObsDim), Masks: ones(n), Valid: ones(n * cfg.Horizon)}
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
	c := a.Spec
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
			p, err := a.ExportPolicy()
			if err != nil {
				t.Fatal(err)
			}
			p.SetBackend(a.Backend)
			const batch = 6
			r := rand.New(rand.NewPCG(9, 9))
			obs := randn(r, batch*a.Spec.ObsDim)
			noise := randn(r, batch*a.Spec.Candidates*a.Spec.ChunkDim())
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
			if a.Spec.UseCritic {
				first := trainingSideAct(t, &Agent{Spec: withoutCritic(a.Spec), Store: a.Store, Backend: a.Backend, Gen: a.Gen}, obs, noise)
				if maxDiff(first, want) == 0 {
					t.Errorf("every state selected its first candidate: the critic did not choose")
				}
			}

			// The policy holds copies: further training leaves it unchanged.
			c := a.Spec
			n := c.BatchSize
			if _, err := a.Update(&datasets.Batch{Size: n, Observations: randn(r, n*c.ObsDim), Actions: make([]float32, n*c.ChunkDim()),
				Rewards: randn(r, n), NextObservations: randn(r, n*c.ObsDim), Masks: ones(n), Valid: ones(n * c.Horizon)}); err != nil {
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

func withoutCritic(c Spec) Spec {
	c.UseCritic = false
	return c
}

// TestNonDefaultGeneratorTravels trains agents whose generators differ from their kind's defaults
// (Fourier time features, (t, r − t) input, k-step sampling, FQL's α and K), checkpoints them, and checks that
// the agent LoadAgent rebuilds and the policy PolicyFromCheckpoint exports act exactly like the
// trained agent: same chunks for the same noise, and the same Act stream.
func TestNonDefaultGeneratorTravels(t *testing.T) {
	for name, tweak := range map[string]func(*Spec){
		"mvp-fourier-k3": func(s *Spec) {
			s.Generator.TimeFeatures, s.Generator.FourierFrequencies = "fourier", 3
			s.Generator.TimeInput, s.Generator.Steps, s.Generator.Lambda = "t,r-t", 3, 0.5
		},
		"qc-fourier-k4": func(s *Spec) {
			s.Kind = KindQC
			s.Generator = func() GeneratorSpec { d, _ := DefaultSpec(KindQC, 1, 1); return d.Generator }()
			s.Generator.Hidden = []int{16, 16}
			s.Generator.TimeFeatures, s.Generator.FourierFrequencies, s.Generator.Steps = "fourier", 2, 4
		},
		"qc-fql-alpha7-k4": func(s *Spec) {
			d, _ := DefaultSpec(KindQCFQL, 1, 1)
			s.Kind, s.Candidates, s.Generator = KindQCFQL, d.Candidates, d.Generator
			s.Generator.Hidden = []int{16, 16}
			s.Generator.Steps, s.Generator.FQL.Alpha, s.Generator.FQL.NormalizeQLoss = 4, 7, true
		},
	} {
		t.Run(name, func(t *testing.T) {
			a := smallTrainedAgentWith(t, KindMVP, tweak)
			path, err := SaveCheckpoint(t.TempDir(), 3, a, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			ck, err := ReadCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := SpecDiff(a.Spec, ck.Spec); len(d) > 0 {
				t.Fatalf("checkpoint spec differs from the trained agent's: %v", d)
			}
			c := a.Spec
			// The tweaked generator is not the kind's default, so the checks below are not void.
			def, _ := DefaultSpec(c.Kind, c.ObsDim, c.ActDim)
			def.Generator.Hidden = c.Generator.Hidden
			if len(SpecDiff(def, c)) == 0 {
				t.Fatal("the tweaked spec equals the kind's defaults")
			}
			r := rand.New(rand.NewPCG(5, 6))
			const batch = 4
			obs := randn(r, batch*c.ObsDim)
			noise := randn(r, batch*c.Candidates*c.ChunkDim())
			want := trainingSideAct(t, a, obs, noise)

			loaded, err := LoadAgent(a.Backend, ck)
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "loaded agent vs trained agent", trainingSideAct(t, loaded, obs, noise), want)
			act1, err := a.Act(obs, NewActRNG(8))
			if err != nil {
				t.Fatal(err)
			}
			act2, err := loaded.Act(obs, NewActRNG(8))
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "loaded agent's Act (evaluation) vs trained agent's", act2, act1)

			p, err := PolicyFromCheckpoint(ck)
			if c.Generator.Type == GeneratorFQL {
				// FQL's one-step policy has no deployable form: exporting it must say so.
				if err == nil || !strings.Contains(err.Error(), "no deployable form") {
					t.Fatalf("exporting FQL: %v, want an error saying it has no deployable form", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.SetBackend(a.Backend)
			got, err := p.Act(obs, noise)
			if err != nil {
				t.Fatal(err)
			}
			assertBitIdentical(t, "exported policy vs trained agent", got, want)

		})
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

// TestExportPolicyUndeployableGenerator registers a generator type deploy does not know: the
// agent trains, but exporting it is an error naming the type.
func TestExportPolicyUndeployableGenerator(t *testing.T) {
	backend, err := xla.NewBackend(xla.DefaultGoConfig)
	if err != nil {
		t.Fatal(err)
	}
	const typ = "test-custom-regression"
	if err := RegisterGenerator(typ, func(s Spec) (Generator, error) {
		return NewBCGenerator(s.Generator.Hidden, s.ChunkDim()), nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg, err := DefaultSpec(KindBC, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Generator.Hidden = []int{8}
	cfg.Generator.Type = typ
	a, err := NewAgent(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExportPolicy(); err == nil || !strings.Contains(err.Error(), "has no deployable form") || !strings.Contains(err.Error(), typ) {
		t.Errorf("custom generator: got %v, want an error saying %s cannot be deployed", err, typ)
	}
}
