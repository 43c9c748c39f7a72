package xla

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // The pure-Go backend is always linked in.
)

// DefaultGoConfig is the pure-Go backend's configuration when discovery finds nothing faster.
//
// The go backend's worker pool has a fixed number of slots by default (2×GOMAXPROCS). When ops run
// in parallel, each op holds a slot, and a matmul op calls Pool.Saturate to fan out; Saturate waits
// for a free slot while the pool is full without having started any task of its own. When every
// slot is held by such an op, none can finish ("all goroutines are asleep - deadlock!"): this is
// what happens with the default setting and parallelism=1, 2, 3, 8 on large graphs.
//
// Two settings cannot deadlock:
//   - ops_sequential: ops run one after the other in the calling goroutine, which holds no slot;
//     only the kernels' own chunks (matmul tiles, GELU blocks) take slots, and they never wait
//     for one, so every wait ends. Matmuls still use all cores.
//   - parallelism=-1: an unlimited pool never waits for a slot (ops start in their own
//     goroutines, and Saturate starts its tasks before it waits), so every waiter has a running
//     task whose completion wakes it.
//
// ops_sequential is the default: on the 2-core build machine it ran the 4×512 network and the MVP
// update faster than parallelism=-1 (which oversubscribes the cores; see BENCHMARKS.md).
const DefaultGoConfig = "go:ops_sequential"

// NewBackend returns a backend for config:
//
//	"go", "go:parallelism=-1", "go:ops_sequential", …  the pure-Go backend (see newGoBackend for the
//	                                                    spellings it accepts and the ones it refuses)
//	"xla:cpu", "xla:cuda", "xla:cuda12", "xla:cuda13"  XLA/PJRT with a plugin found by FindPJRTPlugin
//	"xla:/abs/path/plugin.so[,options]"                 XLA/PJRT with that plugin file
//
// An empty config means Select(""): $GOMLX_BACKEND, else the fastest backend found. XLA needs a
// binary built with cgo (make build); plugins are never downloaded.
func NewBackend(config string) (compute.Backend, error) {
	if config == "" {
		c, err := Select("")
		if err != nil {
			return nil, err
		}
		return c.Backend, nil
	}
	b, _, err := newBackendConfig(config)
	return b, err
}

// newBackendConfig creates the backend for a non-empty config and returns the config that
// reproduces it (XLA plugins resolved to absolute paths, go options normalised).
func newBackendConfig(config string) (compute.Backend, string, error) {
	name, options, _ := strings.Cut(config, ":")
	switch name {
	case "go":
		return newGoBackend(options)
	case "xla", "stablehlo", "shlo", "hlo":
		return newXLABackend(options)
	}
	if !slices.Contains(compute.List(), name) {
		return nil, "", fmt.Errorf("xla: unknown backend %q in config %q (available: go, xla:cpu, xla:cuda, xla:/path/plugin.so%s)",
			name, config, otherBackends())
	}
	b, err := newBackend(config, compute.NewWithConfig)
	return b, config, err
}

// otherBackends lists the compiled-in backends beyond go and xla (e.g. onnx), for error messages.
func otherBackends() string {
	var s string
	for _, n := range compute.List() {
		if n != "go" && n != "xla" {
			s += ", " + n
		}
	}
	return s
}

// newBackend runs create(config) (compute.NewWithConfig, or newPJRTBackend for a plugin), turning
// the panics by which GoMLX reports some errors into errors.
func newBackend(config string, create func(string) (compute.Backend, error)) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("xla: creating backend %q: %v", config, r)
		}
	}()
	b, err = create(config)
	if err != nil {
		return nil, fmt.Errorf("xla: creating backend %q: %w", config, err)
	}
	return b, nil
}

// newGoBackend creates the go backend from its options. Every spelling either runs or fails here
// with an error, never by deadlocking later (see DefaultGoConfig):
//   - no ops_* option: ops run sequentially (ops_sequential), whatever the pool size, except with
//     parallelism=-1 alone, whose unlimited pool runs ops in parallel safely;
//   - ops_parallel with a bounded pool (the default one, or parallelism=N ≥ 0) is refused.
//
// The parallelism option is applied here rather than by the backend, which would print a line on
// stdout (breaking Example tests and CLI output).
func newGoBackend(options string) (compute.Backend, string, error) {
	var rest []string
	parallelism, setParallelism := 0, false
	sequential, parallel := false, false
	for _, opt := range strings.Split(options, ",") {
		opt = strings.TrimSpace(opt)
		if v, ok := strings.CutPrefix(opt, "parallelism="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < -1 {
				return nil, "", fmt.Errorf("xla: go backend option %q: parallelism needs an integer ≥ -1 (-1: unlimited)", opt)
			}
			parallelism, setParallelism = n, true
			continue
		}
		switch opt {
		case "":
			continue
		case "ops_sequential":
			sequential = true
		case "ops_parallel":
			parallel = true
		}
		rest = append(rest, opt)
	}
	if sequential && parallel {
		return nil, "", fmt.Errorf("xla: go backend options %q: ops_sequential and ops_parallel exclude each other", options)
	}
	unlimited := setParallelism && parallelism == -1
	if parallel && !unlimited {
		return nil, "", fmt.Errorf("xla: go backend options %q: ops_parallel with a bounded worker pool can deadlock "+
			"(an op holding a pool slot waits for another slot); add parallelism=-1 or use ops_sequential", options)
	}
	if !sequential && !parallel && !unlimited {
		rest = append(rest, "ops_sequential")
	}
	var normal []string
	if setParallelism {
		normal = append(normal, "parallelism="+strconv.Itoa(parallelism))
	}
	normal = append(normal, rest...)
	b, err := newBackend("go:"+strings.Join(rest, ","), compute.NewWithConfig)
	if err != nil {
		return nil, "", err
	}
	if setParallelism {
		if err := setGoParallelism(b, parallelism); err != nil {
			return nil, "", err
		}
	}
	return b, "go:" + strings.Join(normal, ","), nil
}

// setGoParallelism calls b.Workers.SetMaxParallelism(n) on the go backend (its type is internal
// to compute, hence reflection).
func setGoParallelism(b compute.Backend, n int) error {
	v := reflect.ValueOf(b)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if w := v.FieldByName("Workers"); w.IsValid() {
			if m := w.MethodByName("SetMaxParallelism"); m.IsValid() {
				m.Call([]reflect.Value{reflect.ValueOf(n)})
				return nil
			}
		}
	}
	return fmt.Errorf("xla: cannot set the parallelism of backend %s (unsupported compute version?)", b.Name())
}

// GoParallelism returns the worker-pool size of a go backend (-1: unlimited, 0: sequential), or an
// error for other backends.
func GoParallelism(b compute.Backend) (int, error) {
	v := reflect.ValueOf(b)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if w := v.FieldByName("Workers"); w.IsValid() {
			if m := w.MethodByName("MaxParallelism"); m.IsValid() {
				return int(m.Call(nil)[0].Int()), nil
			}
		}
	}
	return 0, fmt.Errorf("xla: backend %s is not the go backend", b.Name())
}

// newXLABackend resolves the plugin and creates the XLA/PJRT backend.
func newXLABackend(options string) (compute.Backend, string, error) {
	plugin, opts, _ := strings.Cut(options, ",")
	if plugin == "" {
		plugin = "cpu"
	}
	path, err := FindPJRTPlugin(plugin, DefaultPluginLocations())
	if err != nil {
		return nil, "", err
	}
	if !xlaLinked {
		return nil, "", fmt.Errorf("xla: found PJRT plugin %s, but this binary was built without XLA support "+
			"(-tags noxla or CGO_ENABLED=0): build it with `make build` (needs gcc)", path)
	}
	return openPlugin(path, opts)
}

// openPlugin creates the XLA backend on the PJRT plugin at path, with options appended to its
// config ("" for none), and returns it with that config.
func openPlugin(path, opts string) (compute.Backend, string, error) {
	prepareCUDAEnv(path)
	config := "xla:" + path
	if opts != "" {
		config += "," + opts
	}
	b, err := newBackend(config, newPJRTBackend)
	return b, config, err
}

var (
	defaultOnce   sync.Once
	defaultChoice *Choice
	defaultErr    error
)

// Default returns a process-wide backend chosen by Select("") on first use: $GOMLX_BACKEND, else
// the fastest one found.
func Default() (compute.Backend, error) {
	c, err := DefaultChoice()
	if err != nil {
		return nil, err
	}
	return c.Backend, nil
}

// DefaultChoice is Default with how the backend was chosen.
func DefaultChoice() (*Choice, error) {
	defaultOnce.Do(func() { defaultChoice, defaultErr = Select("") })
	return defaultChoice, defaultErr
}
