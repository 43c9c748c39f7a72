package mvp

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp/runlog"
	"github.com/gomvp/gomvp/plugins"
	_ "github.com/gomvp/gomvp/plugins/toy"
)

func toyData(t testing.TB, spec string, episodes string) *datasets.Dataset {
	t.Helper()
	d, err := plugins.LoadDataset(spec, plugins.DatasetOptions{Extra: map[string]string{"episodes": episodes}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func toyEnvs(spec string) EnvMaker {
	return func(int) (plugins.Env, error) { return plugins.MakeEnv(spec, plugins.EnvOptions{}) }
}

func smallTrainConfig(kind string, d *datasets.Dataset, out string) TrainConfig {
	ac := tinyAgentConfig(kind)
	ac.ObsDim, ac.ActDim = d.ObsDim, d.ActDim
	cfg := DefaultTrainConfig(ac)
	cfg.OfflineSteps, cfg.OnlineSteps = 40, 0
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.EvalEnvs = 20, 2, 2
	cfg.LogEvery, cfg.CheckpointEvery, cfg.Keep = 5, 10, 2
	cfg.Seed, cfg.Out, cfg.Progress = 3, out, false
	return cfg
}

func storeValues(t testing.TB, a *Agent) map[string][]byte {
	out := map[string][]byte{}
	for v := range a.Store.IterVariables() {
		tv := v.MustValue()
		tv.ConstBytes(func(b []byte) { out[v.Path()] = append([]byte(nil), b...) })
	}
	return out
}

// TestKillAndResume stops a run mid-way (as a kill would: after a checkpoint, with steps done past
// it that are lost), resumes it in the same directory and checks that parameters, optimizer state,
// training metrics and the final evaluation equal those of an unbroken run.
func TestKillAndResume(t *testing.T) {
	backend := agentTestBackend(t)
	d := toyData(t, "toy:pointmass", "10")
	for _, kind := range []string{KindMVP, KindBC} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			run := func(out string, stopAt int64) (*TrainSummary, *Trainer, error) {
				tr, err := NewTrainer(backend, smallTrainConfig(kind, d, out), d, toyEnvs("toy:pointmass"))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var m25 map[string]float64
				tr.AfterUpdate = func(step int64, m map[string]float64) {
					if step == 35 {
						m25 = m
					}
					if step == stopAt {
						cancel()
					}
				}
				sum, err := tr.Run(ctx)
				if sum != nil {
					sum.LastMetrics = m25
				}
				return sum, tr, err
			}
			full, fullTr, err := run(filepath.Join(dir, "full"), -1)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := runlog.ReadJSONL(filepath.Join(dir, "full", "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			trainRecs := 0
			for _, r := range recs {
				if r.Phase == "train" {
					trainRecs++
					if v := r.Metrics["updates_per_s"]; !(v > 0) || math.IsInf(v, 0) {
						t.Errorf("train record at step %d has updates_per_s %v", r.Step, v)
					}
				}
			}
			if trainRecs != 40/5 {
				t.Errorf("%d train records, want 8", trainRecs)
			}
			broken := filepath.Join(dir, "broken")
			if _, _, err := run(broken, 25); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run returned %v, want context.Canceled", err)
			}
			cks, _ := ListCheckpoints(filepath.Join(broken, "checkpoints"))
			if len(cks) != 2 || filepath.Base(cks[1]) != "ckpt-000000000020.gmvp" {
				t.Fatalf("checkpoints after the interruption: %v, want the last two up to step 20", cks)
			}
			resumed, resTr, err := run(broken, -1)
			if err != nil {
				t.Fatal(err)
			}
			if resumed.ResumedFrom != 20 || resumed.Steps != 40 {
				t.Fatalf("resumed from %d to %d, want 20 → 40", resumed.ResumedFrom, resumed.Steps)
			}
			if resumed.Final != full.Final {
				t.Errorf("final evaluation %+v after resuming, %+v unbroken", resumed.Final, full.Final)
			}
			for k, v := range full.LastMetrics {
				if resumed.LastMetrics[k] != v {
					t.Errorf("metric %s at step 35: %v after resuming, %v unbroken", k, resumed.LastMetrics[k], v)
				}
			}
			a, b := storeValues(t, fullTr.Agent), storeValues(t, resTr.Agent)
			if len(a) != len(b) {
				t.Fatalf("%d variables after resuming, %d unbroken", len(b), len(a))
			}
			for k, v := range a {
				if string(b[k]) != string(v) {
					t.Errorf("variable %s differs between the resumed and the unbroken run", k)
				}
			}
		})
	}
}

// TestKillAndResumeOnline interrupts a run during its online phase and checks that the resumed
// run (from the last checkpoint, with its replay buffer and random streams) ends exactly like an
// unbroken one.
func TestKillAndResumeOnline(t *testing.T) {
	backend := agentTestBackend(t)
	d := toyData(t, "toy:pointmass", "10")
	dir := t.TempDir()
	run := func(out string, stopAt int64) (*TrainSummary, *Trainer, error) {
		cfg := smallTrainConfig(KindMVP, d, out)
		cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps = 20, 260, 10
		cfg.EvalEvery = 0
		tr, err := NewTrainer(backend, cfg, d, toyEnvs("toy:pointmass"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr.AfterUpdate = func(step int64, _ map[string]float64) {
			if step == stopAt {
				cancel()
			}
		}
		sum, err := tr.Run(ctx)
		return sum, tr, err
	}
	full, fullTr, err := run(filepath.Join(dir, "full"), -1)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken")
	// Pointmass episodes last 100 steps: the first online checkpoint is at the end of episode 1
	// (update 110), the interruption comes 40 updates into the next episode.
	if _, _, err := run(broken, 150); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	resumed, resTr, err := run(broken, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed from update %d; %d updates, %d env steps", resumed.ResumedFrom, resumed.Steps, resumed.EnvSteps)
	if resumed.ResumedFrom <= 20 || resumed.EnvSteps != full.EnvSteps || resumed.Steps != full.Steps {
		t.Fatalf("resumed from %d to %d updates / %d env steps; unbroken %d / %d", resumed.ResumedFrom, resumed.Steps, resumed.EnvSteps, full.Steps, full.EnvSteps)
	}
	if resumed.Final != full.Final {
		t.Errorf("final evaluation %+v after resuming, %+v unbroken", resumed.Final, full.Final)
	}
	a, b := storeValues(t, fullTr.Agent), storeValues(t, resTr.Agent)
	for k, v := range a {
		if string(b[k]) != string(v) {
			t.Errorf("variable %s differs between the resumed and the unbroken run", k)
		}
	}
}

// TestCheckpointCorruption checks that a truncated newest checkpoint is reported and skipped, and
// that Keep prunes old files.
func TestCheckpointCorruption(t *testing.T) {
	backend := agentTestBackend(t)
	a, err := NewAgent(backend, tinyAgentConfig(KindMVP))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for step := int64(1); step <= 4; step++ {
		if _, err := SaveCheckpoint(dir, step, a, map[string]int64{"step": step}, 3); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := ListCheckpoints(dir)
	if len(all) != 3 {
		t.Fatalf("%d checkpoints kept, want 3", len(all))
	}
	raw, _ := os.ReadFile(all[2])
	if err := os.WriteFile(all[2], raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoint(all[2]); err == nil {
		t.Fatal("truncated checkpoint read without error")
	}
	ck, err := LatestCheckpoint(dir)
	if err != nil || ck.Step != 3 {
		t.Fatalf("LatestCheckpoint = %v, %v; want step 3", ck, err)
	}
	b, err := LoadAgent(backend, ck, nil)
	if err != nil {
		t.Fatal(err)
	}
	va, vb := storeValues(t, a), storeValues(t, b)
	for k, v := range va {
		if string(vb[k]) != string(v) {
			t.Errorf("variable %s not restored", k)
		}
	}
	// Acting from the restored agent gives the same actions.
	obs := make([]float32, 2*a.Config.ObsDim)
	x, _ := a.Act(obs, NewActRNG(5))
	y, _ := b.Act(obs, NewActRNG(5))
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("restored agent acts differently: %v vs %v", x, y)
		}
	}
}

// TestDivergenceGuard trains with an absurd learning rate: training must stop with ErrDiverged
// and a message naming the step, and the newest checkpoint on disk must hold finite values only.
func TestDivergenceGuard(t *testing.T) {
	backend := agentTestBackend(t)
	d := toyData(t, "toy:pointmass", "10")
	cfg := smallTrainConfig(KindMVP, d, t.TempDir())
	cfg.Agent.LearningRate = 1e30
	cfg.CheckpointEvery, cfg.EvalEvery, cfg.OfflineSteps = 1, 0, 200
	tr, err := NewTrainer(backend, cfg, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := tr.Run(context.Background())
	if !errors.Is(runErr, ErrDiverged) {
		t.Fatalf("Run returned %v, want ErrDiverged", runErr)
	}
	t.Log(runErr)
	ck, err2 := LatestCheckpoint(filepath.Join(cfg.Out, "checkpoints"))
	if err2 != nil {
		t.Fatal(err2)
	}
	if ck != nil {
		a, err := LoadAgent(backend, ck, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SaveCheckpoint(t.TempDir(), ck.Step, a, nil, 0); err != nil {
			t.Fatalf("the kept checkpoint (step %d) is not finite: %v", ck.Step, err)
		}
		if !strings.Contains(runErr.Error(), "last good checkpoint") && !strings.Contains(runErr.Error(), "not written") {
			t.Errorf("error does not point at the kept state: %v", runErr)
		}
	}
}
