package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gomvp/gomvp/mvp/runlog"
)

// States of a run.
const (
	Pending = "pending" // not started, or queued, or to be resumed after its flags changed
	Running = "running" // a live process is training it
	Done    = "done"    // `mvp train` exited with status 0 for the run's current command
	Failed  = "failed"  // exited with an error, was interrupted, or its process vanished
)

// Files of a sweep directory and of its run directories.
const (
	SpecFile   = "sweep.toml" // copy of the spec
	RunsFile   = "runs.json"  // the expanded runs
	RunsDir    = "runs"       // one `mvp train --out` directory per run
	LogsDir    = "logs"       // Slurm's output files, one per array task
	StatusFile = "status.json"
	QueuedFile = "queued.json"
	StdoutFile = "train.out" // the run's stdout, appended to by each attempt
	StderrFile = "train.err"
	// LockFile is locked (flock) by the process running the run, for as long as it runs.
	LockFile = "run.lock"
)

// RunDir is the directory of the run named name in sweep directory dir.
func RunDir(dir, name string) string { return filepath.Join(dir, RunsDir, name) }

// HeartbeatEvery is how often a running run's status record is refreshed; a record older than
// StaleAfter belongs to a process that is gone (killed with SIGKILL, node lost).
var (
	HeartbeatEvery = 10 * time.Second
	StaleAfter     = 60 * time.Second
)

// Record is a run's status.json, written by the Process that runs it.
type Record struct {
	State     string    `json:"state"` // "running" or "exited"
	Start     time.Time `json:"start"`
	Heartbeat time.Time `json:"heartbeat"`
	End       time.Time `json:"end,omitzero"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Job       string    `json:"job,omitempty"` // Slurm array job and task, e.g. "1234_5"
	Attempt   int       `json:"attempt"`
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"` // last line of stderr on failure
	Args      []string  `json:"args"`
}

// Queued is a run's queued.json, written when it is submitted to Slurm.
type Queued struct {
	Time time.Time `json:"time"`
	Job  string    `json:"job"` // the array job id ("" until sbatch answered)
}

// Status is what status and report say about a run.
type Status struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Step is the last update logged in metrics.jsonl; Success the latest evaluation's success
	// rate at EvalStep (NaN, written as null, before the first).
	Step     int64    `json:"step"`
	EvalStep int64    `json:"eval_step"`
	Success  *float64 `json:"success_rate"`
	// Error is the failure's last line; Note says why a run is pending or running where it helps.
	Error string `json:"error,omitempty"`
	Note  string `json:"note,omitempty"`
	Job   string `json:"job,omitempty"`
	Agent string `json:"agent"`
	Task  string `json:"task"`
	Seed  int64  `json:"seed"`
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// writeJSON writes atomically: status readers never see half a record.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// StateOf derives the state of run r in sweep directory dir at time now from the run directory
// alone (status.json, queued.json, metrics.jsonl):
//
//	no record                          → pending
//	queued after the last start        → pending (note: the Slurm job)
//	running, fresh heartbeat, alive    → running
//	running, stale heartbeat or no pid → failed ("lost")
//	exited 0 with the current command  → done
//	exited 0 with another command      → pending (its flags changed; `mvp train` resumes it)
//	exited ≠ 0                         → failed (error: stderr's last line)
func StateOf(dir string, r Run, now time.Time) (Status, error) {
	rd := RunDir(dir, r.Name)
	st := Status{Name: r.Name, State: Pending, Agent: r.Agent, Task: r.Task, Seed: r.Seed}
	var rec Record
	hasRec, err := readJSON(filepath.Join(rd, StatusFile), &rec)
	if err != nil {
		return st, fmt.Errorf("sweep: run %s: %w", r.Name, err)
	}
	var q Queued
	hasQ, err := readJSON(filepath.Join(rd, QueuedFile), &q)
	if err != nil {
		return st, fmt.Errorf("sweep: run %s: %w", r.Name, err)
	}
	if err := readProgress(rd, &st); err != nil {
		return st, fmt.Errorf("sweep: run %s: %w", r.Name, err)
	}
	switch {
	case hasQ && (!hasRec || q.Time.After(rec.Start)):
		st.Job = q.Job
		st.Note = "queued"
		if q.Job != "" {
			st.Note = "queued as Slurm job " + q.Job
		}
	case !hasRec:
	case rec.State == "running":
		st.Job = rec.Job
		switch {
		case now.Sub(rec.Heartbeat) > StaleAfter:
			st.State, st.Error = Failed, fmt.Sprintf("lost: no heartbeat since %s (process killed or node lost)", rec.Heartbeat.UTC().Format(time.RFC3339))
		case !processAlive(rec.Host, rec.PID):
			st.State, st.Error = Failed, fmt.Sprintf("lost: process %d on %s is gone", rec.PID, rec.Host)
		default:
			st.State = Running
		}
	case rec.ExitCode == 0 && slices.Equal(withoutOut(rec.Args), r.Train):
		st.State = Done
	case rec.ExitCode == 0:
		st.Note = "finished with other flags; will be resumed with the current ones"
	default:
		st.State, st.Error, st.Job = Failed, rec.Error, rec.Job
	}
	return st, nil
}

// readProgress fills the step reached and the latest evaluation from metrics.jsonl.
func readProgress(rd string, st *Status) error {
	recs, err := runlog.ReadJSONL(filepath.Join(rd, "metrics.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, rec := range recs {
		st.Step = max(st.Step, rec.Step)
		if rec.Phase == "eval" && rec.Step >= st.EvalStep {
			if v, ok := rec.Metrics["success_rate"]; ok && !math.IsNaN(v) {
				st.EvalStep, st.Success = rec.Step, &v
			}
		}
	}
	return nil
}

// withoutOut drops the --out flag: a finished run stays finished when its sweep directory moves.
func withoutOut(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--out" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// SweepDir is a sweep directory's spec and runs, as written by Prepare.
type SweepDir struct {
	Dir  string
	Spec *Spec
	Runs []Run
}

// Prepare makes dir a sweep directory for spec: it writes the spec's copy and the expanded runs.
// A directory that already holds a sweep may be prepared again with a spec that expands to the
// same runs, or to more runs as long as the existing ones keep their names and indices (more
// seeds or tasks appended); anything else is refused, because queued Slurm tasks find their run
// by index.
func Prepare(dir string, spec *Spec, specText []byte) (*SweepDir, error) {
	runs, err := spec.Expand()
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var old []Run
	has, err := readJSON(filepath.Join(dir, RunsFile), &old)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if has {
		if len(old) > len(runs) {
			return nil, fmt.Errorf("sweep: %s holds %d runs, the spec gives %d: use another --out", dir, len(old), len(runs))
		}
		for i, o := range old {
			if o.Name != runs[i].Name {
				return nil, fmt.Errorf("sweep: %s holds a different sweep (run %d is %s there, %s in the spec): use another --out", dir, i, o.Name, runs[i].Name)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if !specHasName(specText) { // the copy keeps the name the file name gave
		specText = append([]byte(fmt.Sprintf("name = %q\n", spec.Name)), specText...)
	}
	if err := os.WriteFile(filepath.Join(dir, SpecFile), specText, 0o644); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, RunsFile), runs); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return &SweepDir{Dir: dir, Spec: spec, Runs: runs}, nil
}

func specHasName(text []byte) bool {
	var top struct {
		Name string `toml:"name"`
	}
	_, err := toml.Decode(string(text), &top)
	return err == nil && top.Name != ""
}

// Open reads a sweep directory written by Prepare.
func Open(dir string) (*SweepDir, error) {
	spec, err := ParseFile(filepath.Join(dir, SpecFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sweep: %s is not a sweep directory (no %s; start one with mvp sweep run)", dir, SpecFile)
		}
		return nil, err
	}
	var runs []Run
	has, err := readJSON(filepath.Join(dir, RunsFile), &runs)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if !has {
		return nil, fmt.Errorf("sweep: %s: no %s", dir, RunsFile)
	}
	return &SweepDir{Dir: dir, Spec: spec, Runs: runs}, nil
}

// Statuses reads every run's state.
func (d *SweepDir) Statuses(now time.Time) ([]Status, error) {
	out := make([]Status, len(d.Runs))
	for i, r := range d.Runs {
		st, err := StateOf(d.Dir, r, now)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}
