package mvp

import (
	"github.com/gomvp/gomvp/datasets"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/xla"
)

func agentTestBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := xla.Default()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tinyConfig is a small agent for tests: 2×16 networks, h = 2, N = 4, batch 8.
func tinyAgentConfig(kind string) Spec {
	c, err := DefaultSpec(kind, 3, 2)
	if err != nil {
		panic(err)
	}
	c.Generator.Hidden = []int{16, 16}
	c.Critic.Hidden = []int{16, 16}
	if c.Horizon > 1 {
		c.Horizon = 2
	}
	if c.Candidates > 1 {
		c.Candidates = 4
	}
	c.BatchSize = 8
	c.Seed = 7
	return c
}

func randomBatch(c Spec, seed uint64) *datasets.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	f := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(r.NormFloat64() * 0.5)
		}
		return out
	}
	b := &datasets.Batch{Size: c.BatchSize, Observations: f(c.BatchSize * c.ObsDim), Actions: f(c.BatchSize * c.ChunkDim()),
		Rewards: f(c.BatchSize), NextObservations: f(c.BatchSize * c.ObsDim)}
	b.Masks = make([]float32, c.BatchSize)
	b.Valid = make([]float32, c.BatchSize*c.Horizon)
	for i := range b.Masks {
		b.Masks[i] = float32(i % 2)
	}
	for i := range b.Valid {
		b.Valid[i] = 1
	}
	return b
}

func TestAgentsUpdateAndAct(t *testing.T) {
	backend := agentTestBackend(t)
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			c := tinyAgentConfig(kind)
			c.LearningRate = 3e-3
			a, err := NewAgent(backend, c)
			if err != nil {
				t.Fatal(err)
			}
			// The generative losses are noisy (random t, r, ε per step): compare window means.
			const steps, win = 80, 15
			var early, late map[string]float64 = map[string]float64{}, map[string]float64{}
			for i := range steps {
				m, err := a.Update(randomBatch(c, 1))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range m {
					if i < win {
						early[k] += v / win
					} else if i >= steps-win {
						late[k] += v / win
					}
				}
			}
			for _, k := range []string{"actor_loss", "critic_loss"} {
				if _, ok := early[k]; !ok {
					continue
				}
				if !(late[k] < early[k]) {
					t.Errorf("%s did not decrease on a fixed batch: %v → %v", k, early[k], late[k])
				}
			}
			if _, ok := early["critic_loss"]; ok != c.UseCritic {
				t.Errorf("critic_loss reported = %v, UseCritic = %v", ok, c.UseCritic)
			}
			rng := NewActRNG(1)
			act, err := a.Act(make([]float32, 2*c.ObsDim), rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(act) != 2*c.ChunkDim() {
				t.Fatalf("Act returned %d values, want %d", len(act), 2*c.ChunkDim())
			}
			for _, v := range act {
				if v < -1 || v > 1 || math.IsNaN(float64(v)) {
					t.Fatalf("action %v outside [-1, 1]", v)
				}
			}
		})
	}
}

// With PolicyTargetBestOfN the generator's target is, per state, the critic's best among fresh
// candidates and the batch action: never worse than the batch action under the critic, and
// different from it where a candidate scores higher.
func TestPolicyTargetBestOfN(t *testing.T) {
	backend := agentTestBackend(t)
	c := tinyAgentConfig(KindMVP)
	c.PolicyTarget = PolicyTargetBestOfN
	a, err := NewAgent(backend, c)
	if err != nil {
		t.Fatal(err)
	}
	batch := randomBatch(c, 2)
	exec, err := model.NewExec(backend, a.Store, func(scope *model.Scope, s, act *Node) []*Node {
		target := a.reselectTarget(scope, s, act)
		return []*Node{target, c.Critic.QMean(scope.At(CriticScope), s, target), c.Critic.QMean(scope.At(CriticScope), s, act)}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(batch.Observations, c.BatchSize, c.ObsDim),
		tensors.FromFlatDataAndDimensions(batch.Actions, c.BatchSize, c.ChunkDim()))
	if err != nil {
		t.Fatal(err)
	}
	target := tensors.MustCopyFlatData[float32](out[0])
	qTarget, qAct := tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[float32](out[2])
	changed := 0
	d := c.ChunkDim()
	for i := range c.BatchSize {
		row, act := target[i*d:(i+1)*d], batch.Actions[i*d:(i+1)*d]
		if qTarget[i] < qAct[i]-1e-5 {
			t.Errorf("row %d: target scores %v, below the batch action's %v", i, qTarget[i], qAct[i])
		}
		if !slices.Equal(row, act) {
			changed++
			for _, v := range row {
				if v < -1 || v > 1 {
					t.Fatalf("row %d: re-selected candidate %v outside the action box", i, row)
				}
			}
		}
	}
	if changed == 0 {
		t.Errorf("no row's target differs from the batch action (N = %d fresh candidates)", c.Candidates)
	}
	if _, err := a.Update(batch); err != nil {
		t.Fatal(err)
	}
	bad := tinyAgentConfig(KindMVP)
	bad.PolicyTarget = "best"
	if _, err := NewAgent(backend, bad); err == nil || !strings.Contains(err.Error(), "policy_target") {
		t.Errorf("bad policy target: %v", err)
	}
}
