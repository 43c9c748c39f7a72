package mvp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// lastCheckpointBytes returns the newest checkpoint file of the run directory out.
func lastCheckpointBytes(t testing.TB, out string) (string, []byte) {
	t.Helper()
	cks, err := ListCheckpoints(filepath.Join(out, "checkpoints"))
	if err != nil || len(cks) == 0 {
		t.Fatalf("checkpoints of %s: %v, %v", out, cks, err)
	}
	b, err := os.ReadFile(cks[len(cks)-1])
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(cks[len(cks)-1]), b
}

// logRows returns metrics.jsonl of out as comparable rows (step, phase, metrics; not the time),
// failing on a step logged twice in a phase.
func logRows(t testing.TB, out string) []string {
	t.Helper()
	recs, err := runlog.ReadJSONL(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var rows []string
	for _, r := range recs {
		key := fmt.Sprintf("%s@%d", r.Phase, r.Step)
		if seen[key] {
			t.Errorf("%s: %s logged twice", out, key)
		}
		seen[key] = true
		delete(r.Metrics, "updates_per_s") // a measured rate, not a result of training
		rows = append(rows, fmt.Sprintf("%s %v", key, r.Metrics))
	}
	return rows
}

// checkUpdateRates checks that the run in out logged want train records, each with a finite,
// positive updates_per_s.
func checkUpdateRates(t *testing.T, out string, want int) {
	t.Helper()
	recs, err := runlog.ReadJSONL(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Phase == "train" {
			n++
			if v := r.Metrics["updates_per_s"]; !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("train record at step %d has updates_per_s %v", r.Step, v)
			}
		}
	}
	if n != want {
		t.Errorf("%d train records, want %d", n, want)
	}
}

// sameRun checks that the run in got ended exactly as the unbroken run in want: the same newest
// checkpoint, byte for byte, and the same logged records, each step once.
func sameRun(t *testing.T, want, got string) {
	t.Helper()
	wn, wb := lastCheckpointBytes(t, want)
	gn, gb := lastCheckpointBytes(t, got)
	if wn != gn || !bytes.Equal(wb, gb) {
		t.Errorf("final checkpoint %s (%d bytes) after resuming, %s (%d bytes) unbroken: not identical", gn, len(gb), wn, len(wb))
	}
	wr, gr := logRows(t, want), logRows(t, got)
	if strings.Join(wr, "\n") != strings.Join(gr, "\n") {
		t.Errorf("logs differ:\nresumed:\n%s\nunbroken:\n%s", strings.Join(gr, "\n"), strings.Join(wr, "\n"))
	}
}

// trainUntil runs cfg in out, cancelling the context after update stopAt (never if < 0).
func trainUntil(t *testing.T, cfg TrainConfig, d *datasets.Dataset, stopAt int64) (*TrainSummary, error) {
	t.Helper()
	tr, err := NewTrainer(agentTestBackend(t), cfg, d, toyEnvs("toy:pointmass"))
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
	return tr.Run(ctx)
}

// TestInterruptAndResume cancels offline runs (as the first Ctrl-C does) at a checkpoint boundary
// that is also an evaluation step, between boundaries and at a random update: Run must stop after
// that update with an *InterruptedError naming a checkpoint of it, and the resumed run must end
// byte for byte like an unbroken one, its logs holding every step once. It then simulates kill -9
// after the interruption (the newest checkpoint gone, the logs ahead of the one left): the resumed
// run must still end identically, its logs cut back first.
func TestInterruptAndResume(t *testing.T) {
	d := toyData(t, "toy:pointmass", "10")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	fixed := []int64{20, 25}
	random := 1 + rng.Int64N(39)
	for slices.Contains(fixed, random) { // a third, distinct step: each stop has its own run directory
		random = 1 + rng.Int64N(39)
	}
	t.Logf("random interruption at update %d (seed %d)", random, seed)
	for _, kind := range []string{KindMVP, KindBC} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			full := filepath.Join(dir, "full")
			if _, err := trainUntil(t, smallTrainConfig(kind, d, full), d, -1); err != nil {
				t.Fatal(err)
			}
			checkUpdateRates(t, full, 40/5)
			for _, stopAt := range append(fixed, random) {
				out := filepath.Join(dir, fmt.Sprintf("stop%d", stopAt))
				_, err := trainUntil(t, smallTrainConfig(kind, d, out), d, stopAt)
				var ie *InterruptedError
				if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
					t.Fatalf("interrupted run returned %v, want an *InterruptedError wrapping context.Canceled", err)
				}
				want := fmt.Sprintf("ckpt-%012d.gmvp", stopAt)
				if ie.Step != stopAt || filepath.Base(ie.Checkpoint) != want {
					t.Fatalf("interrupted at step %d with checkpoint %q, want step %d and %s", ie.Step, ie.Checkpoint, stopAt, want)
				}
				if _, err := ReadCheckpoint(ie.Checkpoint); err != nil {
					t.Fatalf("the interruption's checkpoint does not load: %v", err)
				}
				sum, err := trainUntil(t, smallTrainConfig(kind, d, out), d, -1)
				if err != nil {
					t.Fatal(err)
				}
				if sum.ResumedFrom != stopAt || sum.Steps != 40 {
					t.Fatalf("resumed from %d to %d, want %d → 40", sum.ResumedFrom, sum.Steps, stopAt)
				}
				sameRun(t, full, out)
			}

			killed := filepath.Join(dir, "killed")
			if _, err := trainUntil(t, smallTrainConfig(kind, d, killed), d, 27); err == nil {
				t.Fatal("interrupted run returned no error")
			}
			if err := os.Remove(filepath.Join(killed, "checkpoints", "ckpt-000000000027.gmvp")); err != nil {
				t.Fatal(err)
			}
			// A write torn by the kill, too.
			f, err := os.OpenFile(filepath.Join(killed, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(`{"phase":"train","st`)
			f.Close()
			sum, err := trainUntil(t, smallTrainConfig(kind, d, killed), d, -1)
			if err != nil {
				t.Fatal(err)
			}
			if sum.ResumedFrom != 20 {
				t.Fatalf("resumed from %d after the kill, want 20", sum.ResumedFrom)
			}
			sameRun(t, full, killed)
		})
	}
}

// TestInterruptAndResumeOnline cancels a run during its online phase: it must go on to the end of
// the running episode (an environment's state cannot be saved), checkpoint there, and the resumed
// run (replay buffer and random streams restored mid-segment) must end like an unbroken one. It
// does so with the default replay capacity and with one that makes the buffer evict rows (offline
// first) before the interruption.
func TestInterruptAndResumeOnline(t *testing.T) {
	d := toyData(t, "toy:pointmass", "10")
	finals := map[int][]byte{}
	for _, capacity := range []int{0, d.Len() + 50} {
		t.Run(fmt.Sprintf("capacity%d", capacity), func(t *testing.T) {
			dir := t.TempDir()
			config := func(out string) TrainConfig {
				cfg := smallTrainConfig(KindMVP, d, out)
				cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps = 20, 260, 10
				cfg.EvalEvery, cfg.CheckpointEvery = 90, 100 // evaluations at 90, 180 and 270, the last update
				cfg.ReplayCapacity = capacity
				return cfg
			}
			full := filepath.Join(dir, "full")
			if _, err := trainUntil(t, config(full), d, -1); err != nil {
				t.Fatal(err)
			}
			_, finals[capacity] = lastCheckpointBytes(t, full)
			// Pointmass episodes last 100 steps; updates start after 10 of them, so the first episode
			// ends at update 20+90 = 110 and the second at 210. The interruption at 180 (an evaluation
			// step) stops at 210, between the checkpoint boundaries 200 and 300.
			out := filepath.Join(dir, "broken")
			_, err := trainUntil(t, config(out), d, 180)
			var ie *InterruptedError
			if !errors.As(err, &ie) || ie.Step != 210 || ie.EnvSteps != 200 {
				t.Fatalf("interrupted run returned %v, want an interruption at the end of episode 2 (update 210, 200 environment steps)", err)
			}
			sum, err := trainUntil(t, config(out), d, -1)
			if err != nil {
				t.Fatal(err)
			}
			if sum.ResumedFrom != 210 {
				t.Fatalf("resumed from %d, want 210", sum.ResumedFrom)
			}
			sameRun(t, full, out)
		})
	}
	if len(finals) == 2 && bytes.Equal(finals[0], finals[d.Len()+50]) {
		t.Error("the small replay capacity changed nothing: the runs sampled the same rows")
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
	b, err := LoadAgent(backend, ck)
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
	obs := make([]float32, 2*a.Spec.ObsDim)
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
		a, err := LoadAgent(backend, ck)
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

// TestInterruptedErrorIs: the context's error and the cause given to its cancel are both found.
func TestInterruptedErrorIs(t *testing.T) {
	signal := errors.New("interrupted by SIGTERM")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signal)
	err := error(&InterruptedError{Step: 7, Checkpoint: "c", During: "offline training", Err: ctx.Err(), Cause: context.Cause(ctx)})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, signal) {
		t.Errorf("%v: errors.Is context.Canceled %v, cause %v", err, errors.Is(err, context.Canceled), errors.Is(err, signal))
	}
	if !strings.Contains(err.Error(), "step 7") || !strings.Contains(err.Error(), "checkpoint c") {
		t.Errorf("message %q", err)
	}
}

// TestRerunFinishedRun: running a finished run again evaluates nothing and logs nothing twice;
// a longer budget trains on and evaluates again at its new end.
func TestRerunFinishedRun(t *testing.T) {
	d := toyData(t, "toy:pointmass", "10")
	out := filepath.Join(t.TempDir(), "run")
	cfg := smallTrainConfig(KindBC, d, out)
	cfg.EvalEvery = 0
	first, err := trainUntil(t, cfg, d, -1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := trainUntil(t, cfg, d, -1)
	if err != nil || again.Final != first.Final || again.Steps != 40 {
		t.Fatalf("rerun: %+v, %v; first %+v", again, err, first)
	}
	cfg.OfflineSteps = 60
	if _, err := NewTrainer(agentTestBackend(t), cfg, d, toyEnvs("toy:pointmass")); err == nil || !strings.Contains(err.Error(), "offline_steps: 40 → 60") {
		t.Fatalf("a longer budget without AllowChange: got %v, want the refusal naming offline_steps", err)
	}
	cfg.AllowChange = []string{"offline_steps"}
	longer, err := trainUntil(t, cfg, d, -1)
	if err != nil || longer.Steps != 60 || longer.ResumedFrom != 40 {
		t.Fatalf("longer budget: %+v, %v", longer, err)
	}
	rows := strings.Join(logRows(t, out), "\n")
	if strings.Count(rows, "eval@40") != 1 || strings.Count(rows, "eval@60") != 1 {
		t.Errorf("want one final evaluation at 40 and one at 60 in the logs:\n%s", rows)
	}
}
