package sweep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process runs one run's process (`mvp train … --out RunDir`) and keeps its status record: running
// with a heartbeat while the process lives, then exited with its exit code and the last line of
// its stderr. Both executors run every run through a Process; on Slurm it is the body of each array
// task (`mvp sweep task`).
type Process struct {
	Exe    string   // the mvp binary
	RunDir string   // the run directory (the value of --out in Args)
	Args   []string // the binary's arguments
	Job    string   // Slurm job and array task ("1234_5"), if any
	Env    []string // extra environment variables (KEY=VALUE)
	// Grace is how long the process may take to stop after SIGTERM before it is killed; default
	// 2 minutes (the last checkpoint is on disk either way).
	Grace time.Duration
}

// ErrRunBusy is returned by Process.Run when another process is running the same run directory.
var ErrRunBusy = errors.New("another process is running this run")

// Run runs the process to its end and returns its exit code (−1 for a signal). Cancelling ctx
// sends it SIGTERM; `mvp train` then stops after its current step, and the run resumes from its
// last checkpoint next time. A run directory that another process is running (its lock is held)
// is left alone: Run returns ErrRunBusy without starting anything or touching the status record.
func (t Process) Run(ctx context.Context) (int, error) {
	if err := os.MkdirAll(t.RunDir, 0o755); err != nil {
		return -1, fmt.Errorf("sweep: %w", err)
	}
	unlock, ok, err := lockRunDir(t.RunDir)
	if err != nil {
		return -1, fmt.Errorf("sweep: locking run %s: %w", t.RunDir, err)
	}
	if !ok {
		return -1, fmt.Errorf("sweep: run %s: %w", t.RunDir, ErrRunBusy)
	}
	defer unlock()
	statusPath := filepath.Join(t.RunDir, StatusFile)
	var prev Record
	if _, err := readJSON(statusPath, &prev); err != nil {
		prev = Record{} // a corrupt record is replaced
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	rec := Record{State: "running", Start: now, Heartbeat: now, Host: host, PID: os.Getpid(), Job: t.Job,
		Attempt: prev.Attempt + 1, Args: t.Args}
	var mu sync.Mutex
	write := func() error {
		mu.Lock()
		defer mu.Unlock()
		return writeJSON(statusPath, rec)
	}
	if err := write(); err != nil {
		return -1, fmt.Errorf("sweep: run %s: %w", t.RunDir, err)
	}
	stdout, err := os.OpenFile(filepath.Join(t.RunDir, StdoutFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return -1, fmt.Errorf("sweep: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(filepath.Join(t.RunDir, StderrFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return -1, fmt.Errorf("sweep: %w", err)
	}
	defer stderr.Close()
	fmt.Fprintf(stderr, "== attempt %d on %s at %s: %s\n", rec.Attempt, host, now.Format(time.RFC3339), ShellJoin(append([]string{t.Exe}, t.Args...)))
	tail := &tailWriter{max: 4096}

	cmd := exec.Command(t.Exe, t.Args...)
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, tail)
	cmd.Env = append(os.Environ(), t.Env...)
	// A grandchild that outlives the process (a simulator server) may hold its stderr open; do
	// not wait for it longer than this after the process exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		rec.State, rec.End, rec.ExitCode, rec.Error = "exited", time.Now().UTC(), -1, err.Error()
		_ = write()
		return -1, fmt.Errorf("sweep: starting %s: %w", t.Exe, err)
	}
	grace := t.Grace
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	exited := make(chan struct{})
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() { // heartbeat; on cancellation SIGTERM, then SIGKILL after the grace period
		defer hbWG.Done()
		tick := time.NewTicker(HeartbeatEvery)
		defer tick.Stop()
		cancelled := ctx.Done()
		var kill <-chan time.Time
		for {
			select {
			case <-exited:
				return
			case <-tick.C:
				mu.Lock()
				rec.Heartbeat = time.Now().UTC()
				mu.Unlock()
				_ = write()
			case <-cancelled:
				cancelled = nil
				_ = cmd.Process.Signal(syscall.SIGTERM)
				kill = time.After(grace)
			case <-kill:
				_ = cmd.Process.Kill()
			}
		}
	}()
	werr := cmd.Wait()
	close(exited)
	hbWG.Wait()

	code := cmd.ProcessState.ExitCode()
	rec.State, rec.End, rec.ExitCode, rec.Heartbeat = "exited", time.Now().UTC(), code, time.Now().UTC()
	if code != 0 {
		rec.Error = tail.lastLine()
		var ee *exec.ExitError
		if code < 0 || rec.Error == "" {
			if errors.As(werr, &ee) {
				rec.Error = strings.TrimSpace(rec.Error + " (" + ee.ProcessState.String() + ")")
			} else if werr != nil {
				rec.Error = werr.Error()
			}
		}
		if ctx.Err() != nil {
			rec.Error = "interrupted: " + rec.Error
		}
	}
	if err := write(); err != nil {
		return code, fmt.Errorf("sweep: run %s: %w", t.RunDir, err)
	}
	return code, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	return len(p), nil
}

// lastLine is the last non-empty line (progress-bar carriage returns split lines too).
func (w *tailWriter) lastLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := bytes.FieldsFunc(w.buf, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(string(lines[i])); l != "" {
			return l
		}
	}
	return ""
}

// ShellJoin quotes args for a POSIX shell, leaving plain words as they are.
func ShellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
