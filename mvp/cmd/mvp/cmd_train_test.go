package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/mvp"
)

// smallTrain returns `mvp train` arguments for a tiny offline run into out.
func smallTrain(out string, extra ...string) []string {
	return append([]string{"--dataset", "toy:cube-task1", "--hidden", "16", "--batch", "8", "--offline-steps", "10",
		"--online-steps", "0", "--eval-episodes", "0", "--checkpoint-every", "0", "--log-every", "1000",
		"--no-progress", "--out", out}, extra...)
}

// TestTrainFlagsAndResume checks that unset flags keep the chosen kind's defaults, that --lambda
// reaches the checkpoint's spec, and that resuming with other settings is refused with every
// field named, unless allowed.
func TestTrainFlagsAndResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := runTrain(smallTrain(out, "--agent", "mvp", "--lambda", "0.25", "--seed", "2")); err != nil {
		t.Fatal(err)
	}
	ck, err := mvp.LatestCheckpoint(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := mvp.DefaultSpec(mvp.KindMVP, ck.Spec.ObsDim, ck.Spec.ActDim)
	diff := strings.Join(mvp.SpecDiff(def, ck.Spec), "; ")
	for _, want := range []string{"generator.lambda: 1 → 0.25", "generator.hidden: [512,512,512,512] → [16]", "batch_size: 256 → 8", "seed: 0 → 2"} {
		if !strings.Contains(diff, want) {
			t.Errorf("trained spec differs from the kind's defaults in %q, want %q among them", diff, want)
		}
	}
	if n := len(mvp.SpecDiff(def, ck.Spec)); n != 5 { // the four above and critic.hidden
		t.Errorf("trained spec differs from the defaults in %d fields (%s), want 5: unset flags must keep the kind's values", n, diff)
	}

	err = runTrain(smallTrain(out, "--agent", "bc", "--hidden", "64,64", "--lr", "0.5"))
	for _, want := range []string{"agent.kind", "agent.generator.hidden", "agent.learning_rate"} {
		if err == nil || !strings.Contains(err.Error(), want+":") {
			t.Errorf("--agent bc --hidden 64,64 --lr 0.5 on an mvp run: got %v, want %s named", err, want)
		}
	}
	if err := runTrain(smallTrain(out, "--agent", "mvp", "--lambda", "0.25", "--seed", "5")); err == nil || !strings.Contains(err.Error(), "seed: 2 → 5") {
		t.Errorf("resume with another --seed: got %v", err)
	}
	if err := runTrain(smallTrain(out, "--agent", "mvp", "--lambda", "0.25", "--offline-steps", "12")); err == nil || !strings.Contains(err.Error(), "offline_steps: 10 → 12") {
		t.Errorf("resume with a longer budget, not allowed: got %v", err)
	}
	// Without --seed the run's seed is used; a longer budget is allowed by --allow-change.
	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err = runTrain(smallTrain(out, "--agent", "mvp", "--lambda", "0.25", "--offline-steps", "12", "--allow-change", "offline-steps"))
	w.Close()
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	var sum mvp.TrainSummary
	if err := json.NewDecoder(r).Decode(&sum); err != nil || sum.Steps != 12 || sum.ResumedFrom != 10 {
		t.Fatalf("resumed run: %+v, %v; want 10 → 12 updates", sum, err)
	}
	if err := runTrain(smallTrain(filepath.Join(t.TempDir(), "r2"), "--agent", "qc", "--lambda", "0.5")); err == nil || !strings.Contains(err.Error(), "no IVC term") {
		t.Errorf("--lambda on a flow agent: got %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy-target", "best"}, `--policy-target "best": must be one of batch, best-of-n`},
		{[]string{"--critic-hidden", "16,0"}, `--critic-hidden "16,0": "0" is not a width`},
		{[]string{"--agent", "mvp", "--alpha", "5"}, "no distillation term"},
		{[]string{"--agent", "fql", "--alpha", "-1"}, "--alpha -1: must be a finite value ≥ 0"},
		{[]string{"--agent", "bc", "--policy-target", "best-of-n"}, "no critic"},
	} {
		if err := runTrain(smallTrain(filepath.Join(t.TempDir(), "r3"), c.args...)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}

// TestTrainFQLFlags trains FQL with --alpha, --critic-hidden and --policy-target: each reaches the
// checkpoint's spec, and resuming with another α is refused naming it.
func TestTrainFQLFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fql")
	args := []string{"--agent", "fql", "--alpha", "10", "--critic-hidden", "8", "--policy-target", "best-of-n"}
	if err := runTrain(smallTrain(out, args...)); err != nil {
		t.Fatal(err)
	}
	ck, err := mvp.LatestCheckpoint(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := mvp.DefaultSpec(mvp.KindFQL, ck.Spec.ObsDim, ck.Spec.ActDim)
	diff := strings.Join(mvp.SpecDiff(def, ck.Spec), "; ")
	for _, want := range []string{"generator.fql.alpha: 100 → 10", "critic.hidden: [512,512,512,512] → [8]",
		`policy_target: unset → "best-of-n"`, "generator.hidden: [512,512,512,512] → [16]"} {
		if !strings.Contains(diff, want) {
			t.Errorf("trained spec differs from fql's defaults in %q, want %q among them", diff, want)
		}
	}
	args[3] = "20"
	if err := runTrain(smallTrain(out, args...)); err == nil || !strings.Contains(err.Error(), "agent.generator.fql.alpha: 10 → 20") {
		t.Errorf("resume with another --alpha: got %v", err)
	}
}
