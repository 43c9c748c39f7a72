package xla

import (
	"reflect"

	"github.com/gomlx/compute"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewBackendGo(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
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
	if !goOpsSequential(t, b) {
		t.Error("go:parallelism=16 runs ops in parallel on a bounded pool, which can deadlock")
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
		"nosuch:x":                       "unknown backend",
		"go:parallelism=lots":            "parallelism needs an integer",
		"go:parallelism=-5":              "parallelism needs an integer ≥ -1",
		"go:ops_parallel":                "can deadlock",
		"go:parallelism=4,ops_parallel":  "add parallelism=-1",
		"go:ops_parallel,ops_sequential": "exclude each other",
		"go:no_such_option":              "no_such_option",
		"xla:/no/such/plugin.so":         "/no/such/plugin.so",
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
	if !xlaLinked && !strings.Contains(err.Error(), "make build") {
		t.Errorf("pure-Go build: want a hint to build with XLA, got %v", err)
	}
	if !strings.Contains(err.Error(), fake) {
		t.Errorf("error does not name the plugin %s: %v", fake, err)
	}
}

// Every spelling of the go backend normalises to a configuration that cannot deadlock, and the
// normalised config names what runs.
func TestGoSpellings(t *testing.T) {
	for spelling, want := range map[string]string{
		"go":                             "go:ops_sequential",
		"go:":                            "go:ops_sequential",
		"go:parallelism=2":               "go:parallelism=2,ops_sequential",
		"go:parallelism=0":               "go:parallelism=0,ops_sequential",
		"go:parallelism=-1":              "go:parallelism=-1",
		"go:parallelism=-1,ops_parallel": "go:parallelism=-1,ops_parallel",
		"go:ops_sequential":              "go:ops_sequential",
		"go:dependency_order":            "go:dependency_order,ops_sequential",
	} {
		b, config, err := newBackendConfig(spelling)
		if err != nil {
			t.Errorf("%q: %v", spelling, err)
			continue
		}
		if config != want {
			t.Errorf("%q: normalised to %q, want %q", spelling, config, want)
		}
		if seq := goOpsSequential(t, b); seq != strings.Contains(want, "ops_sequential") {
			t.Errorf("%q: ops sequential = %v", spelling, seq)
		}
	}
}

// Select: an explicit request is honoured or fails, never falls back; $GOMLX_BACKEND comes next.
func TestSelect(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go:parallelism=-1")
	c, err := Select("go")
	if err != nil || c.Source != SourceFlag || c.Name != "go:ops_sequential" {
		t.Fatalf("Select(go) = %+v, %v", c, err)
	}
	c, err = Select("")
	if err != nil || c.Source != SourceEnv || c.Name != "go:parallelism=-1" {
		t.Fatalf("Select() with $GOMLX_BACKEND = %+v, %v", c, err)
	}
	if !strings.Contains(c.String(), SourceEnv) {
		t.Errorf("the notice %q does not say where the choice came from", c.String())
	}
	t.Setenv(PJRTPluginPathEnv, t.TempDir())
	t.Setenv("GOMLX_BACKEND", "xla:/no/such/dir/pjrt_c_api_cpu_plugin.so")
	if _, err := Select(""); err == nil || !strings.Contains(err.Error(), "/no/such/dir") || !strings.Contains(err.Error(), "GOMLX_BACKEND") {
		t.Errorf("a missing plugin in $GOMLX_BACKEND: want an error naming it and the variable, got %v", err)
	}
	if _, err := Select("xla:/no/such/dir/pjrt_c_api_cpu_plugin.so"); err == nil || !strings.Contains(err.Error(), "/no/such/dir") {
		t.Errorf("a missing plugin flag: want an error naming it, got %v", err)
	}
}

// Discover falls back to the go backend and says why each faster candidate was skipped.
func TestDiscover(t *testing.T) {
	empty := PluginLocations{LibraryPath: []string{t.TempDir()}}
	c, err := Discover(empty, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != DefaultGoConfig || c.Source != SourceAuto {
		t.Errorf("nothing found: got %s from %s, want %s from %s", c.Name, c.Source, DefaultGoConfig, SourceAuto)
	}
	// A pure-Go build does not even look for plugins it could not load.
	wantCPU := "xla:cpu: no plugin"
	if !xlaLinked {
		wantCPU = "xla:cpu: this binary has no XLA"
	}
	if len(c.Skipped) != 2 || !strings.Contains(c.Skipped[0], "no GPU") || !strings.Contains(c.Skipped[1], wantCPU) {
		t.Errorf("skipped = %q, want [no GPU, %s]", c.Skipped, wantCPU)
	}
	// A plugin file that is not a real plugin: skipped with the reason, still the go backend.
	fake := touch(t, t.TempDir(), "pjrt_c_api_cpu_plugin.so")
	c, err = Discover(PluginLocations{LibraryPath: []string{filepath.Dir(fake)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != DefaultGoConfig {
		t.Errorf("a broken plugin was chosen: %s", c.Name)
	}
	joined := strings.Join(c.Skipped, "\n")
	if xlaLinked && (!strings.Contains(joined, "xla:cuda: no plugin") || !strings.Contains(joined, fake)) ||
		!xlaLinked && strings.Count(joined, "this binary has no XLA") != 2 {
		t.Errorf("skipped = %q", c.Skipped)
	}
}

func TestShortName(t *testing.T) {
	for config, want := range map[string]string{
		"xla:/v/site-packages/lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so":    "xla:cpu",
		"xla:/v/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so,opt=1": "xla:cuda",
		"xla:/home/u/.local/lib/go-xla/pjrt_c_api_cpu_v0.83.1_plugin.so":       "xla:cpu",
		"go:ops_sequential":  "go:ops_sequential",
		"xla:/opt/custom.so": "xla:/opt/custom.so",
	} {
		if got := shortName(config); got != want {
			t.Errorf("shortName(%q) = %q, want %q", config, got, want)
		}
	}
}
