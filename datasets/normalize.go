package datasets

import (
	"encoding/json"
	"fmt"
	"math"
)

// NormKind selects how a Normalizer is fitted.
type NormKind string

const (
	// NormNone leaves values unchanged (shift 0, scale 1).
	NormNone NormKind = "none"
	// NormStandard maps each dimension to zero mean and unit standard deviation.
	NormStandard NormKind = "standard"
	// NormMinMax maps each dimension's [min, max] onto [−1, 1].
	NormMinMax NormKind = "minmax"
)

// Normalizer maps each dimension x to (x − Shift)/Scale. Fit it on the training data, apply it to
// network inputs and targets, and invert it on network outputs. It marshals to JSON so that a
// checkpoint can carry it.
type Normalizer struct {
	Kind  NormKind  `json:"kind"`
	Shift []float32 `json:"shift"`
	Scale []float32 `json:"scale"`
}

// DefaultMinScale is the smallest scale Fit produces: constant dimensions (a gripper never used,
// a fixed cube coordinate) are shifted but not blown up.
const DefaultMinScale = 1e-3

// FitNormalizer fits a normalizer of the given kind to x, a row-major [n, dim] array; scales below
// minScale are raised to it. Statistics are accumulated in float64.
func FitNormalizer(kind NormKind, x []float32, dim int, minScale float64) (*Normalizer, error) {
	if dim <= 0 || len(x)%dim != 0 {
		return nil, fmt.Errorf("datasets: normalizer: %d values do not form rows of %d", len(x), dim)
	}
	n := len(x) / dim
	nz := &Normalizer{Kind: kind, Shift: make([]float32, dim), Scale: make([]float32, dim)}
	switch kind {
	case NormNone, "":
		nz.Kind = NormNone
		for j := range nz.Scale {
			nz.Scale[j] = 1
		}
		return nz, nil
	case NormStandard, NormMinMax:
	default:
		return nil, fmt.Errorf("datasets: unknown normalizer kind %q (want %q, %q or %q)", kind, NormNone, NormStandard, NormMinMax)
	}
	if n == 0 {
		return nil, fmt.Errorf("datasets: normalizer %s: no rows to fit", kind)
	}
	for j := 0; j < dim; j++ {
		var shift, scale float64
		if kind == NormStandard {
			var sum, sq float64
			for i := 0; i < n; i++ {
				sum += float64(x[i*dim+j])
			}
			mean := sum / float64(n)
			for i := 0; i < n; i++ {
				d := float64(x[i*dim+j]) - mean
				sq += d * d
			}
			shift, scale = mean, math.Sqrt(sq/float64(n))
		} else {
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := 0; i < n; i++ {
				v := float64(x[i*dim+j])
				lo, hi = min(lo, v), max(hi, v)
			}
			shift, scale = (hi+lo)/2, (hi-lo)/2
		}
		if math.IsNaN(shift) || math.IsInf(shift, 0) || math.IsNaN(scale) || math.IsInf(scale, 0) {
			return nil, fmt.Errorf("datasets: normalizer %s: dimension %d has non-finite statistics (shift %v, scale %v)", kind, j, shift, scale)
		}
		nz.Shift[j], nz.Scale[j] = float32(shift), float32(max(scale, minScale))
	}
	return nz, nil
}

// Dim returns the number of dimensions.
func (n *Normalizer) Dim() int { return len(n.Shift) }

// Apply normalises x (row-major rows of Dim values) in place.
func (n *Normalizer) Apply(x []float32) {
	d := n.Dim()
	if d == 0 {
		return
	}
	for i := range x {
		j := i % d
		x[i] = (x[i] - n.Shift[j]) / n.Scale[j]
	}
}

// Invert undoes Apply in place.
func (n *Normalizer) Invert(x []float32) {
	d := n.Dim()
	if d == 0 {
		return
	}
	for i := range x {
		j := i % d
		x[i] = x[i]*n.Scale[j] + n.Shift[j]
	}
}

// Normalization holds the observation and action normalizers of a dataset. The action normalizer
// applies to each step of an action chunk. Either may be nil (identity).
type Normalization struct {
	Obs *Normalizer `json:"obs,omitempty"`
	Act *Normalizer `json:"act,omitempty"`
}

// FitNormalization fits the observation normalizer on Observations and the action normalizer on
// Actions of d. OGBench and Robomimic actions already lie in [−1, 1], hence QC's usual choice is
// obs standard (or none) and act none.
func FitNormalization(d *Dataset, obs, act NormKind) (*Normalization, error) {
	o, err := FitNormalizer(obs, d.Observations, d.ObsDim, DefaultMinScale)
	if err != nil {
		return nil, fmt.Errorf("dataset %s observations: %w", d.Name, err)
	}
	a, err := FitNormalizer(act, d.Actions, d.ActDim, DefaultMinScale)
	if err != nil {
		return nil, fmt.Errorf("dataset %s actions: %w", d.Name, err)
	}
	return &Normalization{Obs: o, Act: a}, nil
}

// ApplyTo normalises the observations, next observations and actions of d in place.
func (n *Normalization) ApplyTo(d *Dataset) error {
	if n.Obs != nil {
		if n.Obs.Dim() != d.ObsDim {
			return fmt.Errorf("datasets: observation normalizer has %d dimensions, dataset %s has %d", n.Obs.Dim(), d.Name, d.ObsDim)
		}
		n.Obs.Apply(d.Observations)
		n.Obs.Apply(d.NextObservations)
	}
	if n.Act != nil {
		if n.Act.Dim() != d.ActDim {
			return fmt.Errorf("datasets: action normalizer has %d dimensions, dataset %s has %d", n.Act.Dim(), d.Name, d.ActDim)
		}
		n.Act.Apply(d.Actions)
	}
	return nil
}

// ApplyToBatch normalises a batch's observations, next observations and action chunks in place.
func (n *Normalization) ApplyToBatch(b *Batch) {
	if n.Obs != nil {
		n.Obs.Apply(b.Observations)
		n.Obs.Apply(b.NextObservations)
	}
	if n.Act != nil {
		n.Act.Apply(b.Actions)
	}
}

// UnmarshalJSON reads the checkpoint form written by encoding/json and rejects inconsistent or
// non-finite parameters.
func (n *Normalization) UnmarshalJSON(data []byte) error {
	type plain Normalization
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("datasets: normalization: %w", err)
	}
	for name, z := range map[string]*Normalizer{"obs": p.Obs, "act": p.Act} {
		if z == nil {
			continue
		}
		if len(z.Shift) != len(z.Scale) {
			return fmt.Errorf("datasets: normalization %s: %d shifts and %d scales", name, len(z.Shift), len(z.Scale))
		}
		for j, s := range z.Scale {
			if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(z.Shift[j])) {
				return fmt.Errorf("datasets: normalization %s: dimension %d has shift %v scale %v", name, j, z.Shift[j], s)
			}
		}
	}
	*n = Normalization(p)
	return nil
}
