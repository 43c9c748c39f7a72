package datasets

import "testing"

// BenchmarkSample draws QC-sized batches (B = 256, h = 5) from 1M transitions of cube-double's
// dimensions (obs 37, action 5); scripts/bench_data.py times the same draw in numpy.
func BenchmarkSample(b *testing.B) {
	const n, obsDim, actDim = 1_000_000, 37, 5
	d := &Dataset{Name: "bench", ObsDim: obsDim, ActDim: actDim,
		Observations: make([]float32, n*obsDim), NextObservations: make([]float32, n*obsDim),
		Actions: make([]float32, n*actDim), Rewards: make([]float32, n), Masks: make([]float32, n), Terminals: make([]float32, n)}
	for i := 999; i < n; i += 1000 {
		d.Terminals[i] = 1
	}
	s := NewSampler(d).BatchSize(256).Horizon(5).Seed(1)
	batch := NewBatch(256, obsDim, actDim, 5)
	b.ResetTimer()
	for range b.N {
		if err := s.SampleInto(batch); err != nil {
			b.Fatal(err)
		}
	}
}
