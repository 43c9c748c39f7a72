package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/plugins"
)

// usageError is a mistake in the command line: main prints it with a pointer to -h and exits
// with exitUsage, before the command did anything.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlags parses args into fs and refuses positional arguments. -h and --help print the usage
// once and return flag.ErrHelp (main exits 0); a bad flag returns a usageError (flag's own
// printing is silenced, so the message appears once).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument(s) %s: this command takes only flags", quoteArgs(fs.Args()))
	}
	return nil
}

// parseFlagsThenArgs is parseFlags for commands that take positional arguments among their
// flags (data gen TASK, data inspect FILE): it returns them in order.
func parseFlagsThenArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(os.Stderr)
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

// subcommandError is the error of "mvp data <sub>": main prefixes it with the subcommand's name.
type subcommandError struct {
	name string
	err  error
}

func (e subcommandError) Error() string { return commandError(e.name, e.err) }
func (e subcommandError) Unwrap() error { return e.err }

func quoteArgs(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " ")
}

// Range checks of numeric flags. Each returns nil or an error naming the flag, its value and the
// rule; checkFlags joins them into one usageError.

func atLeast(name string, v, lo int) error {
	if v < lo {
		return fmt.Errorf("--%s %d: must be at least %d", name, v, lo)
	}
	return nil
}

func atLeast64(name string, v, lo int64) error {
	if v < lo {
		return fmt.Errorf("--%s %d: must be at least %d", name, v, lo)
	}
	return nil
}

func positive(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("--%s %v: must be a positive finite number", name, v)
	}
	return nil
}

// inRange checks lo ≤ v ≤ hi, or lo < v ≤ hi with openLow.
func inRange(name string, v, lo, hi float64, openLow bool) error {
	ok := v <= hi && (v > lo || !openLow && v == lo)
	if !ok {
		l := "["
		if openLow {
			l = "("
		}
		return fmt.Errorf("--%s %v: must be in %s%g, %g]", name, v, l, lo, hi)
	}
	return nil
}

// checkFlags joins the failed checks into one usageError (nil if all passed).
// oneOf checks that a flag's value is one of the allowed words.
func oneOf(name, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("--%s %q: must be one of %s", name, v, strings.Join(allowed, ", "))
	}
	return nil
}

func checkFlags(checks ...error) error {
	if err := errors.Join(checks...); err != nil {
		return usageError{err}
	}
	return nil
}

// checkKind refuses an unknown agent kind in the words of the command line.
func checkKind(kind string) error {
	for _, k := range mvp.Kinds {
		if k == kind {
			return nil
		}
	}
	return fmt.Errorf("--agent %q: unknown agent; use one of %s", kind, strings.Join(mvp.Kinds, ", "))
}

// checkPluginOptions checks that spec names a plugin of that kind and that it reads every key
// given with the flag (--dataset-opt, --env-opt), without loading anything.
func checkPluginOptions(flagName string, kind plugins.Kind, spec string, extra map[string]string) error {
	if err := plugins.CheckOptions(kind, spec, extra); err != nil {
		return fmt.Errorf("--%s: %s", flagName, strings.TrimPrefix(err.Error(), "plugins: "))
	}
	return nil
}

// parseWidths parses a flag's comma-separated list of layer widths, each at least 1.
func parseWidths(name, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, usagef("--%s %q: %q is not a width (a whole number at least 1)", name, s, strings.TrimSpace(p))
		}
		out = append(out, n)
	}
	return out, nil
}

// commandError formats err as main prints it: every line prefixed "mvp <command>: ", once. Library
// errors start with their package ("mvp: train: …", "plugins: …"); the leading "mvp: " and a
// repeated command name are dropped so the prefix is not doubled.
func commandError(name string, err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "mvp "+name+":") || strings.HasPrefix(l, "mvp "+name+" ") {
			continue // already prefixed (mvp data gen: …)
		}
		l = strings.TrimPrefix(l, "mvp: ")
		l = strings.TrimPrefix(l, name+": ")
		lines[i] = "mvp " + name + ": " + l
	}
	return strings.Join(lines, "\n")
}
