package mvp

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gomvp/gomvp/xla"
)

func testBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := xla.Default()
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	return b
}

func seededStore(t testing.TB, seed int64) *model.Store {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	return store
}

// callGraph compiles fn on store and runs it once.
func callGraph[F model.ExecGraphFn](t testing.TB, store *model.Store, fn F, args ...any) []*tensors.Tensor {
	t.Helper()
	e, err := model.NewExec(testBackend(t), store, fn)
	if err != nil {
		t.Fatalf("NewExec: %v", err)
	}
	out, err := e.Call(args...)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	return out
}

// callGraphErr is callGraph returning the error (for graphs that should fail to build).
func callGraphErr[F model.ExecGraphFn](t testing.TB, store *model.Store, fn F, args ...any) error {
	t.Helper()
	e, err := model.NewExec(testBackend(t), store, fn)
	if err != nil {
		return err
	}
	_, err = e.Call(args...)
	return err
}

func flat64(t testing.TB, x *tensors.Tensor) []float64 {
	t.Helper()
	return tensors.MustCopyFlatData[float64](x)
}

func flat32(t testing.TB, x *tensors.Tensor) []float32 {
	t.Helper()
	return tensors.MustCopyFlatData[float32](x)
}

func scalar64(t testing.TB, x *tensors.Tensor) float64 {
	t.Helper()
	switch v := x.Value().(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	}
	t.Fatalf("not a float scalar: %s", x.Shape())
	return 0
}

// varValue64 reads a float64 variable by absolute path.
func varValue64(t testing.TB, store *model.Store, path string) []float64 {
	t.Helper()
	v := store.GetVariable(path)
	if v == nil {
		var names []string
		for vv := range store.IterVariables() {
			names = append(names, vv.Path())
		}
		t.Fatalf("no variable %q; have %s", path, strings.Join(names, ", "))
	}
	return tensors.MustCopyFlatData[float64](v.MustValue())
}

func assertClose(t testing.TB, what string, got, want, relTol, absTol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > absTol+relTol*math.Abs(want) {
		t.Errorf("%s = %.12g, want %.12g (rel tol %g, abs tol %g)", what, got, want, relTol, absTol)
	}
}
