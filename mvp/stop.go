package mvp

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// InterruptedError is what Trainer.Run returns when its context is cancelled: training stopped
// at a point it can resume from exactly (after the current update offline, at the end of the
// current episode online), and Checkpoint holds the learning state at Step. errors.Is finds both
// the context's error (context.Canceled) and its cause through it.
type InterruptedError struct {
	// Step is the number of updates done; EnvSteps the online environment steps.
	Step, EnvSteps int64
	// Checkpoint is the file holding the state at Step ("" if the run had done nothing yet).
	Checkpoint string
	// During names what was running: "offline training", "online training", "evaluation" (one
	// interrupted before, redone on resume) or "final evaluation".
	During string
	// Err is the context's error and Cause its cause (context.Cause).
	Err, Cause error
}

func (e *InterruptedError) Error() string {
	ck := "no checkpoint written (nothing to save yet)"
	if e.Checkpoint != "" {
		ck = "checkpoint " + e.Checkpoint
	}
	return fmt.Sprintf("interrupted during %s at step %d (%d environment steps); %s", e.During, e.Step, e.EnvSteps, ck)
}

func (e *InterruptedError) Unwrap() []error { return []error{e.Err, e.Cause} }

// MarshalBinary returns the stream's state, so that a stopped run continues the same noise.
func (r *ActRNG) MarshalBinary() ([]byte, error) {
	var out []byte
	if err := r.state.ConstBytes(func(b []byte) { out = append([]byte(nil), b...) }); err != nil {
		return nil, fmt.Errorf("mvp: action RNG state: %w", err)
	}
	return out, nil
}

// UnmarshalBinary restores a state from MarshalBinary.
func (r *ActRNG) UnmarshalBinary(b []byte) error {
	t := tensors.FromShape(graph.RNGStateShape)
	if want := t.Shape().Memory(); uintptr(len(b)) != want {
		return fmt.Errorf("mvp: action RNG state has %d bytes, want %d", len(b), want)
	}
	if err := t.MutableBytes(func(dst []byte) { copy(dst, b) }); err != nil {
		return fmt.Errorf("mvp: action RNG state: %w", err)
	}
	r.state = t
	return nil
}
