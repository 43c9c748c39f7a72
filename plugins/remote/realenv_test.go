//go:build realenv

// Tests against real simulators installed by scripts/setup-envs.sh (make test-realenv). They fail,
// rather than skip, when the libraries are missing: that target exists to exercise them.

package remote

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func realConfig(t *testing.T) Config {
	t.Helper()
	return Config{Python: FindPython(), StartTimeout: 300 * time.Second, CallTimeout: 60 * time.Second}
}

// The trajectory through the server must equal the one gymnasium gives directly for the same seed
// and actions.
func TestGymPendulumMatchesDirectRollout(t *testing.T) {
	cfg := realConfig(t)
	cfg.RescaleActions = true
	env, err := New("gym:Pendulum-v1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.ObservationDim() != 3 || env.ActionDim() != 1 || env.MaxEpisodeSteps() != 200 {
		t.Fatalf("Pendulum-v1: dims %d %d, limit %d", env.ObservationDim(), env.ActionDim(), env.MaxEpisodeSteps())
	}
	lo, hi := env.ActionBounds()
	if lo[0] != -2 || hi[0] != 2 {
		t.Fatalf("bounds %v %v", lo, hi)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	obs, err := env.Reset(42)
	if err != nil {
		t.Fatal(err)
	}
	traj := [][]float32{obs}
	var actions []float32
	var rewards []float64
	for i := 0; ; i++ {
		a := float32(2*rng.Float64() - 1)
		st, err := env.Step([]float32{a})
		if err != nil {
			t.Fatal(err)
		}
		actions = append(actions, a)
		rewards = append(rewards, st.Reward)
		traj = append(traj, st.Observation)
		if st.Truncated {
			if i+1 != 200 {
				t.Fatalf("truncated after %d steps", i+1)
			}
			break
		}
		if i > 250 {
			t.Fatal("no truncation")
		}
	}
	script := `
import json, sys, gymnasium as gym, numpy as np
acts = json.loads(sys.stdin.read())
env = gym.make("Pendulum-v1")
o, _ = env.reset(seed=42)
obs, rews = [o.tolist()], []
for a in acts:
    o, r, term, trunc, _ = env.step(np.array([-2 + (np.float32(a) + 1) / 2 * 4], dtype=np.float32))
    obs.append(o.tolist()); rews.append(float(r))
print(json.dumps({"obs": obs, "rewards": rews}))
`
	in, _ := json.Marshal(actions)
	cmd := exec.Command(cfg.Python, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("direct rollout: %v", err)
	}
	var want struct {
		Obs     [][]float64
		Rewards []float64
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i := range traj {
		for j := range traj[i] {
			if math.Abs(float64(traj[i][j])-want.Obs[i][j]) > 1e-5 {
				t.Fatalf("step %d obs[%d]: server %v, direct %v", i, j, traj[i][j], want.Obs[i][j])
			}
		}
	}
	for i := range rewards {
		if math.Abs(rewards[i]-want.Rewards[i]) > 1e-5 {
			t.Fatalf("step %d reward: server %v, direct %v", i, rewards[i], want.Rewards[i])
		}
	}
	t.Logf("Pendulum-v1: %d steps identical to a direct gymnasium rollout", len(rewards))
}

// OGBench's cube-double task 2 through a pool of two servers: OGBench's dimensions, its
// single-task reward (successes − 2), and servers stepping in parallel.
func TestOGBenchCubeDoublePool(t *testing.T) {
	cfg := realConfig(t)
	cfg.ObsDim, cfg.ActDim = 37, 5
	start := time.Now()
	pool, err := NewPool("ogbench:cube-double-play-singletask-task2-v0", 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	t.Logf("two OGBench servers started in %v", time.Since(start).Round(time.Millisecond))
	if pool.Envs[0].MaxEpisodeSteps() != 500 {
		t.Errorf("time limit %d, want 500", pool.Envs[0].MaxEpisodeSteps())
	}
	obs, err := pool.Reset([]int64{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs[0]) != 37 {
		t.Fatalf("observation of %d values", len(obs[0]))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	start = time.Now()
	const steps = 50
	for range steps {
		acts := make([][]float32, 2)
		for i := range acts {
			acts[i] = make([]float32, 5)
			for j := range acts[i] {
				acts[i][j] = float32(2*rng.Float64() - 1)
			}
		}
		sts, err := pool.Step(acts)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.Reward != -2 && st.Reward != -1 && st.Reward != 0 {
				t.Fatalf("reward %v is not successes − 2", st.Reward)
			}
			if st.Terminated || st.Truncated {
				t.Fatalf("episode ended after random actions: %+v", st)
			}
		}
	}
	t.Logf("%d parallel steps of 2 envs in %v", steps, time.Since(start).Round(time.Millisecond))
	// Dimensions other than the dataset's are refused.
	cfg.ObsDim = 28
	if _, err := New("ogbench:cube-double-play-singletask-task2-v0", cfg); err == nil || !strings.Contains(err.Error(), "observation dim 37") {
		t.Errorf("wrong expected dims: %v", err)
	}
}

// BenchmarkRemotePendulumStep measures one step through the protocol (JSON both ways, a pipe
// round trip, gymnasium's step); compare with the direct loop printed by `make bench-envs`.
func BenchmarkRemotePendulumStep(b *testing.B) {
	env, err := New("gym:Pendulum-v1", Config{Python: FindPython(), StartTimeout: 300 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	env.Reset(0)
	a := []float32{0.5}
	b.ResetTimer()
	for i := range b.N {
		st, err := env.Step(a)
		if err != nil {
			b.Fatal(err)
		}
		if st.Truncated || st.Terminated {
			env.Reset(int64(i))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// TestRobomimicTasks needs robosuite, which is not in .venv: robosuite 1.5.2 fails with MuJoCo 4
// (an assertion in get_joint_qpos_addr), so it lives in its own environment with MuJoCo 3.3, named
// by MVP_ROBOSUITE_PYTHON (make test-robosuite ROBOSUITE_PYTHON=...).
func TestRobomimicTasks(t *testing.T) {
	py := os.Getenv("MVP_ROBOSUITE_PYTHON")
	if py == "" {
		t.Skip("MVP_ROBOSUITE_PYTHON is not set (make test-robosuite sets it)")
	}
	for _, tc := range []struct {
		task          string
		obs, act, max int
	}{{"lift", 19, 7, 300}, {"can", 23, 7, 300}, {"square", 23, 7, 400}} {
		env, err := New("robomimic:"+tc.task, Config{Python: py, StartTimeout: 300 * time.Second, CallTimeout: 120 * time.Second,
			ObsDim: tc.obs, ActDim: tc.act})
		if err != nil {
			t.Fatal(err)
		}
		if env.MaxEpisodeSteps() != tc.max {
			t.Errorf("%s: horizon %d, want %d", tc.task, env.MaxEpisodeSteps(), tc.max)
		}
		if _, err := env.Reset(1); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			st, err := env.Step(make([]float32, tc.act))
			if err != nil {
				t.Fatal(err)
			}
			if st.Success || st.Terminated {
				t.Errorf("%s: success after doing nothing", tc.task)
			}
		}
		env.Close()
	}
}
