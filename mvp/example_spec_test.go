package mvp_test

import (
	"fmt"

	"github.com/gomvp/gomvp/mvp"
)

// A spec is a row of the kind table with any field changed; it is what a checkpoint stores and
// what eval and export rebuild the agent from.
func ExampleDefaultSpec() {
	spec, err := mvp.DefaultSpec(mvp.KindMVP, 16, 5) // observation size 16, per-step action size 5
	if err != nil {
		panic(err)
	}
	fmt.Println(spec.Generator.Type, "k =", spec.Generator.Steps, "λ =", spec.Generator.Lambda, "h =", spec.Horizon, "N =", spec.Candidates)

	spec.Generator.TimeFeatures, spec.Generator.FourierFrequencies = "fourier", 8
	spec.Generator.Steps = 2
	def, _ := mvp.DefaultSpec(mvp.KindMVP, 16, 5)
	for _, d := range mvp.SpecDiff(def, spec) {
		fmt.Println(d)
	}
	// Output:
	// mean_flow k = 1 λ = 1 h = 5 N = 32
	// generator.fourier_frequencies: unset → 8
	// generator.steps: 1 → 2
	// generator.time_features: "raw" → "fourier"
}
