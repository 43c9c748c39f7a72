//go:build !onnx

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/xla/export"
)

// TestExportNeedsCgoBuild: the pure-Go binary names the binary that can write onnx and stablehlo.
func TestExportNeedsCgoBuild(t *testing.T) {
	run := trainedRun(t)
	for _, format := range []string{"onnx", "stablehlo"} {
		if format == "stablehlo" && export.StableHLOAvailable {
			continue // a cgo build without the onnx tag still has XLA
		}
		err := runExport([]string{"--checkpoint", run, "--format", format, "--out", filepath.Join(t.TempDir(), "x")})
		if err == nil || !strings.Contains(err.Error(), "make build") {
			t.Errorf("--format %s: got %v, want an error pointing to make build", format, err)
		}
	}
}
