//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"

	"github.com/gomvp/gomvp/xla/jvp"
)

// cpuPlugin finds a CPU PJRT plugin: the environment's, or the one scripts/setup-export.sh installs
// into the project's .venv.
func cpuPlugin(t *testing.T) string {
	t.Helper()
	if venv, err := filepath.Abs("../.venv"); err == nil && os.Getenv("VIRTUAL_ENV") == "" {
		t.Setenv("VIRTUAL_ENV", venv)
	}
	path, err := FindPJRTPlugin("cpu", DefaultPluginLocations())
	if err != nil {
		t.Skipf("no CPU PJRT plugin on this machine (scripts/setup-export.sh installs one): %v", err)
	}
	return path
}

// xlaCPUBackend opens XLA's CPU backend with the plugin cpuPlugin finds (skipping the test without one).
func xlaCPUBackend(t *testing.T) compute.Backend {
	t.Helper()
	t.Setenv(PJRTPluginPathEnv, filepath.Dir(cpuPlugin(t)))
	be, err := NewBackend("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// The forward-mode JVP of a Dense → GELU → LayerNorm → Softmax network gives the same values on
// XLA/PJRT (CPU plugin) as on the go backend.
func TestJVPOnXLACPU(t *testing.T) {
	xlaBackend, goBe := xlaCPUBackend(t), goBackend(t)
	// The same values for each backend (a tensor cannot be shared across backends).
	newArgs := func() []any {
		rng := rand.New(rand.NewPCG(4, 4))
		rnd := func(dims ...int) *tensors.Tensor {
			n := 1
			for _, d := range dims {
				n *= d
			}
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(rng.NormFloat64())
			}
			return tensors.FromFlatDataAndDimensions(data, dims...)
		}
		return []any{rnd(16, 8), rnd(16, 8), rnd(8, 32), rnd(32), rnd(32), rnd(32), rnd(32, 4)}
	}
	fn := func(in []*Node) []*Node {
		x, v, w1, b1, gamma, beta, w2 := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		net := func(p []*Node) []*Node {
			h := activation.Gelu(nn.Dense(p[0], w1, b1, compute.DenseLayoutInputOutputs))
			h = nn.LayerNorm(h, []int{-1}, 1e-5, gamma, beta, nil)
			return []*Node{Softmax(nn.Dense(h, w2, nil, compute.DenseLayoutInputOutputs), -1)}
		}
		outs, touts, err := jvp.JVP(net, []*Node{x}, []*Node{v})
		if err != nil {
			panic(err)
		}
		return []*Node{outs[0], touts[0]}
	}
	run := func(b compute.Backend) [][]float32 {
		exec, err := NewExec(b, fn)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Call(newArgs()...)
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		res := make([][]float32, len(out))
		for i, o := range out {
			if res[i], err = tensors.CopyFlatData[float32](o); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	onXLA, onGo := run(xlaBackend), run(goBe)
	for i := range onGo {
		var maxDiff, maxAbs float64
		for j := range onGo[i] {
			maxDiff = max(maxDiff, abs(float64(onXLA[i][j]-onGo[i][j])))
			maxAbs = max(maxAbs, abs(float64(onGo[i][j])))
		}
		t.Logf("output %d: %s vs %s: max difference %.3g (max |value| %.3g)", i, xlaBackend.Name(), goBe.Name(), maxDiff, maxAbs)
		if maxDiff > 1e-4*max(maxAbs, 1) {
			t.Errorf("output %d: XLA and go backends differ by %.3g (max |value| %.3g)", i, maxDiff, maxAbs)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// XLA's CPU runtime flushes denormals to zero, so GoMLX's own clamp of u₁ (to the smallest
// denormal) leaves log 0 = −Inf there; Normal's clamp must give the finite value on this backend too.
func TestBoxMullerAtZeroOnXLACPU(t *testing.T) {
	be := xlaCPUBackend(t)
	gomlxRadius := MustExecOnce(be, func(u *Node) *Node {
		u = Max(u, Const(u.Graph(), u.DType().SmallestNonZeroValueForDType()))
		return Sqrt(MulScalar(Log(u), -2))
	}, []float32{0}).Value().([]float32)[0]
	t.Logf("xla:cpu: GoMLX's Box–Muller radius at u1 = 0: %g", gomlxRadius)
	checkBoxMullerAtZero(t, be)
}
