//go:build noxla || !cgo || !((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

import (
	"fmt"

	"github.com/gomlx/compute"
)

// xlaLinked reports that the XLA/PJRT backend is not compiled in (pure-Go build).
const xlaLinked = false

// HostMemoryKept is false in the pure-Go build: it has no C allocator to configure.
func HostMemoryKept() bool { return false }

// newPJRTBackend is never reached in the pure-Go build (newXLABackend refuses first).
func newPJRTBackend(config string) (compute.Backend, error) {
	return nil, fmt.Errorf("xla: %s: this binary has no XLA (pure-Go build)", config)
}
