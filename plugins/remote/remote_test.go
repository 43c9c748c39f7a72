package remote

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomvp/gomvp/plugins"
)

// fake returns a config that runs testdata/fake_server.py (standard library only) with short
// deadlines.
func fake(t *testing.T) Config {
	t.Helper()
	py := FindPython()
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("no Python interpreter (%s): %v", py, err)
	}
	// Deadlines generous enough for a loaded machine (a pyenv shim alone can take seconds to start
	// Python there), short enough to keep the hang cases quick.
	return Config{Python: py, Server: "testdata/fake_server.py", StartTimeout: 30 * time.Second, CallTimeout: 4 * time.Second}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestFakeNormalEpisode(t *testing.T) {
	env, err := New("fake:normal", fake(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.ObservationDim() != 2 || env.ActionDim() != 2 || env.MaxEpisodeSteps() != 10 {
		t.Fatalf("dims %d %d %d", env.ObservationDim(), env.ActionDim(), env.MaxEpisodeSteps())
	}
	obs, err := env.Reset(3)
	if err != nil || obs[0] != 1.3 || obs[1] != 0 {
		t.Fatalf("reset: %v %v", obs, err)
	}
	st, err := env.Step([]float32{-0.5, -0.2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Observation[0] < 0.69 || st.Observation[0] > 0.71 || st.Reward > -0.69 || st.Terminated {
		t.Fatalf("step 1: %+v", st)
	}
	st, err = env.Step([]float32{-0.7, 0})
	if err != nil || !st.Success || !st.Terminated || st.Truncated {
		t.Fatalf("step 2: %+v %v", st, err)
	}
	// An error reply leaves a healthy server usable.
	if _, err := env.Step([]float32{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "action has 3 values") {
		t.Fatalf("wrong action length: %v", err)
	}
	if _, err := env.Reset(0); err != nil {
		t.Fatalf("reset after an error reply: %v", err)
	}
	pid := env.cmd.Process.Pid
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("server %d still running after Close", pid)
	}
	if _, err := env.Reset(0); err == nil {
		t.Error("Reset after Close succeeded")
	}
	if err := env.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Each failure must give an error that says what happened, quickly, and leave no process behind.
func TestFakeFailures(t *testing.T) {
	for _, tc := range []struct {
		mode, want string
		atMake     bool
	}{
		{"crash", "exit status 3", false},
		{"hang", "no reply within", false},
		{"garbage", "not the protocol", false},
		{"wrongdims", "observation has 3 values, the server announced 2", false},
		{"hangmake", "no reply within", true},
		{"unknownmode", "unknown fake mode", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := fake(t)
			if tc.mode == "hangmake" {
				cfg.StartTimeout = 4 * time.Second
			}
			start := time.Now()
			env, err := New("fake:"+tc.mode, cfg)
			if tc.atMake {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fake:"+tc.mode) {
					t.Fatalf("make: %v", err)
				}
				t.Logf("%v (after %v)", err, time.Since(start).Round(time.Millisecond))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			pid := env.cmd.Process.Pid
			if _, err := env.Reset(0); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Step([]float32{0, 0}); err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			_, err = env.Step([]float32{0, 0})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "remote env fake:"+tc.mode+": step") {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to report", d)
			}
			t.Logf("%v", err)
			if tc.mode == "crash" && !strings.Contains(err.Error(), "crashing on purpose") {
				t.Errorf("the server's stderr is missing from the error")
			}
			if _, err2 := env.Step([]float32{0, 0}); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("call after a fatal error: %v", err2)
			}
			time.Sleep(50 * time.Millisecond)
			if alive(pid) {
				t.Errorf("server %d still running after the failure", pid)
			}
			if err := env.Close(); err != nil {
				t.Errorf("Close after a failure: %v", err)
			}
		})
	}
}

func TestExpectedDims(t *testing.T) {
	cfg := fake(t)
	cfg.ObsDim = 5
	_, err := New("fake:normal", cfg)
	if err == nil || !strings.Contains(err.Error(), "the caller expects 5") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingInterpreterAndServer(t *testing.T) {
	cfg := fake(t)
	cfg.Python = "/nonexistent/python"
	if _, err := New("fake:normal", cfg); err == nil || !strings.Contains(err.Error(), "/nonexistent/python") {
		t.Errorf("missing interpreter: %v", err)
	}
	cfg = fake(t)
	cfg.Server = "testdata/no_such_server.py"
	if _, err := New("fake:normal", cfg); err == nil || !strings.Contains(err.Error(), "no_such_server.py") {
		t.Errorf("missing server script: %v", err)
	}
}

func TestRegistryOptions(t *testing.T) {
	env, err := plugins.MakeEnv("remote:fake:noisy", plugins.EnvOptions{Extra: map[string]string{
		"server": "testdata/fake_server.py", "call_timeout": "3s", "start_timeout": "20s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if _, err := env.Reset(1); err != nil {
		t.Fatal(err)
	}
	if _, err := plugins.MakeEnv("remote:fake:normal", plugins.EnvOptions{Extra: map[string]string{"call_timeout": "soon"}}); err == nil ||
		!strings.Contains(err.Error(), "call_timeout") {
		t.Errorf("bad option: %v", err)
	}
}

func TestPool(t *testing.T) {
	cfg := fake(t)
	pool, err := NewPool("fake:normal", 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := pool.Reset([]int64{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range obs {
		if want := 1 + float32(i)/10; o[0] != want {
			t.Errorf("env %d: reset obs %v, want x=%v", i, o, want)
		}
	}
	steps, err := pool.Step([][]float32{{-1, 0}, nil, {0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if steps[1].Observation != nil || steps[0].Observation[1] != 1 {
		t.Errorf("pool steps: %+v", steps)
	}
	var pids []int
	for _, e := range pool.Envs {
		pids = append(pids, e.(*Env).cmd.Process.Pid)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("server %d alive after pool Close", p)
		}
	}
	// One bad member fails the whole pool and closes the others.
	cfg.StartTimeout = 4 * time.Second
	if _, err := NewPool("fake:hangmake", 2, cfg); err == nil {
		t.Error("pool of hanging servers started")
	}
}

// The real server must keep the protocol on stdout even when the simulator prints, and must
// report a clear error for an unknown kind or a missing library, using only the standard library
// up to that point.
func TestRealServerErrors(t *testing.T) {
	cfg := fake(t)
	cfg.Server = ""
	_, err := New("nosuchkind:thing", cfg)
	if err == nil || !strings.Contains(err.Error(), "unknown environment kind") {
		t.Errorf("unknown kind: %v", err)
	}
	_, err = New("gym", cfg)
	if err == nil || !strings.Contains(err.Error(), "has no kind") {
		t.Errorf("no kind: %v", err)
	}
}

func TestFindPythonEnvOverride(t *testing.T) {
	t.Setenv(PythonEnvVar, "/opt/py/bin/python3")
	if got := FindPython(); got != "/opt/py/bin/python3" {
		t.Errorf("FindPython() = %s", got)
	}
	os.Unsetenv(PythonEnvVar)
	if got := FindPython(); got == "" {
		t.Error("empty interpreter")
	}
}
