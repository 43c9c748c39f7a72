//go:build !noxla

package export

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	gxla "github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/gomlx/ml/model"
	"k8s.io/klog/v2"
)

// StableHLOAvailable reports whether this binary can write StableHLO (the cgo build with XLA).
const StableHLOAvailable = true

// StableHLO compiles spec on the XLA backend selected by plugin ("cpu", "cuda", an absolute path
// to a PJRT plugin .so, or "" for the first plugin found) and writes the StableHLO MLIR module that
// XLA compiled, with the variables embedded as constants. Plugins are never downloaded: a missing
// plugin is an error saying where they were looked for.
func StableHLO(w io.Writer, spec Spec, plugin string) error {
	if err := spec.validate(); err != nil {
		return err
	}
	gxla.EnableAutoInstall(false)
	if !strings.HasPrefix(plugin, "/") {
		avail := gxla.GetAvailablePlugins()
		if len(avail) == 0 {
			return errors.New("export: StableHLO needs a PJRT plugin and none was found " +
				"(searched $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, /usr/local/lib/go-xla and the linker paths). " +
				"Point PJRT_PLUGIN_LIBRARY_PATH at a folder holding pjrt_c_api_cpu_plugin.so (scripts/setup-export.sh installs one " +
				"into .venv from the lammps-jax-pjrt-cpu wheel) or xla_cuda_plugin.so (jax-cuda12/13-pjrt wheels), " +
				"or pass the plugin's absolute path")
		}
		if plugin != "" && !containsPrefix(avail, plugin) {
			return fmt.Errorf("export: PJRT plugin %q not found; available: %q", plugin, avail)
		}
	} else if _, err := os.Stat(plugin); err != nil {
		return fmt.Errorf("export: PJRT plugin: %w", err)
	}
	backend, err := compute.NewWithConfig(gxla.BackendName + ":" + plugin)
	if err != nil {
		return fmt.Errorf("export: creating the XLA backend (plugin %q): %w", plugin, err)
	}
	defer backend.Finalize()

	prevConst := spec.Store.VariablesAsConst()
	spec.Store.WithVariableAsConst(true)
	defer spec.Store.WithVariableAsConst(prevConst)
	exec, err := model.NewExec(backend, spec.Store, spec.Fn)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	exec.WithName(spec.name())
	defer exec.Finalize()

	// go-xla builds the StableHLO module inside Builder.Compile and hands it straight to the
	// plugin; its only outlet is a verbosity-2 log line, which is captured here.
	text, err := captureStableHLO(func() error {
		_, err := exec.Compile(spec.Inputs...)
		return err
	})
	if err != nil {
		return fmt.Errorf("export: compiling for StableHLO: %w", err)
	}
	_, err = io.WriteString(w, text)
	return err
}

func containsPrefix(avail []string, name string) bool {
	for _, a := range avail {
		if a == name || strings.HasPrefix(a, name+"_") {
			return true
		}
	}
	return false
}

var klogMu sync.Mutex

const programMarker = "StableHLO program:\n"

// captureStableHLO runs compile with klog's verbosity raised for go-xla's executable.go and its
// output redirected, and returns the logged program.
func captureStableHLO(compile func() error) (string, error) {
	klogMu.Lock()
	defer klogMu.Unlock()
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	restore := map[string]string{}
	for _, name := range []string{"vmodule", "logtostderr", "alsologtostderr", "stderrthreshold"} {
		restore[name] = fs.Lookup(name).Value.String()
	}
	set := func(name, value string) {
		if err := fs.Set(name, value); err != nil {
			panic(fmt.Sprintf("export: klog flag %s=%s: %v", name, value, err))
		}
	}
	var capture entryCapture
	klog.SetOutput(&capture)
	set("logtostderr", "false")
	set("alsologtostderr", "false")
	set("stderrthreshold", "FATAL")
	set("vmodule", "executable=2")
	err := compile()
	klog.Flush()
	for name, value := range restore {
		set(name, value)
	}
	klog.SetOutput(os.Stderr)
	if err != nil {
		return "", err
	}
	if capture.program == "" {
		return "", errors.New("go-xla did not log the StableHLO program (was the graph already compiled, or has go-xla changed?)")
	}
	return capture.program, nil
}

// entryCapture keeps the log entry holding the program (klog writes one entry per Write).
type entryCapture struct {
	mu      sync.Mutex
	program string
}

func (c *entryCapture) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte(programMarker)); i >= 0 {
		c.mu.Lock()
		c.program = strings.TrimRight(string(p[i+len(programMarker):]), "\n") + "\n"
		c.mu.Unlock()
	}
	return len(p), nil
}
