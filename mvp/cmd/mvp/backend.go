package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gomvp/gomvp/xla"
)

// backendUsage is the --backend flag's help, the same on every command that builds graphs.
const backendUsage = "backend: auto, go, xla:cpu, xla:cuda or xla:/path/plugin.so " +
	"(default: $GOMLX_BACKEND, else auto: CUDA with a visible GPU > XLA's CPU plugin > go)"

// addBackendFlag adds --backend to a command's flags.
func addBackendFlag(fs *flag.FlagSet) *string {
	return fs.String("backend", "", backendUsage)
}

// openBackend resolves the backend of command and prints the choice once on stderr. A backend
// requested by flag or $GOMLX_BACKEND that cannot load is an error, never a fallback.
func openBackend(command, requested string) (*xla.Choice, error) {
	c, err := xla.Select(requested)
	if err != nil {
		return nil, fmt.Errorf("--backend: %w", err)
	}
	fmt.Fprintf(os.Stderr, "mvp %s: %s\n", command, c)
	return c, nil
}
