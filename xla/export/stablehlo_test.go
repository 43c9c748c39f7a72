//go:build onnx && !noxla

package export

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/xla"
)

// TestStableHLO writes the stand-in network as StableHLO through the PJRT plugin found in
// PJRT_PLUGIN_LIBRARY_PATH (make test-export, whose onnx tag enables this test, points it at the
// CPU plugin setup-export.sh installs)
// and checks the module and that XLA computes what the Go backend computes.
func TestStableHLO(t *testing.T) {
	goBackend, err := xla.NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	store, err := newStandIn(goBackend, 5)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 4
	spec := Spec{Store: store, Fn: standIn,
		Inputs: []shapes.Shape{shapes.Make(dtypes.Float32, batch, standInObs), shapes.Make(dtypes.Float32, batch, standInNoise)}}
	var sb strings.Builder
	if err := StableHLO(&sb, spec, "cpu"); err != nil {
		t.Fatal(err)
	}
	text := sb.String()
	for _, want := range []string{"func.func @main", "tensor<4x7xf32>", "tensor<4x3xf32>", "stablehlo.dot_general", "stablehlo.tanh", "stablehlo.constant"} {
		if !strings.Contains(text, want) {
			t.Errorf("StableHLO module lacks %q", want)
		}
	}
	t.Logf("StableHLO module: %d bytes, %d lines", len(text), strings.Count(text, "\n"))

	// The same graph executed by the plugin agrees with the Go backend.
	xlaBackend, err := xla.NewBackend("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	obs, noise := randomF32(r, batch*standInObs, 2), randomF32(r, batch*standInNoise, 1)
	var got [2][]float32
	for i, b := range []compute.Backend{goBackend, xlaBackend} {
		// Tensors live on one backend: each run gets its own copies.
		local := model.NewStore()
		for v := range store.IterVariables() {
			val, err := v.MustValue().LocalClone()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := local.CreateVariable(v.Path(), val); err != nil {
				t.Fatal(err)
			}
		}
		exec, err := model.NewExec(b, local, standIn)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Call(tensors.FromFlatDataAndDimensions(obs, batch, standInObs), tensors.FromFlatDataAndDimensions(noise, batch, standInNoise))
		if err != nil {
			t.Fatal(err)
		}
		got[i] = tensors.MustCopyFlatData[float32](out[0])
	}
	d := 0.0
	for i := range got[0] {
		d = max(d, math.Abs(float64(got[0][i]-got[1][i])))
	}
	t.Logf("max |go − xla:cpu| = %.3g", d)
	if d > 1e-5 {
		t.Errorf("XLA differs from the Go backend by %g", d)
	}

	if err := StableHLO(&sb, spec, "/nonexistent/pjrt_plugin.so"); err == nil || !strings.Contains(err.Error(), "/nonexistent/pjrt_plugin.so") {
		t.Errorf("missing plugin file: got %v, want an error naming it", err)
	}
}
