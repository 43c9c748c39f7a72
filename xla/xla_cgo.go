//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

import (
	"os"

	goxla "github.com/gomlx/go-xla/compute/xla"
)

// xlaLinked reports that the XLA/PJRT backend is compiled in.
const xlaLinked = true

func init() {
	// Never download plugins: FindPJRTPlugin says where they are, or the error says where it looked.
	goxla.EnableAutoInstall(false)
	_ = os.Setenv(goxla.NoAutoInstallEnv, "1") // Also for child processes.
}
