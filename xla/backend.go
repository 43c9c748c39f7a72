package xla

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // The pure-Go backend is always linked in.
)

// DefaultGoConfig is the pure-Go backend configuration used when GOMLX_BACKEND is unset.
// The go backend's default worker-pool size deadlocks on graphs as large as the MVP update
// (a matmul holding a pool slot waits in Saturate for a slot held by another such matmul);
// an unlimited pool cannot run out of slots.
const DefaultGoConfig = "go:parallelism=-1"

// NewBackend returns a backend for config ("go", "go:ops_sequential", "xla:cpu", "xla:cuda",
// "xla:/abs/path/plugin.so", …). An empty config means GOMLX_BACKEND, or DefaultGoConfig.
func NewBackend(config string) (compute.Backend, error) {
	if config == "" {
		config = os.Getenv(compute.ConfigEnvVar)
	}
	if config == "" {
		config = DefaultGoConfig
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("xla: creating backend %q: %w", config, err)
	}
	return b, nil
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
