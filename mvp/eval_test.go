package mvp

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/plugins"
	_ "github.com/gomvp/gomvp/plugins/remote"
)

// fakeLine is the in-process twin of plugins/remote/testdata/fake_server.py's "normal" mode:
// x ← x + a₀ + a₁/2, reward −|x|, success (and termination) at |x| < 0.1, truncation at t = 10.
type fakeLine struct{ x, t float64 }

func (f *fakeLine) ObservationDim() int  { return 2 }
func (f *fakeLine) ActionDim() int       { return 2 }
func (f *fakeLine) MaxEpisodeSteps() int { return 10 }
func (f *fakeLine) Close() error         { return nil }
func (f *fakeLine) Reset(seed int64) ([]float32, error) {
	f.x, f.t = 1.0+float64(seed%7)/10, 0
	return []float32{float32(f.x), 0}, nil
}
func (f *fakeLine) Step(a []float32) (plugins.Step, error) {
	// The remote server receives float32 actions as JSON numbers and computes in float64.
	f.x += float64(a[0]) + float64(a[1])/2
	f.t++
	ok := math.Abs(f.x) < 0.1
	return plugins.Step{Observation: []float32{float32(f.x), float32(f.t)}, Reward: -math.Abs(f.x),
		Terminated: ok, Truncated: f.t >= 10 && !ok, Success: ok}, nil
}

// TestEvaluateRemoteFakeServer evaluates the same agent through the remote plugin (Python fake
// server processes) and in-process on a Go twin of that environment: both must agree.
func TestEvaluateRemoteFakeServer(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH: the remote plugin needs it")
	}
	backend := agentTestBackend(t)
	c := tinyAgentConfig(KindMVP)
	c.ObsDim, c.ActDim = 2, 2
	a, err := NewAgent(backend, c)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := filepath.Abs("../plugins/remote/testdata/fake_server.py")
	var remote []plugins.Env
	for range 2 {
		e, err := plugins.MakeEnv("remote:fake:normal", plugins.EnvOptions{Extra: map[string]string{"server": server}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		remote = append(remote, e)
	}
	opt := EvalOptions{Episodes: 5, Seed: 11}
	got, err := Evaluate(context.Background(), a, plugins.NewVecEnv(remote...), opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Evaluate(context.Background(), a, plugins.NewVecEnv(&fakeLine{}, &fakeLine{}), opt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Episodes != 5 || got.Episodes != want.Episodes || got.SuccessRate != want.SuccessRate ||
		got.MeanLength != want.MeanLength || math.Abs(got.MeanReturn-want.MeanReturn) > 1e-4*(1+math.Abs(want.MeanReturn)) {
		t.Fatalf("remote evaluation %+v, in-process twin %+v", got, want)
	}
	t.Logf("remote %+v", got)

	// A server that dies mid-episode is reported, not waited for.
	crash, err := plugins.MakeEnv("remote:fake:crash", plugins.EnvOptions{Extra: map[string]string{"server": server}})
	if err != nil {
		t.Fatal(err)
	}
	defer crash.Close()
	if _, err := Evaluate(context.Background(), a, plugins.NewVecEnv(crash), opt); err == nil || !strings.Contains(err.Error(), "environment 0") {
		t.Fatalf("evaluation with a crashing environment returned %v, want an error naming environment 0", err)
	}
}

// TestEvaluateInterrupted cancels an evaluation during its first episodes: those finish, no
// other starts, and the partial result is marked and returned with the context's error.
func TestEvaluateInterrupted(t *testing.T) {
	a, err := NewAgent(agentTestBackend(t), func() Spec {
		c := tinyAgentConfig(KindMVP)
		c.ObsDim, c.ActDim = 2, 2
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	envs := plugins.NewVecEnv(&fakeLine{}, &fakeLine{}, &fakeLine{})
	full, err := Evaluate(context.Background(), a, envs, EvalOptions{Episodes: 9, Seed: 5})
	if err != nil || full.Episodes != 9 || full.Interrupted {
		t.Fatalf("uninterrupted: %+v, %v", full, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := map[int]bool{}
	opt := EvalOptions{Episodes: 9, Seed: 5, OnStep: func(env, episode, step int, e plugins.Env) {
		started[episode] = true
		if step == 1 {
			cancel()
		}
	}}
	got, err := Evaluate(ctx, a, envs, opt)
	if !errors.Is(err, context.Canceled) || !got.Interrupted || got.Episodes != 3 || len(started) != 3 {
		t.Fatalf("interrupted after the first step: %+v, %v, episodes started %v; want the 3 running episodes finished and context.Canceled", got, err, started)
	}
	got, err = Evaluate(ctx, a, envs, EvalOptions{Episodes: 9})
	if !errors.Is(err, context.Canceled) || got.Episodes != 0 || !got.Interrupted {
		t.Fatalf("cancelled before the start: %+v, %v", got, err)
	}
}
