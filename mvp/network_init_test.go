package mvp

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// The two weight initialisers draw the distributions they name: GoMLX's He default N(0, 2/fan_in)
// and QC's default_init U(−l, l), l = √(6/(fan_in+fan_out)); biases start at zero with both.
func TestMLPInitialisers(t *testing.T) {
	const in, hidden = 100, 300
	stats := func(init string) (mean, std, maxAbs float64, bias []float32) {
		store := seededStore(t, 7)
		cfg := NewMLPConfig().WithWidths(hidden).WithInit(init)
		x := tensors.FromShape(shapes.Make(dtypes.Float32, 2, in))
		callGraph(t, store, func(scope *model.Scope, x *Node) *Node { return cfg.Build(scope.At("net"), x, 1) }, x)
		var w []float32
		for v := range store.IterVariables() {
			switch {
			case strings.HasSuffix(v.Path(), "/net/layer_0/dense/weights"):
				w = tensors.MustCopyFlatData[float32](v.MustValue())
			case strings.HasSuffix(v.Path(), "/net/layer_0/dense/biases"):
				bias = tensors.MustCopyFlatData[float32](v.MustValue())
			}
		}
		if len(w) != in*hidden || len(bias) != hidden {
			t.Fatalf("%s: first layer has %d weights and %d biases, want %d and %d", init, len(w), len(bias), in*hidden, hidden)
		}
		for _, v := range w {
			mean += float64(v)
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		mean /= float64(len(w))
		for _, v := range w {
			std += (float64(v) - mean) * (float64(v) - mean)
		}
		return mean, math.Sqrt(std / float64(len(w))), maxAbs, bias
	}
	for _, c := range []struct {
		init     string
		std, max float64 // max: the bound of |w|, 0 for none
	}{
		{InitHe, math.Sqrt(2.0 / in), 0},
		{"", math.Sqrt(2.0 / in), 0},
		{InitGlorotUniform, math.Sqrt(6.0/(in+hidden)) / math.Sqrt(3), math.Sqrt(6.0 / (in + hidden))},
	} {
		mean, std, maxAbs, bias := stats(c.init)
		if math.Abs(std/c.std-1) > 0.03 || math.Abs(mean) > 0.05*c.std {
			t.Errorf("init %q: mean %.4g std %.4g, want 0 and %.4g", c.init, mean, std, c.std)
		}
		if c.max > 0 && maxAbs > c.max {
			t.Errorf("init %q: |w| reaches %.4g, above the bound %.4g", c.init, maxAbs, c.max)
		}
		if c.max > 0 && maxAbs < 0.98*c.max {
			t.Errorf("init %q: |w| only reaches %.4g of the bound %.4g: not uniform on it", c.init, maxAbs, c.max)
		}
		for _, b := range bias {
			if b != 0 {
				t.Fatalf("init %q: a bias starts at %g", c.init, b)
			}
		}
	}
	if err := NewMLPConfig().WithInit("xavier").Validate(); err == nil || !strings.Contains(err.Error(), "xavier") {
		t.Errorf("an unknown initialiser: got %v", err)
	}
	spec, err := DefaultSpec(KindMVP, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec.Critic.Init = "xavier"
	if err := spec.Validate(); err == nil || !strings.Contains(err.Error(), "critic.init") {
		t.Errorf("a spec with an unknown critic initialiser: got %v", err)
	}
}
