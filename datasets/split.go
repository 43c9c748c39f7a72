package datasets

import (
	"fmt"
	"math/rand/v2"
)

// SplitByTrajectory puts a fraction valFraction of the trajectories, drawn with the seed, into val
// and the rest into train, so that no trajectory is split between them. Each side keeps its
// trajectories in their original order. At least one trajectory stays in train.
func SplitByTrajectory(d *Dataset, valFraction float64, seed uint64) (train, val *Dataset, err error) {
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, nil, fmt.Errorf("datasets: split of %s: validation fraction %v, want in [0, 1)", d.Name, valFraction)
	}
	eps := d.Episodes()
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("datasets: split of %s: no trajectories", d.Name)
	}
	nVal := int(float64(len(eps))*valFraction + 0.5)
	if nVal >= len(eps) {
		nVal = len(eps) - 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974))
	isVal := make([]bool, len(eps))
	for _, i := range rng.Perm(len(eps))[:nVal] {
		isVal[i] = true
	}
	var tr, va []Episode
	for i, e := range eps {
		if isVal[i] {
			va = append(va, e)
		} else {
			tr = append(tr, e)
		}
	}
	return d.SelectEpisodes(d.Name+"/train", tr), d.SelectEpisodes(d.Name+"/val", va), nil
}
