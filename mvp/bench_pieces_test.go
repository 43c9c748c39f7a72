package mvp

import (
	"github.com/gomvp/gomvp/mvp/policy"
	"syscall"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gomvp/gomvp/xla"
	"github.com/gomvp/gomvp/xla/jvp"
)

// Benchmarks of the pieces of an update and of an action decision at the paper's sizes
// (method.md §3: 4×512 GELU, obs 46, chunk 5×5, B = 256, N = 32). `make bench-pieces` runs them;
// GOMLX_BACKEND picks the backend (default xla.DefaultGoConfig).
const (
	pieceObs, pieceChunk, pieceBatch, pieceN = 46, 25, 256, 32
)

func pieceBackend(b *testing.B) compute.Backend {
	b.Helper()
	backend, err := xla.NewBackend("")
	if err != nil {
		b.Fatal(err)
	}
	return backend
}

func pieceTensor(rows, cols int) *tensors.Tensor {
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(i%13)/13 - 0.5
	}
	return tensors.FromFlatDataAndDimensions(x, rows, cols)
}

// runPiece compiles fn on fresh variables and times one call per iteration, reading the result
// back so that the timing covers the whole computation.
func runPiece(b *testing.B, fn func(scope *model.Scope, in []*Node) *Node, inputs ...any) {
	backend := pieceBackend(b)
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		b.Fatal(err)
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, in []*Node) *Node {
		return ReduceAllSum(fn(scope, in))
	})
	if err != nil {
		b.Fatal(err)
	}
	call := func() {
		out, err := exec.Call(inputs...)
		if err != nil {
			b.Fatal(err)
		}
		_ = out[0].Value()
		out[0].MustFinalizeAll()
	}
	call() // compile and initialise variables
	b.ResetTimer()
	cpu0 := pieceCPUNanos()
	for range b.N {
		call()
	}
	// Process CPU time per call: steady on a shared machine, where wall time is not.
	b.ReportMetric(float64(pieceCPUNanos()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// pieceCPUNanos is the process's user + system CPU time in nanoseconds.
func pieceCPUNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func pieceTimes(g *Graph, rows int, t, r float64) (*Node, *Node) {
	return timeColumn(g, dtypes.Float32, rows, t), timeColumn(g, dtypes.Float32, rows, r)
}

// BenchmarkPieceNetworkForward: u_θ(a, t, r, s) on a batch of 256.
func BenchmarkPieceNetworkForward(b *testing.B) {
	net := NewNetworkConfig()
	runPiece(b, func(scope *model.Scope, in []*Node) *Node {
		t, r := pieceTimes(in[0].Graph(), pieceBatch, 0.25, 0.75)
		return net.MeanVelocity(scope.At("actor"), in[1], t, r, in[0])
	}, pieceTensor(pieceBatch, pieceObs), pieceTensor(pieceBatch, pieceChunk))
}

// BenchmarkPieceJVP: u_θ and du/dt along (v, 1, 0) by forward mode on a batch of 256 (the
// L_MF target's cost; compare with BenchmarkPieceNetworkForward).
func BenchmarkPieceJVP(b *testing.B) {
	net := NewNetworkConfig()
	runPiece(b, func(scope *model.Scope, in []*Node) *Node {
		s, a, v := in[0], in[1], in[2]
		t, r := pieceTimes(s.Graph(), pieceBatch, 0.25, 0.75)
		fn := func(x []*Node) []*Node {
			return []*Node{net.MeanVelocity(scope.At("actor"), x[0], x[1], x[2], s)}
		}
		outs, tans, err := jvp.JVP(fn, []*Node{a, t, r}, []*Node{v, OnesLike(t), nil})
		if err != nil {
			panic(err)
		}
		return Add(ReduceAllSum(outs[0]), ReduceAllSum(tans[0]))
	}, pieceTensor(pieceBatch, pieceObs), pieceTensor(pieceBatch, pieceChunk), pieceTensor(pieceBatch, pieceChunk))
}

// BenchmarkPieceCriticScoringTarget: mean of the 2-critic ensemble on the B·N = 8192 candidates
// of the TD target.
func BenchmarkPieceCriticScoringTarget(b *testing.B) {
	critic := DefaultCriticConfig()
	runPiece(b, func(scope *model.Scope, in []*Node) *Node {
		return critic.QMean(scope.At(CriticScope), in[0], in[1])
	}, pieceTensor(pieceBatch*pieceN, pieceObs), pieceTensor(pieceBatch*pieceN, pieceChunk))
}

// BenchmarkPieceCriticScoringAct: the same on the N = 32 candidates of one action decision.
func BenchmarkPieceCriticScoringAct(b *testing.B) {
	critic := DefaultCriticConfig()
	runPiece(b, func(scope *model.Scope, in []*Node) *Node {
		return critic.QMean(scope.At(CriticScope), in[0], in[1])
	}, pieceTensor(pieceN, pieceObs), pieceTensor(pieceN, pieceChunk))
}

// BenchmarkPieceSelection: argmax over N = 32 scores and gather of the chosen chunk, B = 256.
func BenchmarkPieceSelection(b *testing.B) {
	runPiece(b, func(scope *model.Scope, in []*Node) *Node {
		cand := Reshape(in[1], pieceBatch, pieceN, pieceChunk)
		return policy.SelectArgmax(in[0], cand)
	}, pieceTensor(pieceBatch, pieceN), pieceTensor(pieceBatch*pieceN, pieceChunk))
}
