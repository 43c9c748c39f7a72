package mvp_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/datasets"
	. "github.com/gomvp/gomvp/mvp" //nolint:staticcheck // the tests read as the package's own
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla"
)

// TestActDirectMatchesGraph checks that Act's direct decision is the action graph's decision on
// the noise ActRNG.Normal draws, for each deployable kind, call after call of one stream, and that
// it follows the parameters through an update.
func TestActDirectMatchesGraph(t *testing.T) {
	for _, kind := range []string{KindMVP, KindQC, KindBC} {
		t.Run(kind, func(t *testing.T) {
			a := smallTrainedAgent(t, kind)
			if err := a.SetDirectAct(true); err != nil {
				t.Fatal(err)
			}
			c := a.Spec
			r := rand.New(rand.NewPCG(4, 4))
			obs := randn(r, 5*c.ObsDim)
			compare := func(when string) []float32 {
				t.Helper()
				p, err := a.ExportPolicy()
				if err != nil {
					t.Fatal(err)
				}
				p.SetBackend(a.Backend)
				actRNG, noiseRNG := NewActRNG(6), NewActRNG(6)
				var first []float32
				for call := range 3 {
					got, err := a.Act(obs, actRNG)
					if err != nil {
						t.Fatal(err)
					}
					noise, err := noiseRNG.Normal(5 * c.Candidates * c.ChunkDim())
					if err != nil {
						t.Fatal(err)
					}
					want, err := p.Act(obs, noise)
					if err != nil {
						t.Fatal(err)
					}
					if d := maxDiff(got, want); d > 1e-5 {
						t.Fatalf("%s, call %d: direct Act and the action graph differ by %g", when, call, d)
					}
					if call == 0 {
						first = got
					} else if kind != KindBC && maxDiff(got, first) == 0 { // BC ignores the noise
						t.Fatalf("%s: call %d repeated the first decision: the stream did not advance", when, call)
					}
				}
				return first
			}
			before := compare("trained agent")
			n := c.BatchSize
			if _, err := a.Update(&datasets.Batch{Size: n, Observations: randn(r, n*c.ObsDim), Actions: make([]float32, n*c.ChunkDim()),
				Rewards: randn(r, n), NextObservations: randn(r, n*c.ObsDim), Masks: ones(n), Valid: ones(n * c.Horizon)}); err != nil {
				t.Fatal(err)
			}
			after := compare("after one more update")
			if maxDiff(before, after) == 0 {
				t.Error("the update did not change the direct decision: stale weights")
			}
		})
	}
}

// TestActRNGNormal checks the host noise stream: seeded, advancing, standard normal, and carried
// by MarshalBinary.
func TestActRNGNormal(t *testing.T) {
	x, _ := NewActRNG(1).Normal(4000)
	y, _ := NewActRNG(1).Normal(4000)
	z, _ := NewActRNG(2).Normal(4000)
	if maxDiff(x, y) != 0 || maxDiff(x, z) == 0 {
		t.Fatal("Normal is not a function of the seed")
	}
	var mean, sq float64
	for _, v := range x {
		mean += float64(v)
		sq += float64(v) * float64(v)
	}
	mean /= float64(len(x))
	if sd := math.Sqrt(sq/float64(len(x)) - mean*mean); math.Abs(mean) > 0.06 || math.Abs(sd-1) > 0.05 {
		t.Errorf("4000 draws: mean %.3f, sd %.3f; want about 0 and 1", mean, sd)
	}
	r := NewActRNG(3)
	r.Normal(10)
	state, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var resumed ActRNG
	if err := resumed.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	u, _ := r.Normal(50)
	v, _ := resumed.Normal(50)
	if maxDiff(u, v) != 0 {
		t.Error("a restored stream draws other values")
	}
}

// TestActDirectDefault checks the default: direct where deploy's kernels are accelerated and no
// GPU is visible, as $MVP_DIRECT says when set, and the graph for a generator without a deployable
// form.
func TestActDirectDefault(t *testing.T) {
	t.Setenv(deploy.DirectEnv, "")
	a := smallTrainedAgent(t, KindMVP)
	direct, err := a.DecidesDirectly()
	if err != nil {
		t.Fatal(err)
	}
	if want := deploy.DirectAccelerated() && !xla.GPUVisible(); direct != want {
		t.Errorf("direct by default: %v, want %v", direct, want)
	}
	for env, want := range map[string]bool{"0": false, "1": true} {
		t.Setenv(deploy.DirectEnv, env)
		if got, err := smallTrainedAgent(t, KindMVP).DecidesDirectly(); err != nil || got != want {
			t.Errorf("$MVP_DIRECT=%s: decides directly %v (%v), want %v", env, got, err, want)
		}
	}
	t.Setenv(deploy.DirectEnv, "")
	fql := smallTrainedAgent(t, KindFQL)
	if err := fql.SetDirectAct(true); err == nil || !strings.Contains(err.Error(), "no deployable form") {
		t.Errorf("FQL SetDirectAct(true): %v, want an error saying it has no deployable form", err)
	}
	if got, err := fql.Act(make([]float32, fql.Spec.ObsDim), NewActRNG(1)); err != nil || len(got) != fql.Spec.ChunkDim() {
		t.Errorf("FQL acts on its graph: %v, %v", got, err)
	}
	if _, err := a.Act([]float32{0, float32(math.NaN()), 0, 0, 0}[:a.Spec.ObsDim], NewActRNG(1)); direct && err == nil {
		t.Error("a NaN observation: no error from the direct decision")
	}
}
