// Package datasets holds offline RL data as contiguous float32 arrays: trajectories, transitions,
// h-step chunk windows with chunk rewards and masks, normalisation, splits, a replay buffer that
// grows online, and a seeded batch sampler. It knows no file format; plugins fill it.
package datasets

import "fmt"

// Dataset is a sequence of transitions, trajectory after trajectory, stored row-major.
// Row i is (Observations[i], Actions[i], Rewards[i], NextObservations[i], Masks[i], Terminals[i]).
type Dataset struct {
	Name   string // where it came from, for messages
	ObsDim int
	ActDim int

	Observations     []float32 // N × ObsDim
	Actions          []float32 // N × ActDim
	NextObservations []float32 // N × ObsDim
	Rewards          []float32 // N
	// Masks is the bootstrap mask: 0 when the next state ends the task (no value after it), else 1.
	Masks []float32 // N
	// Terminals is 1 on the last transition of each trajectory (episode boundary), else 0.
	Terminals []float32 // N
}

// Len returns the number of transitions.
func (d *Dataset) Len() int { return len(d.Rewards) }

// Validate checks that every array has the length the dimensions imply and that no value is NaN or Inf.
func (d *Dataset) Validate() error {
	n := d.Len()
	check := func(field string, got, want int) error {
		if got != want {
			return fmt.Errorf("dataset %s: field %s has %d values, want %d", d.Name, field, got, want)
		}
		return nil
	}
	for _, c := range []struct {
		field     string
		got, want int
	}{
		{"Observations", len(d.Observations), n * d.ObsDim},
		{"Actions", len(d.Actions), n * d.ActDim},
		{"NextObservations", len(d.NextObservations), n * d.ObsDim},
		{"Masks", len(d.Masks), n},
		{"Terminals", len(d.Terminals), n},
	} {
		if err := check(c.field, c.got, c.want); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		field string
		v     []float32
		width int
	}{
		{"Observations", d.Observations, d.ObsDim}, {"Actions", d.Actions, d.ActDim},
		{"NextObservations", d.NextObservations, d.ObsDim}, {"Rewards", d.Rewards, 1},
		{"Masks", d.Masks, 1}, {"Terminals", d.Terminals, 1},
	} {
		for i, x := range f.v {
			if x != x || x > 3.4e38 || x < -3.4e38 {
				return fmt.Errorf("dataset %s: field %s has %v at row %d, column %d", d.Name, f.field, x, i/f.width, i%f.width)
			}
		}
	}
	return nil
}

// Episode is the half-open row range [Start, End) of one trajectory.
type Episode struct{ Start, End int }

// Len returns the number of transitions of the episode.
func (e Episode) Len() int { return e.End - e.Start }

// Episodes splits the rows into trajectories at the rows whose Terminals value is non-zero. A last
// trajectory without a terminal row (an episode still running, a truncated file) is returned too.
func (d *Dataset) Episodes() []Episode {
	var eps []Episode
	start := 0
	for i, t := range d.Terminals {
		if t != 0 {
			eps = append(eps, Episode{start, i + 1})
			start = i + 1
		}
	}
	if start < d.Len() {
		eps = append(eps, Episode{start, d.Len()})
	}
	return eps
}

// Clone returns a deep copy.
func (d *Dataset) Clone() *Dataset {
	c := &Dataset{Name: d.Name, ObsDim: d.ObsDim, ActDim: d.ActDim}
	c.Observations = append([]float32(nil), d.Observations...)
	c.Actions = append([]float32(nil), d.Actions...)
	c.NextObservations = append([]float32(nil), d.NextObservations...)
	c.Rewards = append([]float32(nil), d.Rewards...)
	c.Masks = append([]float32(nil), d.Masks...)
	c.Terminals = append([]float32(nil), d.Terminals...)
	return c
}

// Append adds the rows of o (same dimensions) after the rows of d.
func (d *Dataset) Append(o *Dataset) error {
	if o.ObsDim != d.ObsDim || o.ActDim != d.ActDim {
		return fmt.Errorf("dataset %s: cannot append %s: dimensions obs %d act %d, want obs %d act %d",
			d.Name, o.Name, o.ObsDim, o.ActDim, d.ObsDim, d.ActDim)
	}
	d.Observations = append(d.Observations, o.Observations...)
	d.Actions = append(d.Actions, o.Actions...)
	d.NextObservations = append(d.NextObservations, o.NextObservations...)
	d.Rewards = append(d.Rewards, o.Rewards...)
	d.Masks = append(d.Masks, o.Masks...)
	d.Terminals = append(d.Terminals, o.Terminals...)
	return nil
}

// AppendTransition adds one row (its slices have the dataset's dimensions; not checked, since
// this is the per-step path of online collection).
func (d *Dataset) AppendTransition(t Transition) {
	d.Observations = append(d.Observations, t.Observation...)
	d.Actions = append(d.Actions, t.Action...)
	d.NextObservations = append(d.NextObservations, t.NextObservation...)
	d.Rewards = append(d.Rewards, t.Reward)
	d.Masks = append(d.Masks, t.Mask)
	d.Terminals = append(d.Terminals, t.Terminal)
}

// SelectEpisodes returns a new dataset holding the given trajectories, in the given order.
func (d *Dataset) SelectEpisodes(name string, eps []Episode) *Dataset {
	n := 0
	for _, e := range eps {
		n += e.Len()
	}
	o := &Dataset{Name: name, ObsDim: d.ObsDim, ActDim: d.ActDim,
		Observations:     make([]float32, 0, n*d.ObsDim),
		Actions:          make([]float32, 0, n*d.ActDim),
		NextObservations: make([]float32, 0, n*d.ObsDim),
		Rewards:          make([]float32, 0, n),
		Masks:            make([]float32, 0, n),
		Terminals:        make([]float32, 0, n),
	}
	for _, e := range eps {
		o.Observations = append(o.Observations, d.Observations[e.Start*d.ObsDim:e.End*d.ObsDim]...)
		o.Actions = append(o.Actions, d.Actions[e.Start*d.ActDim:e.End*d.ActDim]...)
		o.NextObservations = append(o.NextObservations, d.NextObservations[e.Start*d.ObsDim:e.End*d.ObsDim]...)
		o.Rewards = append(o.Rewards, d.Rewards[e.Start:e.End]...)
		o.Masks = append(o.Masks, d.Masks[e.Start:e.End]...)
		o.Terminals = append(o.Terminals, d.Terminals[e.Start:e.End]...)
		// A selected trajectory always ends a trajectory, even a running one cut here.
		o.Terminals[len(o.Terminals)-1] = 1
	}
	return o
}

// String summarises the dataset in one line (printing the arrays of a million rows would not help).
func (d *Dataset) String() string {
	return fmt.Sprintf("dataset %s: %d transitions in %d trajectories, obs dim %d, action dim %d",
		d.Name, d.Len(), len(d.Episodes()), d.ObsDim, d.ActDim)
}
