package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RunResult is what an executor did with one run.
type RunResult struct {
	Name   string `json:"name"`
	Action string `json:"action"` // "ran", "skipped", "submitted"
	State  string `json:"state"`  // the state afterwards (local) or before submission (slurm)
	Error  string `json:"error,omitempty"`
}

// Local runs a sweep's runs on this machine, Workers at a time. Finished runs and runs another
// process is running are skipped; failed and interrupted ones run again and resume from their
// checkpoints.
type Local struct {
	Exe string // the mvp binary
	// Workers: runs at once; 0: the spec's local.workers, else one per GPU, else 1.
	Workers int
	// Log receives one line per started and finished run (nil: discarded).
	Log io.Writer
}

// Run runs every unfinished run of d and returns what happened to each, in run order. The error
// reports failed runs; cancelling ctx stops the running ones (they resume next time).
func (l Local) Run(ctx context.Context, d *SweepDir) ([]RunResult, error) {
	log := l.Log
	if log == nil {
		log = io.Discard
	}
	gpus := visibleGPUs()
	workers := l.Workers
	if workers <= 0 {
		workers = d.Spec.Local.Workers
	}
	if workers <= 0 {
		workers = max(1, len(gpus))
	}
	results := make([]RunResult, len(d.Runs))
	var todo []int
	for i, r := range d.Runs {
		st, err := StateOf(d.Dir, r, time.Now())
		if err != nil {
			return nil, err
		}
		results[i] = RunResult{Name: r.Name, State: st.State}
		if st.State == Done || st.State == Running {
			results[i].Action = "skipped"
			continue
		}
		todo = append(todo, i)
	}
	fmt.Fprintf(log, "sweep %s: %d runs, %d to run, %d workers\n", d.Spec.Name, len(d.Runs), len(todo), workers)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range workers {
		var env []string
		if len(gpus) > 0 {
			env = append(env, "CUDA_VISIBLE_DEVICES="+gpus[w%len(gpus)])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := d.Runs[i]
				rd := RunDir(d.Dir, r.Name)
				skip := func(state string) {
					mu.Lock()
					results[i] = RunResult{Name: r.Name, Action: "skipped", State: state}
					fmt.Fprintf(log, "skip %s (%s elsewhere)\n", r.Name, state)
					mu.Unlock()
				}
				// Another executor on the same directory may have finished or started this run
				// since the list was made; the run directory's lock settles a start at the same time.
				if st, err := StateOf(d.Dir, r, time.Now()); err == nil && (st.State == Done || st.State == Running) {
					skip(st.State)
					continue
				}
				fmt.Fprintf(log, "start %s\n", r.Name)
				start := time.Now()
				code, err := Process{Exe: l.Exe, RunDir: rd, Args: r.Args(rd), Env: env}.Run(ctx)
				if errors.Is(err, ErrRunBusy) {
					skip(Running)
					continue
				}
				st, serr := StateOf(d.Dir, r, time.Now())
				mu.Lock()
				res := RunResult{Name: r.Name, Action: "ran", State: st.State, Error: st.Error}
				if err != nil {
					res.State, res.Error = Failed, err.Error()
				} else if serr != nil {
					res.State, res.Error = Failed, serr.Error()
				}
				results[i] = res
				fmt.Fprintf(log, "%s %s (exit %d, %.0fs) %s\n", res.State, r.Name, code, time.Since(start).Seconds(), res.Error)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	var failed []string
	for _, r := range results {
		if r.Action == "ran" && r.State != Done {
			failed = append(failed, r.Name+": "+r.Error)
		}
	}
	if ctx.Err() != nil {
		return results, fmt.Errorf("sweep: interrupted (%v); run the same command again to resume", ctx.Err())
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("sweep: %d of %d runs failed:\n  %s", len(failed), len(todo), strings.Join(failed, "\n  "))
	}
	return results, nil
}

var nvidiaDev = regexp.MustCompile(`^nvidia[0-9]+$`)

// visibleGPUs lists the GPU ids runs may be pinned to: CUDA_VISIBLE_DEVICES when set, else the
// /dev/nvidiaN devices.
func visibleGPUs() []string {
	if v, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
		var out []string
		for _, g := range strings.Split(v, ",") {
			if g = strings.TrimSpace(g); g != "" && g != "-1" {
				out = append(out, g)
			}
		}
		return out
	}
	ms, _ := filepath.Glob("/dev/nvidia[0-9]*")
	var out []string
	for _, m := range ms {
		if b := filepath.Base(m); nvidiaDev.MatchString(b) {
			out = append(out, strconv.Itoa(len(out)))
		}
	}
	return out
}
