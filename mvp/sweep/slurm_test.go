package sweep

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRanges(t *testing.T) {
	for want, idx := range map[string][]int{
		"0-179":      seq(180),
		"0-3,7,9-10": {9, 0, 1, 2, 3, 7, 10},
		"5":          {5},
		"":           nil,
	} {
		if got := Ranges(idx); got != want {
			t.Errorf("Ranges(%v) = %q, want %q", idx, got, want)
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestTable1Script checks the paper's grid as one job array: 180 tasks, the preset's resources,
// requeueing, a log per task, and one `mvp train` command per array index.
func TestTable1Script(t *testing.T) {
	spec, err := ParseFile("../../sweeps/table1.toml")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := spec.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 180 {
		t.Fatalf("%d runs, want 9 tasks × 4 agents × 5 seeds = 180", len(runs))
	}
	script := Slurm{Exe: "/opt/mvp/bin/mvp"}.Script("/scratch/table1", spec, runs, nil)
	for _, w := range []string{
		"#SBATCH --array=0-179\n", "#SBATCH --requeue\n", "#SBATCH --output=/scratch/table1/logs/%A_%a.out\n",
		"#SBATCH --gres=gpu:1\n", "#SBATCH --cpus-per-task=4\n", "#SBATCH --mem=32G\n", "#SBATCH --time=24:00:00\n",
		"#SBATCH --job-name=table1\n", "MVP=/opt/mvp/bin/mvp\n", "DIR=/scratch/table1\n",
	} {
		if !strings.Contains(script, w) {
			t.Errorf("script lacks %q", w)
		}
	}
	cases := regexp.MustCompile(`(?m)^(\d+)\) run=(\S+); args=\(train --agent (\S+) --dataset (\S+) --env (\S+) --seed (\d) .*--offline-steps 1000000 --online-steps 1000000\) ;;$`).FindAllStringSubmatch(script, -1)
	if len(cases) != 180 {
		t.Fatalf("%d array cases with the paper's budget, want 180", len(cases))
	}
	kinds := map[string]int{}
	for i, c := range cases {
		if c[1] != strconv.Itoa(i) || c[2] != runs[i].Name {
			t.Errorf("case %d: %v", i, c[:3])
		}
		kinds[c[3]]++
	}
	for _, k := range []string{"fql", "bfn", "qc", "mvp"} {
		if kinds[k] != 45 {
			t.Errorf("agent %s has %d runs, want 45", k, kinds[k])
		}
	}
	checkBash(t, script)
}

func checkBash(t *testing.T, script string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to check the batch script")
	}
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v: %s", err, out)
	}
}

// TestScriptRunsTask executes the batch script of the smoke preset as Slurm would for array task
// 3, with a binary that records its arguments: it must exec `mvp sweep task` for run 3 with the
// exact `mvp train` command of that run.
func TestScriptRunsTask(t *testing.T) {
	spec, err := ParseFile("../../sweeps/smoke.toml")
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := spec.Expand()
	tmp := t.TempDir()
	exe := filepath.Join(tmp, "mvp")
	os.WriteFile(exe, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > \"$ARGS_FILE\"\n"), 0o755)
	dir := filepath.Join(tmp, "sweep dir") // a space must survive the quoting
	script := Slurm{Exe: exe}.Script(dir, spec, runs, []int{1, 3})
	if !strings.Contains(script, "#SBATCH --array=1,3\n") || !strings.Contains(script, "#SBATCH --cpus-per-task=2\n") {
		t.Errorf("script header:\n%s", script[:400])
	}
	path := filepath.Join(tmp, "job.sh")
	os.WriteFile(path, []byte(script), 0o755)
	argsFile := filepath.Join(tmp, "args")
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_JOB_ID=77", "ARGS_FILE="+argsFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, _ := os.ReadFile(argsFile)
	rd := RunDir(dir, runs[3].Name)
	want := append([]string{"sweep", "task", "--job", "77_3", rd, "--"}, runs[3].Args(rd)...)
	if strings.TrimSpace(string(got)) != strings.Join(want, "\n") {
		t.Errorf("the task ran\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	cmd = exec.Command("bash", path)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=9", "SLURM_ARRAY_JOB_ID=77", "ARGS_FILE="+argsFile)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no run has index 9") {
		t.Errorf("unknown index: %v %s", err, out)
	}
}

// TestSubmit drives Submit with stand-ins for sbatch and squeue: the first call submits every run
// and records the job; a second one while they are queued submits nothing; once the job left the
// queue, the runs that did not finish are submitted again, and only those.
func TestSubmit(t *testing.T) {
	tmp := t.TempDir()
	sbatch := filepath.Join(tmp, "sbatch")
	os.WriteFile(sbatch, []byte("#!/bin/sh\necho \"$@\" >> \""+tmp+"/sbatch.calls\"\necho \"$JOB;cluster\"\n"), 0o755)
	squeue := filepath.Join(tmp, "squeue")
	os.WriteFile(squeue, []byte("#!/bin/sh\nif [ -n \"$QUEUED\" ]; then echo \"$QUEUED\" | tr ' ' '\\n'; exit 0; fi\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n"), 0o755)
	spec, err := ParseFile("../../sweeps/smoke.toml")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile("../../sweeps/smoke.toml")
	d, err := Prepare(filepath.Join(tmp, "sw"), spec, text)
	if err != nil {
		t.Fatal(err)
	}
	s := Slurm{Exe: "/bin/mvp", Sbatch: sbatch, Squeue: squeue}
	t.Setenv("JOB", "123")
	res, err := s.Submit(context.Background(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Job != "123" || res.Array != "0-3" {
		t.Fatalf("first submission: %+v", res)
	}
	b, _ := os.ReadFile(res.Script)
	if !strings.Contains(string(b), "#SBATCH --array=0-3\n") {
		t.Error("submitted script lacks the array")
	}
	sts, _ := d.Statuses(time.Now())
	for _, st := range sts {
		if st.State != Pending || st.Job != "123" {
			t.Errorf("after submission: %+v", st)
		}
	}
	// Queued: nothing to do.
	t.Setenv("QUEUED", "123_0 123_1 123_2 123_3")
	if res, err := s.Submit(context.Background(), d, false); err != nil || res.Array != "" {
		t.Errorf("while queued: %+v %v", res, err)
	}
	// Run 0 finished, run 1 failed, runs 2–3 vanished from the queue (cancelled while pending).
	r0, r1 := d.Runs[0], d.Runs[1]
	now := time.Now()
	fakeRun(t, d.Dir, r0, &Record{State: "exited", Start: now, Heartbeat: now, Args: r0.Args(RunDir(d.Dir, r0.Name))}, nil, "")
	fakeRun(t, d.Dir, r1, &Record{State: "exited", Start: now, Heartbeat: now, ExitCode: 1, Error: "x", Args: r1.Args(RunDir(d.Dir, r1.Name))}, nil, "")
	t.Setenv("QUEUED", "")
	t.Setenv("JOB", "124")
	res, err = s.Submit(context.Background(), d, false)
	if err != nil || res.Array != "1-3" || res.Job != "124" {
		t.Errorf("resubmission: %+v %v", res, err)
	}
	// Run 2 was preempted (its record says interrupted, job 124_2) and Slurm requeued it; run 3
	// is still queued; run 1's task vanished: only run 1 is due.
	time.Sleep(10 * time.Millisecond)
	r2 := d.Runs[2]
	now = time.Now()
	fakeRun(t, d.Dir, r2, &Record{State: "exited", Start: now, Heartbeat: now, ExitCode: 1, Error: "interrupted: x", Job: "124_2", Args: r2.Args(RunDir(d.Dir, r2.Name))}, nil, "")
	t.Setenv("QUEUED", "124_2 124_3")
	t.Setenv("JOB", "125")
	res, err = s.Submit(context.Background(), d, false)
	if err != nil || res.Array != "1" || res.Job != "125" {
		t.Errorf("with a requeued task: %+v %v", res, err)
	}
	calls, _ := os.ReadFile(filepath.Join(tmp, "sbatch.calls"))
	if n := strings.Count(string(calls), "--parsable"); n != 3 {
		t.Errorf("sbatch called %d times, want 3", n)
	}
	// A dry run submits nothing and returns the script.
	res, err = s.Submit(context.Background(), d, true)
	if err != nil || !strings.HasPrefix(res.Script, "#!/bin/bash") {
		t.Errorf("dry run: %v", err)
	}
	calls, _ = os.ReadFile(filepath.Join(tmp, "sbatch.calls"))
	if n := strings.Count(string(calls), "--parsable"); n != 3 {
		t.Errorf("the dry run called sbatch")
	}
}
