package datasets

// Source is what a Sampler draws from: a *Dataset or a *ReplayBuffer.
type Source interface {
	// rows returns the logical view of the stored transitions.
	rows() view
}

// view addresses logical row l in [0, size) stored at physical row (start+l) % capacity of d's
// arrays. A Dataset is the view with start 0 and capacity Len; a ReplayBuffer wraps around.
type view struct {
	d                     *Dataset
	start, size, capacity int
}

func (d *Dataset) rows() view { return view{d: d, start: 0, size: d.Len(), capacity: d.Len()} }

func (v view) phys(l int) int {
	p := v.start + l
	if p >= v.capacity {
		p -= v.capacity
	}
	return p
}

// Window is the h-step chunk that starts at row k (method.md §3):
//
//	Observation      s_k
//	Actions          a_k … a_{k+h−1}, flattened ([h·ActDim])
//	Reward           R_k = Σ_{i<h} γ^i r_{k+i}, summed over the valid steps only
//	Mask             min of the bootstrap masks of the valid steps: 0 when the task ended inside the chunk
//	Valid            [h]: 1 for steps inside the episode, 0 for steps after its end
//	NextObservation  s_{k+h}: the next observation of the last valid step
//
// so that the critic's target is y = R_k + γ^h·Mask·Q_target(NextObservation, a*). A window never
// reads across a trajectory boundary: steps after the end of the episode (or after the newest row
// of a replay buffer) repeat the last valid action and carry Valid = 0. When Valid[h−1] is 0 the
// chunk is shorter than h and γ^h over-discounts its bootstrap; QC's protocol therefore weights the
// critic loss by Valid[h−1] and the per-step policy loss by Valid.
type Window struct {
	Observation     []float32
	Actions         []float32
	Reward          float32
	Mask            float32
	Valid           []float32
	NextObservation []float32
}

// Window returns the h-step window starting at row k with discount gamma.
func (d *Dataset) Window(k, h int, gamma float64) Window {
	w := Window{
		Observation:     make([]float32, d.ObsDim),
		Actions:         make([]float32, h*d.ActDim),
		Valid:           make([]float32, h),
		NextObservation: make([]float32, d.ObsDim),
	}
	w.Reward, w.Mask = fillWindow(d.rows(), k, powers(gamma, h), w.Observation, w.Actions, w.Valid, w.NextObservation)
	return w
}

// powers returns γ^0 … γ^{h−1}.
func powers(gamma float64, h int) []float64 {
	p := make([]float64, h)
	g := 1.0
	for i := range p {
		p[i] = g
		g *= gamma
	}
	return p
}

// fillWindow writes the window starting at logical row l into the destination slices (obs [ObsDim],
// act [h·ActDim], valid [h], next [ObsDim]) and returns the chunk reward and the bootstrap mask.
func fillWindow(v view, l int, disc []float64, obs, act, valid, next []float32) (reward, mask float32) {
	d := v.d
	od, ad := d.ObsDim, d.ActDim
	p := v.phys(l)
	copy(obs, d.Observations[p*od:(p+1)*od])
	r, m := 0.0, float32(1)
	last, ended := p, false
	for i := range disc {
		if !ended && l+i < v.size {
			p = v.phys(l + i)
			copy(act[i*ad:(i+1)*ad], d.Actions[p*ad:(p+1)*ad])
			valid[i] = 1
			r += disc[i] * float64(d.Rewards[p])
			m = min(m, d.Masks[p])
			last = p
			ended = d.Terminals[p] != 0
			continue
		}
		ended = true
		copy(act[i*ad:(i+1)*ad], d.Actions[last*ad:(last+1)*ad])
		valid[i] = 0
	}
	copy(next, d.NextObservations[last*od:(last+1)*od])
	return float32(r), m
}
