//go:build noxla

package export

import (
	"io"
)

// StableHLOAvailable reports whether this binary can write StableHLO (the cgo build with XLA).
const StableHLOAvailable = false

// StableHLO returns ErrNoStableHLO in builds without XLA.
func StableHLO(w io.Writer, spec Spec, plugin string) error { return ErrNoStableHLO }
