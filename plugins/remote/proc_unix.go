//go:build unix

package remote

import (
	"math"
	"os/exec"
	"syscall"
)

// The server runs in its own process group, so that killing it also kills what it started
// (simulator workers, shell wrappers around the interpreter).
func setProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

func nan() float64 { return math.NaN() }
