package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomvp/gomvp/mvp"
)

// subprocessEnv makes the test binary act as the mvp command (TestMain): "main" runs the command
// line, "stuck" takes the signals as train does and then blocks in a call that never returns, at
// 0 % CPU, as a backend deadlocked in its worker pool does.
const subprocessEnv = "MVP_TEST_SUBPROCESS"

func subprocessMain(mode string, args []string) int {
	switch mode {
	case "main":
		return run(args)
	case "stuck":
		_, release, err := onInterrupt("train", "stopping after the current update")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitError
		}
		defer release()
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return exitOK
	}
	return exitError
}

// mvpProcess starts the test binary as `mvp args…` (or in the stuck mode), with extra environment.
type mvpProcess struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	code           int
	ended          time.Time
}

func startMVP(t *testing.T, mode string, env []string, args ...string) *mvpProcess {
	t.Helper()
	p := &mvpProcess{cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), subprocessEnv+"="+mode), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code, p.ended = p.cmd.ProcessState.ExitCode(), time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// syncBuffer is a bytes.Buffer that the process's output copier and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// wait returns the exit code, failing the test if the process runs longer than limit.
func (p *mvpProcess) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("still running after %v; stderr:\n%s", limit, p.stderr.String())
		return -1
	}
}

func (p *mvpProcess) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatalf("signalling: %v", err)
	}
}

// waitFor polls until cond holds, failing after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func loggedStep(out string, phase string, step int64) bool {
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Step  int64  `json:"step"`
			Phase string `json:"phase"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Phase == phase && r.Step >= step {
			return true
		}
	}
	return false
}

// TestSignalStuckRun: a run stuck in a call that never looks at its context still ends after the
// grace period of the first SIGTERM, with exitInterrupted.
func TestSignalStuckRun(t *testing.T) {
	p := startMVP(t, "stuck", []string{StopGraceEnv + "=1s"})
	waitFor(t, 30*time.Second, "the stuck process to start", func() bool { return strings.Contains(p.stdout.String(), "ready") })
	sent := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != exitInterrupted {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitInterrupted, p.stderr.String())
	}
	if el := p.ended.Sub(sent); el < time.Second {
		t.Errorf("exited %v after the signal, before its 1s grace period", el)
	}
	if !strings.Contains(p.stderr.String(), "did not stop within 1s") {
		t.Errorf("stderr does not say why it quit:\n%s", p.stderr.String())
	}
}

// TestSignalTwice: with no grace limit, a stuck run ends at the second signal.
func TestSignalTwice(t *testing.T) {
	p := startMVP(t, "stuck", []string{StopGraceEnv + "=0"})
	waitFor(t, 30*time.Second, "the stuck process to start", func() bool { return strings.Contains(p.stdout.String(), "ready") })
	p.signal(t, os.Interrupt)
	waitFor(t, 10*time.Second, "the first signal's notice", func() bool { return strings.Contains(p.stderr.String(), "signal again") })
	select {
	case <-p.done:
		t.Fatalf("exited at the first signal of a stuck run (code %d)", p.code)
	case <-time.After(300 * time.Millisecond):
	}
	p.signal(t, os.Interrupt)
	if code := p.wait(t, 10*time.Second); code != exitInterrupted {
		t.Fatalf("exit code %d after the second signal, want %d; stderr:\n%s", code, exitInterrupted, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "again: quitting") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}
}

// TestWatchSignals checks the watcher's three ways out with a fake exit.
func TestWatchSignals(t *testing.T) {
	for _, c := range []struct {
		name     string
		signals  int
		grace    time.Duration
		release  bool
		wantExit bool
	}{
		{"second signal", 2, 0, false, true},
		{"grace period", 1, 50 * time.Millisecond, false, true},
		{"stopped in time", 1, 0, true, false},
		{"no signal", 0, 50 * time.Millisecond, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sigs, done := make(chan os.Signal, 2), make(chan struct{})
			ctx, cancel := context.WithCancelCause(context.Background())
			exited := make(chan int, 1)
			finished := make(chan struct{})
			go func() {
				watchSignals(sigs, done, cancel, c.grace, "test", "stopping", func(code int) { exited <- code })
				close(finished)
			}()
			for range c.signals {
				sigs <- os.Interrupt
			}
			if c.signals > 0 {
				<-ctx.Done()
				if !errors.Is(context.Cause(ctx), errInterrupted) {
					t.Errorf("cause %v, want errInterrupted", context.Cause(ctx))
				}
			}
			if c.release {
				time.Sleep(100 * time.Millisecond)
				close(done)
			}
			<-finished
			select {
			case code := <-exited:
				if !c.wantExit || code != exitInterrupted {
					t.Errorf("exit(%d); want exit %v with %d", code, c.wantExit, exitInterrupted)
				}
			default:
				if c.wantExit {
					t.Error("did not exit")
				}
			}
			if c.signals == 0 && ctx.Err() != nil {
				t.Error("context cancelled without a signal")
			}
		})
	}
}

// trainArgs is a small offline run of the embedded cube task.
func trainArgs(out string, steps int, extra ...string) []string {
	return append([]string{"train", "--agent", "mvp", "--dataset", "toy:cube-task1", "--dataset-opt", "episodes=20",
		"--hidden", "16,16", "--batch", "16", "--candidates", "4", "--offline-steps", fmt.Sprint(steps), "--online-steps", "0",
		"--eval-episodes", "2", "--eval-envs", "2", "--eval-every", "0", "--checkpoint-every", "0", "--log-every", "10",
		"--no-progress", "--seed", "1", "--out", out}, extra...)
}

// TestSignalTrain sends SIGINT to `mvp train` at a random point of its offline phase: it must exit
// 130 naming a checkpoint that loads, and the same command run again must end with the same final
// checkpoint, byte for byte, as an unbroken run.
func TestSignalTrain(t *testing.T) {
	dir := t.TempDir()
	const steps = 400
	full := filepath.Join(dir, "full")
	if p := startMVP(t, "main", nil, trainArgs(full, steps)...); p.wait(t, 5*time.Minute) != exitOK {
		t.Fatalf("unbroken run failed:\n%s", p.stderr.String())
	}
	out := filepath.Join(dir, "broken")
	p := startMVP(t, "main", nil, trainArgs(out, steps)...)
	at := int64(10 * (1 + rand.IntN(20)))
	waitFor(t, 5*time.Minute, fmt.Sprintf("update %d", at), func() bool { return loggedStep(out, "train", at) })
	p.signal(t, os.Interrupt)
	if code := p.wait(t, time.Minute); code != exitInterrupted {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitInterrupted, p.stderr.String())
	}
	msg := p.stderr.String()
	i := strings.Index(msg, "saved in checkpoint ")
	if i < 0 {
		t.Fatalf("stderr does not name the checkpoint:\n%s", msg)
	}
	ckPath := strings.Fields(msg[i+len("saved in checkpoint "):])[0]
	ckPath = strings.TrimSuffix(ckPath, ";")
	ck, err := mvp.ReadCheckpoint(ckPath)
	if err != nil {
		t.Fatalf("the interruption's checkpoint: %v", err)
	}
	t.Logf("signalled after update %d; stopped at %d; %s", at, ck.Step, strings.TrimSpace(msg))
	if p := startMVP(t, "main", nil, trainArgs(out, steps)...); p.wait(t, 5*time.Minute) != exitOK {
		t.Fatalf("resumed run failed:\n%s", p.stderr.String())
	}
	want, _ := os.ReadFile(filepath.Join(full, "checkpoints", fmt.Sprintf("ckpt-%012d.gmvp", steps)))
	got, _ := os.ReadFile(filepath.Join(out, "checkpoints", fmt.Sprintf("ckpt-%012d.gmvp", steps)))
	if len(want) == 0 || !bytes.Equal(want, got) {
		t.Fatalf("final checkpoint after the signal and resume (%d bytes) differs from the unbroken run's (%d bytes)", len(got), len(want))
	}
}

// TestSignalFinalEvalAndEval: Ctrl-C during the final evaluation of `mvp train` and during `mvp
// eval` exits 130; eval prints its partial result, marked.
func TestSignalFinalEvalAndEval(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	p := startMVP(t, "main", nil, trainArgs(out, 20, "--eval-episodes", "20000", "--eval-envs", "1", "--log-every", "20")...)
	waitFor(t, 5*time.Minute, "the end of training", func() bool { return loggedStep(out, "train", 20) })
	p.signal(t, os.Interrupt)
	if code := p.wait(t, time.Minute); code != exitInterrupted {
		t.Fatalf("train: exit code %d during the final evaluation, want %d; stderr:\n%s", code, exitInterrupted, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "during final evaluation") {
		t.Errorf("train: stderr:\n%s", p.stderr.String())
	}

	e := startMVP(t, "main", nil, "eval", "--checkpoint", out, "--env", "toy:cube-task1", "--episodes", "20000", "--envs", "2")
	time.Sleep(3 * time.Second) // loading, compiling and a few hundred episodes
	e.signal(t, os.Interrupt)
	if code := e.wait(t, time.Minute); code != exitInterrupted {
		t.Fatalf("eval: exit code %d, want %d; stderr:\n%s", code, exitInterrupted, e.stderr.String())
	}
	var res struct {
		Episodes    int  `json:"episodes"`
		Interrupted bool `json:"interrupted"`
		Requested   int  `json:"episodes_requested"`
	}
	lines := strings.Split(strings.TrimSpace(e.stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || !res.Interrupted || res.Requested != 20000 || res.Episodes >= 20000 {
		t.Fatalf("eval: partial result %+v (%v) from stdout:\n%s", res, err, e.stdout.String())
	}
	if !strings.Contains(e.stderr.String(), "PARTIAL") {
		t.Errorf("eval: stderr does not mark the result partial:\n%s", e.stderr.String())
	}
}
