//go:build !unix

package remote

import (
	"math"
	"os/exec"
)

func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func nan() float64 { return math.NaN() }
