package datasets

import (
	"fmt"
	"math"
)

// Transition is one environment step, as appended to a ReplayBuffer online.
type Transition struct {
	Observation     []float32 // s_t
	Action          []float32 // a_t (one step of an executed chunk)
	Reward          float32
	NextObservation []float32 // s_{t+1}
	// Mask is the bootstrap mask: 0 when s_{t+1} ends the task (e.g. success), else 1.
	Mask float32
	// Terminal is 1 on the last step of an episode (task end or time limit), else 0.
	Terminal float32
}

// ReplayBuffer holds transitions in contiguous arrays: it starts from an offline dataset and grows
// online up to its capacity, after which each new transition overwrites the oldest one (first-in,
// first-out over all rows, so the offline rows, being the oldest, go first, as in QC's buffer). It
// is a Source for Sampler. It is not safe for concurrent use.
type ReplayBuffer struct {
	data        Dataset // arrays of size rows while growing, of capacity rows once full
	start, size int
	capacity    int
}

// DefaultReplayCapacity is the replay-buffer size of QC's offline-to-online runs (its
// --buffer_size): 2M transitions.
const DefaultReplayCapacity = 2_000_000

// ReplayCapacity is QC's capacity rule for a buffer that starts from an offline dataset of n
// transitions: max(DefaultReplayCapacity, n + 1). With the paper's 1M online steps and up to 1M
// offline transitions nothing is evicted; a larger dataset keeps its size plus one row, so every
// online transition overwrites the oldest (offline) row.
func ReplayCapacity(n int) int { return max(DefaultReplayCapacity, n+1) }

// NewReplayBuffer returns a buffer of the given capacity (in transitions) holding a copy of initial;
// capacity must be at least initial.Len() (ReplayCapacity gives QC's choice). Memory grows with
// the rows held, not with the capacity.
func NewReplayBuffer(initial *Dataset, capacity int) (*ReplayBuffer, error) {
	if initial == nil {
		return nil, fmt.Errorf("datasets: replay buffer needs an initial dataset (it fixes the dimensions); use NewEmptyReplayBuffer")
	}
	if capacity < initial.Len() || capacity <= 0 {
		return nil, fmt.Errorf("datasets: replay buffer capacity %d is smaller than the %d transitions of %s", capacity, initial.Len(), initial.Name)
	}
	if err := initial.Validate(); err != nil {
		return nil, fmt.Errorf("datasets: replay buffer: %w", err)
	}
	b := NewEmptyReplayBuffer(initial.Name+"+online", initial.ObsDim, initial.ActDim, capacity)
	if err := b.data.Append(initial); err != nil {
		return nil, fmt.Errorf("datasets: replay buffer: %w", err)
	}
	b.size = initial.Len()
	return b, nil
}

// NewEmptyReplayBuffer returns an empty buffer for purely online training.
func NewEmptyReplayBuffer(name string, obsDim, actDim, capacity int) *ReplayBuffer {
	return &ReplayBuffer{capacity: capacity, data: Dataset{Name: name, ObsDim: obsDim, ActDim: actDim}}
}

func (b *ReplayBuffer) rows() view {
	return view{d: &b.data, start: b.start, size: b.size, capacity: b.capacity}
}

// Len returns the number of transitions held.
func (b *ReplayBuffer) Len() int { return b.size }

// Capacity returns the most transitions the buffer holds.
func (b *ReplayBuffer) Capacity() int { return b.capacity }

// ObsDim and ActDim are the dimensions of the stored vectors.
func (b *ReplayBuffer) ObsDim() int { return b.data.ObsDim }
func (b *ReplayBuffer) ActDim() int { return b.data.ActDim }

// Add appends one transition, overwriting the oldest when the buffer is full.
func (b *ReplayBuffer) Add(t Transition) error {
	d := &b.data
	if len(t.Observation) != d.ObsDim || len(t.NextObservation) != d.ObsDim || len(t.Action) != d.ActDim {
		return fmt.Errorf("datasets: replay buffer %s: transition has observation %d, next observation %d, action %d values, want %d, %d, %d",
			d.Name, len(t.Observation), len(t.NextObservation), len(t.Action), d.ObsDim, d.ObsDim, d.ActDim)
	}
	for _, f := range []struct {
		name string
		v    []float32
	}{{"Observation", t.Observation}, {"Action", t.Action}, {"NextObservation", t.NextObservation}, {"Reward", []float32{t.Reward}}} {
		for i, x := range f.v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("datasets: replay buffer %s: transition field %s has %v at index %d", d.Name, f.name, x, i)
			}
		}
	}
	if b.capacity == 0 {
		return fmt.Errorf("datasets: replay buffer %s has capacity 0", d.Name)
	}
	if b.size < b.capacity {
		// Still growing: start is 0 and the arrays hold exactly size rows.
		d.AppendTransition(t)
		b.size++
		return nil
	}
	p := b.start
	b.start++
	if b.start == b.capacity {
		b.start = 0
	}
	od, ad := d.ObsDim, d.ActDim
	copy(d.Observations[p*od:(p+1)*od], t.Observation)
	copy(d.Actions[p*ad:(p+1)*ad], t.Action)
	copy(d.NextObservations[p*od:(p+1)*od], t.NextObservation)
	d.Rewards[p] = t.Reward
	d.Masks[p] = t.Mask
	d.Terminals[p] = t.Terminal
	return nil
}

// AddDataset appends every transition of e (for example one finished episode).
func (b *ReplayBuffer) AddDataset(e *Dataset) error {
	if e.ObsDim != b.data.ObsDim || e.ActDim != b.data.ActDim {
		return fmt.Errorf("datasets: replay buffer %s: cannot add %s with obs %d act %d, want obs %d act %d",
			b.data.Name, e.Name, e.ObsDim, e.ActDim, b.data.ObsDim, b.data.ActDim)
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("datasets: replay buffer %s: %w", b.data.Name, err)
	}
	od, ad := e.ObsDim, e.ActDim
	for i := 0; i < e.Len(); i++ {
		if err := b.Add(Transition{
			Observation: e.Observations[i*od : (i+1)*od], Action: e.Actions[i*ad : (i+1)*ad],
			Reward: e.Rewards[i], NextObservation: e.NextObservations[i*od : (i+1)*od],
			Mask: e.Masks[i], Terminal: e.Terminals[i],
		}); err != nil {
			return err
		}
	}
	return nil
}

// Dataset returns a copy of the held transitions, oldest first.
func (b *ReplayBuffer) Dataset() *Dataset {
	d := &b.data
	out := &Dataset{Name: d.Name, ObsDim: d.ObsDim, ActDim: d.ActDim}
	od, ad := d.ObsDim, d.ActDim
	// At most two contiguous pieces: [start, capacity) and [0, rest).
	pieces := [][2]int{{b.start, min(b.start+b.size, b.capacity)}}
	if rest := b.start + b.size - b.capacity; rest > 0 {
		pieces = append(pieces, [2]int{0, rest})
	}
	for _, pc := range pieces {
		s, e := pc[0], pc[1]
		out.Observations = append(out.Observations, d.Observations[s*od:e*od]...)
		out.Actions = append(out.Actions, d.Actions[s*ad:e*ad]...)
		out.NextObservations = append(out.NextObservations, d.NextObservations[s*od:e*od]...)
		out.Rewards = append(out.Rewards, d.Rewards[s:e]...)
		out.Masks = append(out.Masks, d.Masks[s:e]...)
		out.Terminals = append(out.Terminals, d.Terminals[s:e]...)
	}
	return out
}
