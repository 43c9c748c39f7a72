package robomimic_test

import (
	"fmt"

	"github.com/gomvp/gomvp/plugins/robomimic"
)

// A Robomimic file converted to .npz loads in pure Go with QC's conventions: 23-dim square
// observations, rewards in {−1, 0}.
func ExampleLoadFile() {
	d, err := robomimic.LoadFile("testdata/square-small.npz", robomimic.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	lo, hi := d.Rewards[0], d.Rewards[0]
	for _, r := range d.Rewards {
		lo, hi = min(lo, r), max(hi, r)
	}
	fmt.Println(len(d.Episodes()), "demos,", d.Len(), "transitions, obs", d.ObsDim, "act", d.ActDim, "rewards in", lo, hi)
	// Output: 5 demos, 31 transitions, obs 23 act 7 rewards in -1 0
}
