package sweep

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Slurm submits a sweep's unfinished runs as one job array: array task i is run i of the
// expansion, whose body is `mvp sweep task RUN_DIR -- train …`. Tasks are requeued on preemption
// or node failure (--requeue) and resume from their checkpoints; calling Submit again submits the
// runs that are neither done, running nor still queued.
type Slurm struct {
	Exe string // the mvp binary on the compute nodes (default: the spec's slurm.binary, else this one)
	// Sbatch and Squeue are the commands to call; default "sbatch" and "squeue".
	Sbatch, Squeue string
}

// Script is the batch script that runs the array tasks in indices (all runs when nil) of the
// sweep in dir. It needs no file of the sweep directory: every run's command is in it.
func (s Slurm) Script(dir string, spec *Spec, runs []Run, indices []int) string {
	if indices == nil {
		for _, r := range runs {
			indices = append(indices, r.Index)
		}
	}
	exe := s.Exe
	if exe == "" {
		exe = spec.Slurm.Binary
	}
	res := spec.Resources
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "# mvp sweep %s: %d runs; array task i is run i of %s\n", spec.Name, len(runs), filepath.Join(dir, RunsFile))
	directive := func(format string, a ...any) { fmt.Fprintf(&b, "#SBATCH "+format+"\n", a...) }
	directive("--job-name=%s", shellQuote(spec.Name))
	array := Ranges(indices)
	if spec.Slurm.MaxParallel > 0 {
		array += "%" + strconv.Itoa(spec.Slurm.MaxParallel)
	}
	directive("--array=%s", array)
	directive("--requeue")
	directive("--output=%s", filepath.Join(dir, LogsDir, "%A_%a.out"))
	directive("--ntasks=1")
	directive("--cpus-per-task=%d", res.CPUs)
	if res.GPUs > 0 {
		directive("--gres=gpu:%d", res.GPUs)
	}
	if res.Mem != "" {
		directive("--mem=%s", res.Mem)
	}
	if res.Time != "" {
		directive("--time=%s", res.Time)
	}
	if res.Partition != "" {
		directive("--partition=%s", res.Partition)
	}
	if res.Account != "" {
		directive("--account=%s", res.Account)
	}
	for _, e := range spec.Slurm.Extra {
		directive("%s", e)
	}
	b.WriteString("set -euo pipefail\n")
	for _, l := range spec.Slurm.Setup {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "MVP=%s\nDIR=%s\n", shellQuote(exe), shellQuote(dir))
	b.WriteString("case \"$SLURM_ARRAY_TASK_ID\" in\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "%d) run=%s; args=(%s) ;;\n", r.Index, shellQuote(r.Name), ShellJoin(r.Train))
	}
	b.WriteString("*) echo \"no run has index $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n")
	b.WriteString("# The task records its state in the run directory; mvp train resumes from its checkpoints.\n")
	b.WriteString("exec \"$MVP\" sweep task --job \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\" \"$DIR/runs/$run\" -- \"${args[@]}\" --out \"$DIR/runs/$run\"\n")
	return b.String()
}

// Ranges writes sorted indices as Slurm's array syntax: 0-3,7,9-10.
func Ranges(idx []int) string {
	idx = append([]int(nil), idx...)
	sort.Ints(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// SubmitResult says what Submit did.
type SubmitResult struct {
	Job     string      `json:"job,omitempty"` // the array job id
	Array   string      `json:"array"`         // the submitted indices ("" when nothing was due)
	Script  string      `json:"script,omitempty"`
	Results []RunResult `json:"runs"`
}

// Submit submits the runs of d that are due: not done, not running and not in Slurm's queue.
// With dryRun it only returns the script (Results say what would be submitted).
func (s Slurm) Submit(ctx context.Context, d *SweepDir, dryRun bool) (*SubmitResult, error) {
	queued, err := s.queuedTasks(ctx, d, dryRun)
	if err != nil {
		return nil, err
	}
	out := &SubmitResult{}
	var due []int
	for _, r := range d.Runs {
		st, err := StateOf(d.Dir, r, time.Now())
		if err != nil {
			return nil, err
		}
		res := RunResult{Name: r.Name, State: st.State, Action: "skipped"}
		switch {
		case st.State == Done || st.State == Running:
		case inQueue(queued, st.Job, r.Index):
			// Queued and not started yet, or interrupted and requeued by Slurm (preemption).
		default:
			res.Action = "submitted"
			due = append(due, r.Index)
		}
		out.Results = append(out.Results, res)
	}
	if len(due) == 0 {
		return out, nil
	}
	out.Array = Ranges(due)
	script := s.Script(d.Dir, d.Spec, d.Runs, due)
	if dryRun {
		for k := range out.Results {
			if out.Results[k].Action == "submitted" {
				out.Results[k].Action = "would submit"
			}
		}
		out.Script = script
		return out, nil
	}
	if err := os.MkdirAll(filepath.Join(d.Dir, LogsDir), 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	out.Script = filepath.Join(d.Dir, "job-"+time.Now().UTC().Format("20060102T150405")+".sh")
	if err := os.WriteFile(out.Script, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	// Queued records are written before submitting, so that a task that starts at once is newer.
	now := time.Now().UTC()
	for _, i := range due {
		rd := RunDir(d.Dir, d.Runs[i].Name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		if err := writeJSON(filepath.Join(rd, QueuedFile), Queued{Time: now}); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
	}
	sbatch := s.Sbatch
	if sbatch == "" {
		sbatch = "sbatch"
	}
	cmd := exec.CommandContext(ctx, sbatch, "--parsable", out.Script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		for _, i := range due {
			_ = os.Remove(filepath.Join(RunDir(d.Dir, d.Runs[i].Name), QueuedFile))
		}
		return nil, fmt.Errorf("sweep: %s %s: %v: %s", sbatch, out.Script, err, strings.TrimSpace(stderr.String()))
	}
	job, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";") // "jobid[;cluster]"
	if _, err := strconv.Atoi(job); err != nil {
		return nil, fmt.Errorf("sweep: sbatch answered %q, not a job id", stdout.String())
	}
	out.Job = job
	for _, i := range due {
		rd := RunDir(d.Dir, d.Runs[i].Name)
		var q Queued
		if ok, _ := readJSON(filepath.Join(rd, QueuedFile), &q); ok && q.Job == "" {
			q.Job = job
			_ = writeJSON(filepath.Join(rd, QueuedFile), q)
		}
	}
	return out, nil
}

// inQueue tells whether the run's Slurm job ("123" from its queued record, or "123_4" from its
// status record) is among the queued array tasks.
func inQueue(queued map[string]bool, job string, index int) bool {
	if job == "" {
		return false
	}
	if !strings.Contains(job, "_") {
		job += "_" + strconv.Itoa(index)
	}
	return queued[job]
}

// queuedTasks asks squeue which array tasks ("job_index") of the jobs named in d's queued and
// status records are still pending or running.
func (s Slurm) queuedTasks(ctx context.Context, d *SweepDir, dryRun bool) (map[string]bool, error) {
	jobs := map[string]bool{}
	for _, r := range d.Runs {
		rd := RunDir(d.Dir, r.Name)
		var q Queued
		if ok, _ := readJSON(filepath.Join(rd, QueuedFile), &q); ok && q.Job != "" {
			jobs[q.Job] = true
		}
		var rec Record
		if ok, _ := readJSON(filepath.Join(rd, StatusFile), &rec); ok && rec.Job != "" {
			j, _, _ := strings.Cut(rec.Job, "_")
			jobs[j] = true
		}
	}
	out := map[string]bool{}
	if len(jobs) == 0 {
		return out, nil
	}
	var ids []string
	for j := range jobs {
		ids = append(ids, j)
	}
	sort.Strings(ids)
	squeue := s.Squeue
	if squeue == "" {
		squeue = "squeue"
	}
	cmd := exec.CommandContext(ctx, squeue, "--noheader", "--array", "--format=%i", "--jobs="+strings.Join(ids, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// squeue fails on job ids it no longer knows: then none of them is queued. Any other failure
		// would risk submitting a run twice.
		if strings.Contains(stderr.String(), "Invalid job id") {
			return out, nil
		}
		if dryRun {
			return out, nil
		}
		return nil, fmt.Errorf("sweep: %s: %v: %s", squeue, err, strings.TrimSpace(stderr.String()))
	}
	for _, l := range strings.Fields(stdout.String()) {
		out[l] = true
	}
	return out, nil
}
