package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomvp/gomvp/mvp/deploy"
)

// A policy is a config plus named weights; Save writes it, Load checks and reads it back, and Act
// maps observations and noise to action chunks. Here the generator's weights are zero, so u = 0
// and each candidate is its clipped noise; the critic scores all candidates equally and the first
// one is selected.
func Example() {
	cfg := deploy.Config{
		Format: deploy.FormatName, Version: deploy.FormatVersion, Kind: "mvp",
		ObsDim: 2, ActDim: 1, Horizon: 2, Candidates: 3, ActionLow: -1, ActionHigh: 1,
		Generator: deploy.GeneratorConfig{Type: deploy.GenMeanFlow, Steps: 1,
			Net: deploy.MLPConfig{Widths: []int{4}, Activation: "gelu"}},
		Critic: &deploy.CriticConfig{Ensemble: 2, Net: deploy.MLPConfig{Widths: []int{4}, Activation: "gelu"}},
	}
	weights := map[string]*tensors.Tensor{}
	for name, dims := range cfg.WeightShapes() {
		n := 1
		for _, d := range dims {
			n *= d
		}
		weights[name] = tensors.FromFlatDataAndDimensions(make([]float32, n), dims...)
	}
	p, err := deploy.New(cfg, weights)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "policy")
	defer os.RemoveAll(dir)
	if err := p.Save(filepath.Join(dir, "policy")); err != nil {
		panic(err)
	}
	loaded, err := deploy.Load(filepath.Join(dir, "policy"))
	if err != nil {
		panic(err)
	}
	obs := []float32{0.3, -0.7}
	noise := []float32{0.5, -2, 0.1, 0.2, 0.9, 0.4} // 3 candidates × 2 values
	chunk, err := loaded.Act(obs, noise)
	fmt.Println(chunk, err)
	_, err = loaded.Act(obs[:1], noise)
	fmt.Println(err)
	// Output:
	// [0.5 -1] <nil>
	// deploy: observation has 1 values, not a positive multiple of obs_dim=2
}
