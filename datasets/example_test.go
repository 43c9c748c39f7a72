package datasets_test

import (
	"fmt"

	"github.com/gomvp/gomvp/datasets"
)

// A sampler draws h-step windows: chunk reward R_k = Σ γ^i r_{k+i}, the bootstrap mask, the
// per-step valid mask and s_{k+h}, ready for y = R_k + γ^h·mask·Q_target(s_{k+h}, a*).
func ExampleSampler() {
	// One trajectory of 4 steps with reward 1 on each, the task ending at its last step.
	d := &datasets.Dataset{Name: "toy", ObsDim: 1, ActDim: 1,
		Observations:     []float32{0, 1, 2, 3},
		Actions:          []float32{0.1, 0.2, 0.3, 0.4},
		NextObservations: []float32{1, 2, 3, 4},
		Rewards:          []float32{1, 1, 1, 1},
		Masks:            []float32{1, 1, 1, 0},
		Terminals:        []float32{0, 0, 0, 1},
	}
	buffer, _ := datasets.NewReplayBuffer(d, 100) // grows online with buffer.Add
	s := datasets.NewSampler(buffer).BatchSize(2).Horizon(3).Discount(0.5).Seed(4)
	b, _ := s.Sample()
	for j := 0; j < b.Size; j++ {
		fmt.Printf("k=%d s=%v chunk=%v R=%v mask=%v valid=%v s_k+h=%v\n", b.Indices[j],
			b.Observations[j], b.Actions[j*3:j*3+3], b.Rewards[j], b.Masks[j], b.Valid[j*3:j*3+3], b.NextObservations[j])
	}
	// Output:
	// k=2 s=2 chunk=[0.3 0.4 0.4] R=1.5 mask=0 valid=[1 1 0] s_k+h=4
	// k=0 s=0 chunk=[0.1 0.2 0.3] R=1.75 mask=1 valid=[1 1 1] s_k+h=3
}
