package xla

import (
	"reflect"

	"github.com/gomlx/compute"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewBackendGo(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if !goOpsSequential(t, b) {
		t.Errorf("the default go backend (%s) does not execute ops sequentially", DefaultGoConfig)
	}
	t.Setenv("GOMLX_BACKEND", "go:parallelism=16")
	b, err = NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := GoParallelism(b); p != 16 {
		t.Errorf("GOMLX_BACKEND=go:parallelism=16 gave parallelism %d", p)
	}
	if goOpsSequential(t, b) {
		t.Error("GOMLX_BACKEND=go:parallelism=16 was not honoured (ops run sequentially)")
	}
	if b, err = NewBackend("go:parallelism=-1"); err != nil {
		t.Fatal(err)
	} else if p, _ := GoParallelism(b); p != -1 {
		t.Errorf("go:parallelism=-1 gave parallelism %d", p)
	}
}

// goOpsSequential reads the go backend's execution mode.
func goOpsSequential(t *testing.T, b compute.Backend) bool {
	t.Helper()
	v := reflect.ValueOf(b).Elem().FieldByName("OpsExecutionType")
	if !v.IsValid() {
		t.Fatalf("backend %s has no OpsExecutionType", b.Name())
	}
	const opsExecutionSequential = 2 // gobackend.OpsExecutionSequential (internal package).
	return v.Int() == opsExecutionSequential
}

func TestNewBackendErrors(t *testing.T) {
	for config, want := range map[string]string{
		"nosuch:x":               "unknown backend",
		"go:parallelism=lots":    "parallelism needs an integer",
		"go:no_such_option":      "no_such_option",
		"xla:/no/such/plugin.so": "/no/such/plugin.so",
	} {
		_, err := NewBackend(config)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewBackend(%q): want an error containing %q, got %v", config, want, err)
		}
	}
}

// A plugin file that exists but is not a PJRT plugin: a pure-Go build says to rebuild with XLA, a
// cgo build fails to load it; neither panics nor downloads anything.
func TestNewBackendXLAFakePlugin(t *testing.T) {
	fake := touch(t, t.TempDir(), "pjrt_c_api_cpu_plugin.so")
	t.Setenv(PJRTPluginPathEnv, filepath.Dir(fake))
	_, err := NewBackend("xla:cpu")
	if err == nil {
		t.Fatal("an empty file loaded as a PJRT plugin")
	}
	if !xlaLinked && !strings.Contains(err.Error(), "make build-xla") {
		t.Errorf("pure-Go build: want a hint to build with XLA, got %v", err)
	}
	if !strings.Contains(err.Error(), fake) {
		t.Errorf("error does not name the plugin %s: %v", fake, err)
	}
}
