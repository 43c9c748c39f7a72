package sweep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const localSpec = `name = "loc"
seeds = [0, 1]
[budget]
offline-steps = 100
[[agents]]
kind = "mvp"
[[agents]]
kind = "qc"
[[tasks]]
name = "pm"
dataset = "toy:pointmass"
`

func fakeMVP(t *testing.T) string {
	exe, err := filepath.Abs("testdata/fake-mvp.sh")
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// localSweepDir prepares localSpec's 2 × 2 sweep in a fresh directory.
func localSweepDir(t *testing.T) *SweepDir {
	t.Helper()
	spec, err := Parse([]byte(localSpec), "loc.toml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Prepare(t.TempDir(), spec, []byte(localSpec))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestLocal runs a 2 × 2 sweep on a stand-in for `mvp train`: the seed-1 runs fail after their
// first checkpoint; running the sweep again skips the finished runs and resumes the failed ones
// from their checkpoints; a third time does nothing.
func TestLocal(t *testing.T) {
	d := localSweepDir(t)
	exe := fakeMVP(t)
	t.Setenv("FAKE_FAIL_SEED", "1")
	res, err := Local{Exe: exe, Workers: 2}.Run(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 runs failed") || !strings.Contains(err.Error(), "mvp-pm-s1: boom: fake failure after step 50") {
		t.Fatalf("first pass: error %v", err)
	}
	states := map[string]string{}
	for _, r := range res {
		states[r.Name] = r.Action + " " + r.State
	}
	if states["mvp-pm-s0"] != "ran done" || states["qc-pm-s1"] != "ran failed" {
		t.Errorf("first pass: %v", states)
	}
	st, _ := StateOf(d.Dir, d.Runs[1], time.Now())
	if st.State != Failed || st.Error != "boom: fake failure after step 50" || st.EvalStep != 50 || *st.Success != 0.25 {
		t.Errorf("failed run: %+v", st)
	}
	// The run's command is what a user would type, --out last.
	calls := readLines(t, filepath.Join(RunDir(d.Dir, "mvp-pm-s1"), "calls"))
	if got := strings.Join(calls, " "); got != "train --agent mvp --dataset toy:pointmass --seed 1 --offline-steps 100 --out "+RunDir(d.Dir, "mvp-pm-s1") {
		t.Errorf("command: %s", got)
	}

	t.Setenv("FAKE_FAIL_SEED", "")
	res, err = Local{Exe: exe, Workers: 1}.Run(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		want := "skipped done"
		if strings.HasSuffix(r.Name, "s1") {
			want = "ran done"
		}
		if got := r.Action + " " + r.State; got != want {
			t.Errorf("second pass %s: %s, want %s", r.Name, got, want)
		}
	}
	// Seed 0 started once from scratch; seed 1 twice, the second time from its checkpoint.
	if s := readLines(t, filepath.Join(RunDir(d.Dir, "qc-pm-s0"), "starts")); strings.Join(s, ",") != "0" {
		t.Errorf("qc-pm-s0 starts %v", s)
	}
	if s := readLines(t, filepath.Join(RunDir(d.Dir, "qc-pm-s1"), "starts")); strings.Join(s, ",") != "0,50" {
		t.Errorf("qc-pm-s1 starts %v", s)
	}
	var rec Record
	readJSON(filepath.Join(RunDir(d.Dir, "qc-pm-s1"), StatusFile), &rec)
	if rec.Attempt != 2 || rec.ExitCode != 0 || rec.Error != "" {
		t.Errorf("record after resume: %+v", rec)
	}
	out, _ := os.ReadFile(filepath.Join(RunDir(d.Dir, "qc-pm-s1"), StdoutFile))
	if !strings.Contains(string(out), `"resumed_from":50`) {
		t.Errorf("train.out: %s", out)
	}
	rep, err := d.BuildReport(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Final evaluations: seed s gives 0.(s+5): 0.5 and 0.6 for both agents.
	for _, c := range rep.Table[0] {
		if c.N != 2 || !near(c.Mean, 0.55) || c.InProgress {
			t.Errorf("cell %+v", c)
		}
	}

	res, err = Local{Exe: exe}.Run(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != "skipped" {
			t.Errorf("third pass ran %s", r.Name)
		}
	}
}

// TestProcessInterrupt cancels a run mid-way: the process gets SIGTERM, the record says
// interrupted with the process's last line, and the next attempt resumes.
func TestProcessInterrupt(t *testing.T) {
	rd := filepath.Join(t.TempDir(), "r")
	args := []string{"train", "--agent", "mvp", "--seed", "0", "--out", rd}
	t.Setenv("FAKE_HANG", "1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		code, err = Process{Exe: fakeMVP(t), RunDir: rd, Args: args, Grace: 5 * time.Second}.Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(rd, "ckpt")); strings.TrimSpace(string(b)) == "50" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake never checkpointed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the fake reach its wait
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the run")
	}
	if err != nil || code != 1 {
		t.Fatalf("code %d err %v", code, err)
	}
	var rec Record
	readJSON(filepath.Join(rd, StatusFile), &rec)
	if rec.State != "exited" || rec.Error != "interrupted: fake mvp: terminated at step 50" {
		t.Errorf("record %+v", rec)
	}
	t.Setenv("FAKE_HANG", "")
	if code, err := (Process{Exe: fakeMVP(t), RunDir: rd, Args: args}).Run(context.Background()); code != 0 || err != nil {
		t.Fatalf("second attempt: %d %v", code, err)
	}
	if s := readLines(t, filepath.Join(rd, "starts")); strings.Join(s, ",") != "0,50" {
		t.Errorf("starts %v", s)
	}
	stderr, _ := os.ReadFile(filepath.Join(rd, StderrFile))
	if strings.Count(string(stderr), "== attempt ") != 2 {
		t.Errorf("train.err:\n%s", stderr)
	}
}

// Two executors on the same sweep directory at once (a second `mvp sweep run` to add workers, or
// one started by mistake) run every run exactly once: each re-checks a run's state before starting
// it, and the run directory's lock settles two starts at the same moment.
func TestLocalTwoExecutorsRunEachRunOnce(t *testing.T) {
	d := localSweepDir(t)
	exe := fakeMVP(t)
	t.Setenv("FAKE_SLEEP", "0.3")
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := Local{Exe: exe, Workers: 2}.Run(context.Background(), d)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range d.Runs {
		if calls := readLines(t, filepath.Join(RunDir(d.Dir, r.Name), "starts")); len(calls) != 1 {
			t.Errorf("%s was started %d times: %v", r.Name, len(calls), calls)
		}
		if st, _ := StateOf(d.Dir, r, time.Now()); st.State != Done {
			t.Errorf("%s: state %s", r.Name, st.State)
		}
	}
}

// A run directory whose lock another process holds is left alone: nothing starts, and its status
// record is not touched.
func TestProcessLeavesALockedRunAlone(t *testing.T) {
	rd := t.TempDir()
	unlock, ok, err := lockRunDir(rd)
	if err != nil || !ok {
		t.Fatalf("lockRunDir: ok %v, %v", ok, err)
	}
	defer unlock()
	code, err := Process{Exe: fakeMVP(t), RunDir: rd, Args: []string{"train", "--seed", "0", "--out", rd}}.Run(context.Background())
	if !errors.Is(err, ErrRunBusy) || code != -1 {
		t.Fatalf("Run on a locked directory: code %d, error %v; want ErrRunBusy", code, err)
	}
	for _, f := range []string{StatusFile, "starts", StdoutFile} {
		if _, err := os.Stat(filepath.Join(rd, f)); !os.IsNotExist(err) {
			t.Errorf("%s was written (stat: %v)", f, err)
		}
	}
}
