//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package jvp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomvp/gomvp/xla"
)

// The rules of ops the go backend lacks (DynamicSlice, DynamicUpdateSlice), and all the others
// again, on XLA's CPU plugin.
func TestRulesOnXLACPU(t *testing.T) {
	if venv, err := filepath.Abs("../../.venv"); err == nil && os.Getenv("VIRTUAL_ENV") == "" {
		t.Setenv("VIRTUAL_ENV", venv)
	}
	plugin, err := xla.FindPJRTPlugin("cpu", xla.DefaultPluginLocations())
	if err != nil {
		t.Skipf("no CPU PJRT plugin on this machine (scripts/setup-export.sh installs one): %v", err)
	}
	backend, err := xla.NewBackend("xla:" + plugin)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			tc.want = nil // XLA decomposes the fused ops.
			if tc.name == "ReduceMax" {
				// On XLA's CPU plugin, gomlx's ReduceMax VJP (an indicator of x − max ≥ 0) misses
				// the maximum in some rows, so the double-VJP reference is wrong there; the
				// finite differences still check the rule.
				tc.noVJP = true
			}
			checkRule(t, backend, tc, false) // Returns only if the case was not skipped.
			if tc.unsupported {
				ran++
			}
		})
	}
	if ran != 2 {
		t.Errorf("ran %d of the 2 rules the go backend cannot run", ran)
	}
}
