//go:build noxla

package export

import (
	"errors"
	"io"
)

// StableHLOAvailable reports whether this binary can write StableHLO (the cgo build with XLA).
const StableHLOAvailable = false

// ErrNoStableHLO is returned by StableHLO in builds without XLA.
var ErrNoStableHLO = errors.New("export: StableHLO export needs XLA/PJRT, which this pure-Go build (-tags noxla) leaves out: " +
	"build with cgo and without the noxla tag (make build-export → bin/mvp-export) and provide a PJRT plugin")

// StableHLO returns ErrNoStableHLO in builds without XLA.
func StableHLO(w io.Writer, spec Spec, plugin string) error { return ErrNoStableHLO }
