// Package fitbench measures how well a state-conditioned action generator fits a known
// distribution: low-dimensional, multimodal action distributions whose shape changes with the state
// (modes that rotate, rings whose radius varies, a checkerboard whose parity flips), exact samplers
// for them, sample-based distances (sliced Wasserstein, MMD), and a small trainer that fits any
// mvp.Generator to them. `mvp fit` is its command-line front end.
package fitbench

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Family is one kind of conditional distribution p(a | θ) over the 2-D action box [−1, 1]².
type Family int

const (
	// Modes: four Gaussian modes (σ = 0.06) at radius 0.6 and angles θ + k·π/2 — they rotate with θ.
	Modes Family = iota
	// Ring: a thin ring (radial σ = 0.03) of radius 0.45 + 0.25·cos θ.
	Ring
	// Checkerboard: uniform over the 4×4 checkerboard cells of [−0.8, 0.8]² of one colour; the
	// colour flips with the sign of sin θ.
	Checkerboard
	numFamilies
)

var familyNames = [...]string{"modes", "ring", "checkerboard"}

func (f Family) String() string {
	if f >= 0 && f < numFamilies {
		return familyNames[f]
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Families lists every family.
func Families() []Family { return []Family{Modes, Ring, Checkerboard} }

// ParseFamily maps a name to its Family.
func ParseFamily(name string) (Family, error) {
	for i, n := range familyNames {
		if n == name {
			return Family(i), nil
		}
	}
	return 0, fmt.Errorf("fitbench: unknown family %q (have %v)", name, familyNames)
}

// ActDim is the action dimension of every family.
const ActDim = 2

// Task is a set of families sharing one conditional generator: the state is
// [cos θ, sin θ, one-hot(family)], so one network must fit all of them.
type Task struct {
	Families []Family
}

// NewTask returns the task over the given families (none: all of them).
func NewTask(families ...Family) *Task {
	if len(families) == 0 {
		families = Families()
	}
	return &Task{Families: append([]Family(nil), families...)}
}

// StateDim is 2 + the number of families.
func (t *Task) StateDim() int { return 2 + len(t.Families) }

// State identifies one conditional distribution.
type State struct {
	Family Family
	Theta  float64
}

func (s State) String() string { return fmt.Sprintf("%s@%.3f", s.Family, s.Theta) }

// Encode writes the state vector of st into dst (len StateDim).
func (t *Task) Encode(st State, dst []float32) {
	dst[0], dst[1] = float32(math.Cos(st.Theta)), float32(math.Sin(st.Theta))
	for i, f := range t.Families {
		if f == st.Family {
			dst[2+i] = 1
		} else {
			dst[2+i] = 0
		}
	}
}

// RandomState draws a family uniformly and θ ~ U[0, 2π).
func (t *Task) RandomState(rng *rand.Rand) State {
	return State{Family: t.Families[rng.IntN(len(t.Families))], Theta: 2 * math.Pi * rng.Float64()}
}

// HeldOutStates returns perFamily states per family at θ = 2π·(k + φ)/perFamily, with an offset φ
// that a training run draws with probability zero.
func (t *Task) HeldOutStates(perFamily int) []State {
	var out []State
	const phase = 0.3183098861837907 // 1/π: irrational offset of the evaluation grid.
	for _, f := range t.Families {
		for k := 0; k < perFamily; k++ {
			out = append(out, State{Family: f, Theta: 2 * math.Pi * (float64(k) + phase) / float64(perFamily)})
		}
	}
	return out
}

// SampleAction draws one action a ~ p(· | st) into dst (len ActDim).
func SampleAction(rng *rand.Rand, st State, dst []float64) {
	switch st.Family {
	case Modes:
		k := rng.IntN(4)
		ang := st.Theta + float64(k)*math.Pi/2
		dst[0] = 0.6*math.Cos(ang) + 0.06*rng.NormFloat64()
		dst[1] = 0.6*math.Sin(ang) + 0.06*rng.NormFloat64()
	case Ring:
		rad := 0.45 + 0.25*math.Cos(st.Theta) + 0.03*rng.NormFloat64()
		ang := 2 * math.Pi * rng.Float64()
		dst[0], dst[1] = rad*math.Cos(ang), rad*math.Sin(ang)
	case Checkerboard:
		parity := 0
		if math.Sin(st.Theta) > 0 {
			parity = 1
		}
		// 8 cells of the chosen colour out of 16; pick one uniformly, then a point inside it.
		for {
			i, j := rng.IntN(4), rng.IntN(4)
			if (i+j+parity)%2 != 0 {
				continue
			}
			dst[0] = -0.8 + 0.4*(float64(i)+rng.Float64())
			dst[1] = -0.8 + 0.4*(float64(j)+rng.Float64())
			return
		}
	default:
		panic(fmt.Sprintf("fitbench: unknown family %d", st.Family))
	}
}

// SampleActions draws n actions for st as a flat [n, ActDim] slice.
func SampleActions(rng *rand.Rand, st State, n int) []float64 {
	out := make([]float64, n*ActDim)
	for i := 0; i < n; i++ {
		SampleAction(rng, st, out[i*ActDim:(i+1)*ActDim])
	}
	return out
}

// Batch draws a training batch: states [n, StateDim] and actions [n, ActDim], flat float32.
func (t *Task) Batch(rng *rand.Rand, n int) (states, actions []float32) {
	sd := t.StateDim()
	states = make([]float32, n*sd)
	actions = make([]float32, n*ActDim)
	var a [ActDim]float64
	for i := 0; i < n; i++ {
		st := t.RandomState(rng)
		t.Encode(st, states[i*sd:(i+1)*sd])
		SampleAction(rng, st, a[:])
		actions[i*ActDim], actions[i*ActDim+1] = float32(a[0]), float32(a[1])
	}
	return states, actions
}
