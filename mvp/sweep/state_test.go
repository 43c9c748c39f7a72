package sweep

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeRun lays out a run directory as the executors and `mvp train` leave it.
func fakeRun(t *testing.T, dir string, r Run, rec *Record, q *Queued, metrics string) {
	t.Helper()
	rd := RunDir(dir, r.Name)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	if rec != nil {
		if err := writeJSON(filepath.Join(rd, StatusFile), rec); err != nil {
			t.Fatal(err)
		}
	}
	if q != nil {
		if err := writeJSON(filepath.Join(rd, QueuedFile), q); err != nil {
			t.Fatal(err)
		}
	}
	if metrics != "" {
		if err := os.WriteFile(filepath.Join(rd, "metrics.jsonl"), []byte(metrics), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStateOf(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	train := []string{"train", "--agent", "mvp", "--dataset", "toy:pointmass", "--seed", "0"}
	run := func(name string) Run { return Run{Name: name, Agent: "mvp", Task: "pm", Train: train} }
	args := func(name string) []string { return run(name).Args(RunDir(dir, name)) }
	metrics := `{"step":100,"phase":"train","actor_loss":1}
{"step":100,"phase":"eval","success_rate":0.25,"return":-3}
{"step":150,"phase":"train","actor_loss":0.5}
{"step":200,"phase":"eval","success_rate":null}
`
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	cases := []struct {
		name       string
		rec        *Record
		q          *Queued
		metrics    string
		state      string
		error      string
		note, job  string
		step, eval int64
		success    float64
	}{
		{name: "fresh", state: Pending},
		{name: "queued", q: &Queued{Time: ago(time.Minute), Job: "42"}, state: Pending, note: "queued as Slurm job 42", job: "42"},
		{name: "running", rec: &Record{State: "running", Start: ago(time.Hour), Heartbeat: ago(5 * time.Second), Host: host, PID: os.Getpid(), Job: "42_1", Args: args("running")},
			q: &Queued{Time: ago(2 * time.Hour), Job: "42"}, metrics: metrics, state: Running, job: "42_1", step: 200, eval: 100, success: 0.25},
		{name: "running elsewhere", rec: &Record{State: "running", Start: ago(time.Hour), Heartbeat: ago(5 * time.Second), Host: "other-node", PID: 1, Args: args("running elsewhere")}, state: Running},
		{name: "stale", rec: &Record{State: "running", Start: ago(time.Hour), Heartbeat: ago(10 * time.Minute), Host: "other-node", PID: 1, Args: args("stale")}, state: Failed, error: "lost: no heartbeat since 2026-12-02T11:50:00Z (process killed or node lost)"},
		{name: "vanished", rec: &Record{State: "running", Start: ago(time.Hour), Heartbeat: ago(time.Second), Host: host, PID: dead.Process.Pid, Args: args("vanished")}, state: Failed},
		{name: "done", rec: &Record{State: "exited", Start: ago(time.Hour), Heartbeat: ago(time.Minute), Args: args("done")}, metrics: metrics, state: Done, step: 200, eval: 100, success: 0.25},
		{name: "done moved", rec: &Record{State: "exited", Start: ago(time.Hour), Heartbeat: ago(time.Minute), Args: append(append([]string{}, train...), "--out", "/elsewhere")}, state: Done},
		{name: "flags changed", rec: &Record{State: "exited", Start: ago(time.Hour), Args: []string{"train", "--agent", "qc"}}, state: Pending, note: "finished with other flags; will be resumed with the current ones"},
		{name: "failed", rec: &Record{State: "exited", Start: ago(time.Hour), ExitCode: 1, Error: "mvp train: step 7: diverged", Job: "42_3", Args: args("failed")}, state: Failed, error: "mvp train: step 7: diverged", job: "42_3"},
		{name: "requeued", rec: &Record{State: "exited", Start: ago(time.Hour), ExitCode: 1, Error: "x", Args: args("requeued")}, q: &Queued{Time: ago(time.Minute), Job: "43"}, state: Pending, note: "queued as Slurm job 43", job: "43"},
	}
	for _, c := range cases {
		r := run(c.name)
		fakeRun(t, dir, r, c.rec, c.q, c.metrics)
		st, err := StateOf(dir, r, now)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if st.State != c.state || st.Note != c.note || st.Job != c.job || st.Step != c.step || st.EvalStep != c.eval {
			t.Errorf("%s: got %+v, want state %s note %q job %q step %d eval step %d", c.name, st, c.state, c.note, c.job, c.step, c.eval)
		}
		if c.error != "" && st.Error != c.error {
			t.Errorf("%s: error %q, want %q", c.name, st.Error, c.error)
		}
		if c.name == "vanished" && st.Error == "" {
			t.Errorf("vanished: no error")
		}
		if (st.Success == nil) != (c.success == 0) || (st.Success != nil && *st.Success != c.success) {
			t.Errorf("%s: success %v, want %v", c.name, st.Success, c.success)
		}
	}
	// A corrupt record is an error naming the run.
	r := run("corrupt")
	fakeRun(t, dir, r, nil, nil, "")
	os.WriteFile(filepath.Join(RunDir(dir, r.Name), StatusFile), []byte("{"), 0o644)
	if _, err := StateOf(dir, r, now); err == nil {
		t.Error("corrupt status.json: no error")
	}
}

func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	s, err := Parse([]byte(baseSpec), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir, s, []byte(baseSpec)); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 8 || d.Runs[7].Name != "qc-wide-cube-task1-s1" {
		t.Fatalf("reopened runs: %d", len(d.Runs))
	}
	// More seeds append runs per (task, agent), which moves indices: refused.
	more := []byte(strings.Replace(baseSpec, "seeds = [0, 1]", "seeds = [0, 1, 2]", 1))
	s2, err := Parse(more, "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir, s2, more); err == nil {
		t.Error("Prepare accepted a spec whose runs moved")
	}
	// One more task at the end keeps every index.
	task := []byte(baseSpec + "[[tasks]]\ndataset = \"toy:cube-task2\"\n")
	s3, err := Parse(task, "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Prepare(dir, s3, task); err != nil || len(d.Runs) != 12 {
		t.Errorf("appending a task: %v", err)
	}
	// A spec without a name keeps the one its file name gave.
	noName := []byte(strings.Replace(baseSpec, `name = "t"`, "", 1))
	s4, err := Parse(noName, "dir/study.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir4 := t.TempDir()
	if _, err := Prepare(dir4, s4, noName); err != nil {
		t.Fatal(err)
	}
	if d, err := Open(dir4); err != nil || d.Spec.Name != "study" {
		t.Errorf("reopened name: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of an empty directory: no error")
	}
}
