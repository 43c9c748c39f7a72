package ogbench_test

import (
	"fmt"

	"github.com/gomvp/gomvp/plugins"
	_ "github.com/gomvp/gomvp/plugins/ogbench"
)

// Loading a single-task OGBench dataset: the file is cube-double-play-v0.npz under Path (by
// default ~/.ogbench/data), the rewards come from task 4's goals.
func Example() {
	d, err := plugins.LoadDataset("ogbench:cube-double-play-singletask-task4-v0", plugins.DatasetOptions{Path: "testdata"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Name, d.Len(), "transitions,", len(d.Episodes()), "trajectories, obs", d.ObsDim, "act", d.ActDim)
	// Output: ogbench:cube-double-play-singletask-task4-v0 15 transitions, 3 trajectories, obs 37 act 5
}
