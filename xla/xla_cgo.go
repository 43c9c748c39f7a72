//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

import (
	"os"
	"strings"

	"github.com/gomlx/compute"
	goxla "github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

// xlaLinked reports that the XLA/PJRT backend is compiled in.
const xlaLinked = true

func init() {
	// Never download plugins: FindPJRTPlugin says where they are, or the error says where it looked.
	goxla.EnableAutoInstall(false)
	_ = os.Setenv(goxla.NoAutoInstallEnv, "1") // Also for child processes.
}

// newPJRTBackend creates the XLA backend of config ("xla:<plugin path>[,options]"). XLA's CPU
// plugin is asked for one device: by default it makes four, and a computation on one of them then
// runs slower (a batch-1 action decision at the paper's sizes: 1.40 ms median instead of 1.21).
func newPJRTBackend(config string) (compute.Backend, error) {
	var opts pjrt.NamedValuesMap
	if shortName(config) == "xla:cpu" {
		opts = pjrt.NamedValuesMap{"cpu_device_count": int64(1)}
	}
	return goxla.NewWithOptions(strings.TrimPrefix(config, "xla:"), opts)
}
