package mvp

import (
	"math/rand/v2"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

const benchBatch, benchSDim, benchH, benchD = 256, 32, 5, 5

// updateStep compiles one generator update (loss + Adam) at batch 256 with obsDim 32 and a chunk
// of h = 5 actions of dim 5 (actDim 25), data fed from the host, and returns a function running it.
func updateStep(b *testing.B, gen Generator) func() {
	const batch, sDim, h, d = benchBatch, benchSDim, benchH, benchD
	store := seededStore(b, 1)
	opt := optimizer.Adam().LearningRate(3e-4).Done()
	e, err := model.NewExec(testBackend(b), store, func(scope *model.Scope, s, a, valid *Node) *Node {
		loss, _ := gen.Loss(scope.At("actor"), s, a, valid)
		opt.UpdateGraph(scope, s.Graph(), loss)
		return loss
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	s, a, valid := make([]float32, batch*sDim), make([]float32, batch*h*d), make([]float32, batch*h)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	for i := range a {
		a[i] = float32(2*rng.Float64() - 1)
	}
	for i := range valid {
		valid[i] = 1
	}
	step := func() {
		out, err := e.Call(tensors.FromFlatDataAndDimensions(s, batch, sDim),
			tensors.FromFlatDataAndDimensions(a, batch, h*d), tensors.FromFlatDataAndDimensions(valid, batch, h))
		if err != nil {
			b.Fatal(err)
		}
		_ = out[0].FinalizeAll()
	}
	step() // compile
	return step
}

// benchUpdate measures one generator update per iteration.
func benchUpdate(b *testing.B, gen Generator) {
	step := updateStep(b, gen)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkGeneratorUpdate compares the MVP update (forward-mode JVP + IVC) with the
// flow-matching update on the same network: the paper's 4×512 GELU MLP, and the 3×256 one that
// `mvp fit` uses.
func BenchmarkGeneratorUpdate(b *testing.B) {
	nets := map[string]func() *NetworkConfig{
		"4x512": NewNetworkConfig,
		"3x256": func() *NetworkConfig { return NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(256, 256, 256)) },
	}
	for _, netName := range []string{"4x512", "3x256"} {
		mvp1, _ := NewMVP(NewConfig().WithNet(nets[netName]()))
		mvp0, _ := NewMVP(NewConfig().WithNet(nets[netName]()).WithLambda(0))
		flow, _ := NewFlow(NewFlowConfig().WithNet(nets[netName]()))
		for _, gen := range []Generator{mvp1, mvp0, flow} {
			b.Run(netName+"/"+gen.Name(), func(b *testing.B) { benchUpdate(b, gen) })
		}
	}
}

// BenchmarkGeneratorUpdateInterleaved alternates MVP and flow-matching updates on the same network
// within one loop, so that both see the same machine load; it reports each one's steps/s and
// their ratio (flow steps/s ÷ MVP steps/s = how many times longer an MVP update takes).
func BenchmarkGeneratorUpdateInterleaved(b *testing.B) {
	nets := map[string]func() *NetworkConfig{
		"4x512": NewNetworkConfig,
		"3x256": func() *NetworkConfig { return NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(256, 256, 256)) },
	}
	for _, netName := range []string{"4x512", "3x256"} {
		b.Run(netName, func(b *testing.B) {
			mvpGen, _ := NewMVP(NewConfig().WithNet(nets[netName]()))
			flowGen, _ := NewFlow(NewFlowConfig().WithNet(nets[netName]()))
			mvpStep, flowStep := updateStep(b, mvpGen), updateStep(b, flowGen)
			var tMVP, tFlow time.Duration
			var cpuMVP, cpuFlow float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c0, t0 := processCPU(), time.Now()
				mvpStep()
				c1, t1 := processCPU(), time.Now()
				flowStep()
				c2, t2 := processCPU(), time.Now()
				tMVP += t1.Sub(t0)
				tFlow += t2.Sub(t1)
				cpuMVP += c1 - c0
				cpuFlow += c2 - c1
			}
			b.ReportMetric(float64(b.N)/tMVP.Seconds(), "mvp-steps/s")
			b.ReportMetric(float64(b.N)/tFlow.Seconds(), "flow-steps/s")
			b.ReportMetric(tMVP.Seconds()/tFlow.Seconds(), "mvp/flow-time")
			// CPU time per step is what a shared machine's load does not inflate.
			b.ReportMetric(1000*cpuMVP/float64(b.N), "mvp-cpu-ms")
			b.ReportMetric(1000*cpuFlow/float64(b.N), "flow-cpu-ms")
		})
	}
}
