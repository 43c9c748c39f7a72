package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes of the command.
const (
	exitOK          = 0
	exitError       = 1   // any failure, the message on stderr
	exitUsage       = 2   // no or an unknown command
	exitInterrupted = 130 // stopped by SIGINT/SIGTERM (128 + SIGINT, as shells report Ctrl-C)
)

// StopGraceEnv names the environment variable that sets how long a stop asked by the first signal
// may take before the command exits anyway (a Go duration such as "30s" or "2m"; "0" waits forever).
const StopGraceEnv = "MVP_STOP_GRACE"

// DefaultStopGrace is the grace period when StopGraceEnv is unset.
const DefaultStopGrace = 30 * time.Second

// errInterrupted marks an error as the end of a run stopped by a signal: main exits with
// exitInterrupted, and the work was saved as the message says.
var errInterrupted = errors.New("interrupted")

// stopGrace reads StopGraceEnv.
func stopGrace() (time.Duration, error) {
	v := os.Getenv(StopGraceEnv)
	if v == "" {
		return DefaultStopGrace, nil
	}
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("$%s=%q: want a duration such as 30s or 2m (0: no limit)", StopGraceEnv, v)
	}
	return d, nil
}

// onInterrupt returns a context that the first SIGINT or SIGTERM cancels, so the command can stop
// at a point it can save. After that first signal the process exits with exitInterrupted at once
// on a second signal, or when the graceful stop has not ended within the grace period (a run stuck
// in a backend call, which never looks at its context, still ends). what says on stderr what the
// graceful stop does. Call release when the command returns.
func onInterrupt(name, what string) (ctx context.Context, release func(), err error) {
	grace, err := stopGrace()
	if err != nil {
		return nil, nil, fmt.Errorf("mvp %s: %w", name, err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go watchSignals(sigs, done, cancel, grace, name, what, os.Exit)
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}, nil
}

// watchSignals is onInterrupt's watcher, with exit injectable for tests.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelCauseFunc,
	grace time.Duration, name, what string, exit func(int)) {
	var sig os.Signal
	select {
	case sig = <-sigs:
	case <-done:
		return
	}
	fmt.Fprintf(os.Stderr, "\nmvp %s: %v: %s (signal again to quit at once", name, sig, what)
	if grace > 0 {
		fmt.Fprintf(os.Stderr, "; quitting anyway in %v, $%s", grace, StopGraceEnv)
	}
	fmt.Fprintln(os.Stderr, ")")
	cancel(fmt.Errorf("%w by %v", errInterrupted, sig))
	var deadline <-chan time.Time
	if grace > 0 {
		deadline = time.After(grace)
	}
	select {
	case sig = <-sigs:
		fmt.Fprintf(os.Stderr, "mvp %s: %v again: quitting without saving (the last checkpoint stays valid)\n", name, sig)
	case <-deadline:
		fmt.Fprintf(os.Stderr, "mvp %s: did not stop within %v of the signal: quitting without saving (the last checkpoint stays valid; $%s sets the wait)\n", name, grace, StopGraceEnv)
	case <-done:
		return
	}
	exit(exitInterrupted)
}
