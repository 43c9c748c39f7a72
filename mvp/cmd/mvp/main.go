// Command mvp trains, evaluates, benchmarks and exports Mean Velocity Policies.
//
// Each subcommand lives in its own file and registers itself in init; every subcommand that
// reports results ends with one JSON object on the last line of stdout.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("mvp: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: mvp <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'mvp <command> -h' for a command's flags.\n")
}

func main() { os.Exit(run(os.Args[1:])) }

// run runs the command line args (without the program name) and returns the exit code: exitOK,
// exitError (the message on stderr, once, prefixed "mvp <command>: "), exitUsage (a bad command
// line, refused before any work) or exitInterrupted (stopped by a signal after saving its work).
func run(args []string) int {
	if len(args) < 1 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) < 1 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mvp: unknown command %q\n\n", args[0])
		usage()
		return exitUsage
	}
	err := c.run(args[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	fmt.Fprintln(os.Stderr, commandError(c.name, err))
	var ue usageError
	switch {
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		name := c.name
		var se subcommandError
		if errors.As(err, &se) {
			name = se.name
		}
		fmt.Fprintf(os.Stderr, "(run 'mvp %s -h' for its flags)\n", name)
		return exitUsage
	}
	return exitError
}
