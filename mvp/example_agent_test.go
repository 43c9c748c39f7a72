package mvp_test

import (
	"fmt"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/xla"
)

// An agent is a generator plus a critic ensemble; Update runs one compiled training step on a
// batch of chunk windows and Act picks, for each state, the best of N one-step candidates.
func ExampleNewAgent() {
	backend, err := xla.Default()
	if err != nil {
		panic(err)
	}
	cfg, err := mvp.DefaultSpec(mvp.KindMVP, 4, 2) // obs dim 4, per-step action dim 2
	if err != nil {
		panic(err)
	}
	cfg.Generator.Hidden, cfg.Critic.Hidden = []int{32, 32}, []int{32, 32}
	cfg.BatchSize, cfg.Candidates = 16, 8
	agent, err := mvp.NewAgent(backend, cfg)
	if err != nil {
		panic(err)
	}
	b := cfg.BatchSize
	batch := &datasets.Batch{
		Size: b, Observations: make([]float32, b*cfg.ObsDim), Actions: make([]float32, b*cfg.ChunkDim()),
		Rewards: make([]float32, b), NextObservations: make([]float32, b*cfg.ObsDim),
		Masks: make([]float32, b), Valid: make([]float32, b*cfg.Horizon),
	}
	metrics, err := agent.Update(batch)
	if err != nil {
		panic(err)
	}
	_, hasCritic := metrics["critic_loss"]
	chunks, err := agent.Act(make([]float32, 3*cfg.ObsDim), mvp.NewActRNG(1)) // 3 states
	if err != nil {
		panic(err)
	}
	fmt.Println("critic trained:", hasCritic, "chunk values:", len(chunks), "= 3 ×", cfg.Horizon, "×", cfg.ActDim)
	// Output: critic trained: true chunk values: 30 = 3 × 5 × 2
}
