package fitbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SlicedWasserstein returns the sliced 2-Wasserstein distance between two equally sized sample
// sets x and y (flat [n, dim]): sqrt of the mean, over numProj random unit directions, of the
// squared 1-D W₂ between the projections (sorted-sample matching). Directions come from rng, so
// the same rng state gives the same directions for every compared set.
func SlicedWasserstein(x, y []float64, dim, numProj int, rng *rand.Rand) (float64, error) {
	n, err := sampleCount(x, y, dim)
	if err != nil {
		return 0, err
	}
	if numProj < 1 {
		return 0, fmt.Errorf("fitbench: sliced Wasserstein needs ≥ 1 projection, got %d", numProj)
	}
	px, py := make([]float64, n), make([]float64, n)
	dir := make([]float64, dim)
	total := 0.0
	for p := 0; p < numProj; p++ {
		norm := 0.0
		for d := range dir {
			dir[d] = rng.NormFloat64()
			norm += dir[d] * dir[d]
		}
		norm = math.Sqrt(norm)
		for i := 0; i < n; i++ {
			var sx, sy float64
			for d := 0; d < dim; d++ {
				sx += x[i*dim+d] * dir[d]
				sy += y[i*dim+d] * dir[d]
			}
			px[i], py[i] = sx/norm, sy/norm
		}
		slices.Sort(px)
		slices.Sort(py)
		w := 0.0
		for i := 0; i < n; i++ {
			dd := px[i] - py[i]
			w += dd * dd
		}
		total += w / float64(n)
	}
	return math.Sqrt(total / float64(numProj)), nil
}

// MMD returns the square root of the unbiased squared maximum mean discrepancy between x and y
// (flat [n, dim], equal n) under a sum of Gaussian kernels exp(−‖a − b‖²/(2h²)) over bandwidths;
// negative estimates (possible when the sets match) are reported as 0.
func MMD(x, y []float64, dim int, bandwidths []float64) (float64, error) {
	n, err := sampleCount(x, y, dim)
	if err != nil {
		return 0, err
	}
	if n < 2 || len(bandwidths) == 0 {
		return 0, fmt.Errorf("fitbench: MMD needs ≥ 2 samples and ≥ 1 bandwidth")
	}
	inv := make([]float64, len(bandwidths))
	for i, h := range bandwidths {
		inv[i] = 1 / (2 * h * h)
	}
	k := func(a, b []float64, i, j int) float64 {
		d2 := 0.0
		for d := 0; d < dim; d++ {
			dd := a[i*dim+d] - b[j*dim+d]
			d2 += dd * dd
		}
		s := 0.0
		for _, c := range inv {
			s += math.Exp(-d2 * c)
		}
		return s
	}
	var kxx, kyy, kxy float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			kxy += k(x, y, i, j)
			if j > i {
				kxx += 2 * k(x, x, i, j)
				kyy += 2 * k(y, y, i, j)
			}
		}
	}
	nf := float64(n)
	mmd2 := (kxx+kyy)/(nf*(nf-1)) - 2*kxy/(nf*nf)
	return math.Sqrt(math.Max(mmd2, 0)), nil
}

func sampleCount(x, y []float64, dim int) (int, error) {
	if dim < 1 {
		return 0, fmt.Errorf("fitbench: dimension %d must be ≥ 1", dim)
	}
	if len(x)%dim != 0 || len(y)%dim != 0 {
		return 0, fmt.Errorf("fitbench: sample sets of %d and %d values are not multiples of dim %d", len(x), len(y), dim)
	}
	if len(x) != len(y) || len(x) == 0 {
		return 0, fmt.Errorf("fitbench: sample sets must be equally sized and non-empty, got %d and %d samples", len(x)/dim, len(y)/dim)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("fitbench: sample %d of the first set is not finite (%g)", i/dim, v)
		}
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("fitbench: sample %d of the second set is not finite (%g)", i/dim, v)
		}
	}
	return len(x) / dim, nil
}
