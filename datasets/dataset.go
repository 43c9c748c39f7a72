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
