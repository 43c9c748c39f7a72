package xla

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // The pure-Go backend is always linked in.
)

// DefaultGoConfig is the pure-Go backend configuration used when GOMLX_BACKEND is unset.
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
//	"go", "go:parallelism=-1", "go:ops_sequential", …  the pure-Go backend (options as in compute/gobackend)
//	"xla:cpu", "xla:cuda", "xla:cuda12", "xla:cuda13"  XLA/PJRT with a plugin found by FindPJRTPlugin
//	"xla:/abs/path/plugin.so[,options]"                 XLA/PJRT with that plugin file
//
// An empty config means $GOMLX_BACKEND, or DefaultGoConfig. XLA needs a binary built with cgo
// (make build-xla); plugins are never downloaded.
func NewBackend(config string) (compute.Backend, error) {
	if config == "" {
		config = os.Getenv(compute.ConfigEnvVar)
	}
	if config == "" {
		config = DefaultGoConfig
	}
	name, options, _ := strings.Cut(config, ":")
	switch name {
	case "go":
		return newGoBackend(options)
	case "xla", "stablehlo", "shlo", "hlo":
		return newXLABackend(options)
	}
	if !slices.Contains(compute.List(), name) {
		return nil, fmt.Errorf("xla: unknown backend %q in config %q (available: %s)", name, config, strings.Join(compute.List(), ", "))
	}
	return newBackend(config)
}

// newBackend calls compute.NewWithConfig, which reports some errors by panicking.
func newBackend(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("xla: creating backend %q: %v", config, r)
		}
	}()
	b, err = compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("xla: creating backend %q: %w", config, err)
	}
	return b, nil
}

// newGoBackend creates the go backend. The parallelism option is applied here rather than by the
// backend, which would print a line on stdout (breaking Example tests and CLI output).
func newGoBackend(options string) (compute.Backend, error) {
	var rest []string
	parallelism, setParallelism := 0, false
	for _, opt := range strings.Split(options, ",") {
		if v, ok := strings.CutPrefix(opt, "parallelism="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("xla: go backend option %q: parallelism needs an integer", opt)
			}
			parallelism, setParallelism = n, true
			continue
		}
		if opt != "" {
			rest = append(rest, opt)
		}
	}
	b, err := newBackend("go:" + strings.Join(rest, ","))
	if err != nil {
		return nil, err
	}
	if setParallelism {
		if err := setGoParallelism(b, parallelism); err != nil {
			return nil, err
		}
	}
	return b, nil
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
func newXLABackend(options string) (compute.Backend, error) {
	plugin, opts, _ := strings.Cut(options, ",")
	if plugin == "" {
		plugin = "cpu"
	}
	path, err := FindPJRTPlugin(plugin, DefaultPluginLocations())
	if err != nil {
		return nil, err
	}
	if !xlaLinked {
		return nil, fmt.Errorf("xla: found PJRT plugin %s, but this binary was built without XLA support "+
			"(-tags noxla or CGO_ENABLED=0): build with `make build-xla`", path)
	}
	prepareCUDAEnv(path)
	config := "xla:" + path
	if opts != "" {
		config += "," + opts
	}
	return newBackend(config)
}

var (
	defaultOnce    sync.Once
	defaultBackend compute.Backend
	defaultErr     error
)

// Default returns a process-wide backend built by NewBackend("") on first use.
func Default() (compute.Backend, error) {
	defaultOnce.Do(func() { defaultBackend, defaultErr = NewBackend("") })
	return defaultBackend, defaultErr
}
