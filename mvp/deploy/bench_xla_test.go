//go:build !noxla

package deploy

import (
	"testing"

	"github.com/gomvp/gomvp/xla"
)

// BenchmarkActXLA is one batch-1 decision of the deployed policy on XLA's CPU plugin, found as
// mvp finds it ($PJRT_PLUGIN_LIBRARY_PATH, the project's .venv, the usual install locations).
func BenchmarkActXLA(b *testing.B) {
	backend, err := xla.NewBackend("xla:cpu")
	if err != nil {
		b.Fatal(err)
	}
	benchActOn(b, backend)
}
