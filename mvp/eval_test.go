package mvp

import (
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
	got, err := Evaluate(a, remote, opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Evaluate(a, []plugins.Env{&fakeLine{}, &fakeLine{}}, opt)
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
	if _, err := Evaluate(a, []plugins.Env{crash}, opt); err == nil || !strings.Contains(err.Error(), "environment 0") {
		t.Fatalf("evaluation with a crashing environment returned %v, want an error naming environment 0", err)
	}
}
