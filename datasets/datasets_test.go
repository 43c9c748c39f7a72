package datasets

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// synthetic returns a dataset of the given trajectory lengths with distinct values in every field,
// masks 0 on some rows, and rewards from a seeded generator.
func synthetic(lengths []int, obsDim, actDim int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{Name: "synthetic", ObsDim: obsDim, ActDim: actDim}
	row := 0
	for _, n := range lengths {
		for t := 0; t < n; t++ {
			for j := 0; j < obsDim; j++ {
				d.Observations = append(d.Observations, float32(row)+float32(j)/100)
				d.NextObservations = append(d.NextObservations, float32(row+1)+float32(j)/100)
			}
			for j := 0; j < actDim; j++ {
				d.Actions = append(d.Actions, -float32(row)-float32(j)/100)
			}
			d.Rewards = append(d.Rewards, float32(rng.IntN(5))-2)
			mask := float32(1)
			if rng.IntN(7) == 0 {
				mask = 0
			}
			d.Masks = append(d.Masks, mask)
			term := float32(0)
			if t == n-1 {
				term = 1
			}
			d.Terminals = append(d.Terminals, term)
			row++
		}
	}
	return d
}

// refWindow is an independent float64 implementation over explicit trajectories.
func refWindow(d *Dataset, k, h int, gamma float64) (reward float64, mask float32, valid []float32, nextRow int, actRows []int) {
	var ep Episode
	for _, e := range d.Episodes() {
		if k >= e.Start && k < e.End {
			ep = e
		}
	}
	mask = 1
	last := k
	for i := 0; i < h; i++ {
		if k+i < ep.End {
			reward += math.Pow(gamma, float64(i)) * float64(d.Rewards[k+i])
			if d.Masks[k+i] < mask {
				mask = d.Masks[k+i]
			}
			valid = append(valid, 1)
			last = k + i
		} else {
			valid = append(valid, 0)
		}
		actRows = append(actRows, last)
	}
	return reward, mask, valid, last, actRows
}

func TestWindowMatchesReference(t *testing.T) {
	d := synthetic([]int{7, 1, 3, 12}, 3, 2, 1)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	const gamma = 0.9
	for _, h := range []int{1, 2, 5} {
		for k := 0; k < d.Len(); k++ {
			w := d.Window(k, h, gamma)
			r, m, valid, next, actRows := refWindow(d, k, h, gamma)
			if math.Abs(float64(w.Reward)-r) > 1e-5 {
				t.Errorf("h=%d k=%d: reward %v, want %v", h, k, w.Reward, r)
			}
			if w.Mask != m {
				t.Errorf("h=%d k=%d: mask %v, want %v", h, k, w.Mask, m)
			}
			if !reflect.DeepEqual(w.Valid, valid) {
				t.Errorf("h=%d k=%d: valid %v, want %v", h, k, w.Valid, valid)
			}
			if !reflect.DeepEqual(w.NextObservation, d.NextObservations[next*3:next*3+3]) {
				t.Errorf("h=%d k=%d: next obs %v, want row %d", h, k, w.NextObservation, next)
			}
			if !reflect.DeepEqual(w.Observation, d.Observations[k*3:k*3+3]) {
				t.Errorf("h=%d k=%d: obs %v", h, k, w.Observation)
			}
			for i, ar := range actRows {
				if !reflect.DeepEqual(w.Actions[i*2:i*2+2], d.Actions[ar*2:ar*2+2]) {
					t.Errorf("h=%d k=%d step %d: action %v, want row %d", h, k, i, w.Actions[i*2:i*2+2], ar)
				}
			}
		}
	}
}

func TestWindowHandComputed(t *testing.T) {
	// One trajectory of 3 rows: rewards 1, 2, 4, masks 1, 1, 0.
	d := &Dataset{Name: "hand", ObsDim: 1, ActDim: 1,
		Observations: []float32{0, 1, 2}, NextObservations: []float32{1, 2, 3}, Actions: []float32{10, 11, 12},
		Rewards: []float32{1, 2, 4}, Masks: []float32{1, 1, 0}, Terminals: []float32{0, 0, 1}}
	w := d.Window(0, 2, 0.5)
	if w.Reward != 1+0.5*2 || w.Mask != 1 || w.NextObservation[0] != 2 || !reflect.DeepEqual(w.Valid, []float32{1, 1}) {
		t.Errorf("window(0,2) = %+v", w)
	}
	w = d.Window(1, 3, 0.5)
	if w.Reward != 2+0.5*4 || w.Mask != 0 || w.NextObservation[0] != 3 ||
		!reflect.DeepEqual(w.Valid, []float32{1, 1, 0}) || !reflect.DeepEqual(w.Actions, []float32{11, 12, 12}) {
		t.Errorf("window(1,3) = %+v", w)
	}
}

func TestSamplerDeterministicAndConsistent(t *testing.T) {
	d := synthetic([]int{10, 4, 9}, 4, 3, 2)
	s1 := NewSampler(d).BatchSize(64).Horizon(4).Discount(0.95).Seed(7)
	s2 := NewSampler(d).BatchSize(64).Horizon(4).Discount(0.95).Seed(7)
	b1, err := s1.Sample()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := s2.Sample()
	if !reflect.DeepEqual(b1, b2) {
		t.Fatal("same seed gave different batches")
	}
	b3, _ := NewSampler(d).BatchSize(64).Horizon(4).Discount(0.95).Seed(8).Sample()
	if reflect.DeepEqual(b1.Indices, b3.Indices) {
		t.Fatal("different seeds gave the same indices")
	}
	for j, k := range b1.Indices {
		w := d.Window(k, 4, 0.95)
		if b1.Rewards[j] != w.Reward || b1.Masks[j] != w.Mask ||
			!reflect.DeepEqual(b1.Valid[j*4:j*4+4], w.Valid) ||
			!reflect.DeepEqual(b1.Actions[j*12:j*12+12], w.Actions) ||
			!reflect.DeepEqual(b1.Observations[j*4:j*4+4], w.Observation) ||
			!reflect.DeepEqual(b1.NextObservations[j*4:j*4+4], w.NextObservation) {
			t.Fatalf("batch row %d (k=%d) differs from Window", j, k)
		}
	}
	// Every start row is reachable.
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		b, _ := s1.Sample()
		for _, k := range b.Indices {
			seen[k] = true
		}
	}
	if len(seen) != d.Len() {
		t.Errorf("sampled %d distinct start rows of %d", len(seen), d.Len())
	}
	bad := NewBatch(3, 4, 3, 4)
	if err := s1.SampleInto(bad); err == nil {
		t.Error("SampleInto accepted a batch of the wrong size")
	}
	if _, err := NewSampler(d).Horizon(0).Sample(); err == nil {
		t.Error("horizon 0 accepted")
	}
}

func TestReplayBufferGrowsAndWraps(t *testing.T) {
	all := synthetic([]int{5, 6, 4, 7}, 2, 2, 3)
	eps := all.Episodes()
	initial := all.SelectEpisodes("offline", eps[:2]) // 11 rows
	b, err := NewReplayBuffer(initial, 15)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 11 {
		t.Fatalf("Len %d, want 11", b.Len())
	}
	if err := b.AddDataset(all.SelectEpisodes("e3", eps[2:3])); err != nil { // 15 rows: full
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Dataset().Rewards, all.Rewards[:15]) {
		t.Fatal("buffer contents differ from the appended rows")
	}
	// Adding the 7-row episode drops the 7 oldest rows.
	if err := b.AddDataset(all.SelectEpisodes("e4", eps[3:4])); err != nil {
		t.Fatal(err)
	}
	got := b.Dataset()
	want := all.SelectEpisodes("x", []Episode{{7, 22}})
	want.Name, got.Name = "", ""
	want.Terminals = append([]float32(nil), all.Terminals[7:22]...)
	if b.Len() != 15 || !reflect.DeepEqual(got, want) {
		t.Fatalf("after wrap: got %+v\nwant %+v", got, want)
	}
	// Windows of the wrapped buffer equal windows of the same rows stored linearly.
	s := NewSampler(b).BatchSize(200).Horizon(3).Discount(0.9).Seed(1)
	batch, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	for j, k := range batch.Indices {
		w := got.Window(k, 3, 0.9)
		if batch.Rewards[j] != w.Reward || !reflect.DeepEqual(batch.Valid[j*3:j*3+3], w.Valid) ||
			!reflect.DeepEqual(batch.NextObservations[j*2:j*2+2], w.NextObservation) {
			t.Fatalf("wrapped window at %d differs from the linear one", k)
		}
	}
	// A running episode (no terminal yet) ends its windows at the newest row.
	if err := b.Add(Transition{Observation: []float32{1, 2}, Action: []float32{3, 4}, NextObservation: []float32{5, 6}, Reward: 1, Mask: 1}); err != nil {
		t.Fatal(err)
	}
	w := b.Dataset().Window(b.Len()-1, 3, 0.9)
	if !reflect.DeepEqual(w.Valid, []float32{1, 0, 0}) || w.NextObservation[0] != 5 {
		t.Errorf("window at the newest row: %+v", w)
	}
	nan := float32(math.NaN())
	if err := b.Add(Transition{Observation: []float32{nan, 2}, Action: []float32{3, 4}, NextObservation: []float32{5, 6}}); err == nil {
		t.Error("NaN observation accepted")
	}
	if err := b.Add(Transition{Observation: []float32{1}, Action: []float32{3, 4}, NextObservation: []float32{5, 6}}); err == nil {
		t.Error("short observation accepted")
	}
	if _, err := NewReplayBuffer(all, 3); err == nil {
		t.Error("capacity below the dataset size accepted")
	}
}

// QC's capacity rule, max(2M, |D| + 1): a small dataset gets 2M rows of room; a dataset of more
// than 2M keeps one free row, so the first online transition fills the buffer and each later one
// evicts the oldest offline row.
func TestReplayCapacityRule(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 2_000_000}, {31_000, 2_000_000}, {1_999_999, 2_000_000}, {2_000_000, 2_000_001}, {5_000_000, 5_000_001}} {
		if got := ReplayCapacity(c.n); got != c.want {
			t.Errorf("ReplayCapacity(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// The same rule at a scale a test can hold: capacity |D| + 1.
	all := synthetic([]int{5, 6}, 2, 2, 3)
	offline := all.SelectEpisodes("offline", all.Episodes()[:1]) // 5 rows
	b, err := NewReplayBuffer(offline, offline.Len()+1)
	if err != nil {
		t.Fatal(err)
	}
	online := all.SelectEpisodes("online", all.Episodes()[1:]) // 6 rows
	od := online.ObsDim
	for i := 0; i < online.Len(); i++ {
		if err := b.Add(Transition{Observation: online.Observations[i*od : (i+1)*od], Action: online.Actions[i*2 : i*2+2],
			NextObservation: online.NextObservations[i*od : (i+1)*od], Reward: online.Rewards[i], Mask: online.Masks[i],
			Terminal: online.Terminals[i]}); err != nil {
			t.Fatal(err)
		}
		// After i+1 online rows the buffer holds the newest 6 rows: offline rows i … 4, then online
		// rows 0 … i (the observations number the rows).
		want := append(append([]float32{}, offline.Observations[i*od:]...), online.Observations[:(i+1)*od]...)
		if got := b.Dataset().Observations; b.Len() != 6 || !reflect.DeepEqual(got, want) {
			t.Fatalf("after %d online rows: observations %v, want %v", i+1, got, want)
		}
	}
}

func TestNormalizer(t *testing.T) {
	x := []float32{1, 10, 5, 3, 10, 5, 5, 10, 7}
	for _, kind := range []NormKind{NormStandard, NormMinMax, NormNone} {
		n, err := FitNormalizer(kind, x, 3, DefaultMinScale)
		if err != nil {
			t.Fatal(err)
		}
		y := append([]float32(nil), x...)
		n.Apply(y)
		switch kind {
		case NormStandard:
			// column 0: mean 3, std sqrt(8/3); column 1 constant: scale clamped.
			if math.Abs(float64(y[0])+2/math.Sqrt(8.0/3)) > 1e-6 || y[1] != 0 || n.Scale[1] != DefaultMinScale {
				t.Errorf("standard: %v (scale %v)", y, n.Scale)
			}
		case NormMinMax:
			if y[0] != -1 || y[6] != 1 || y[2] != -1 || y[8] != 1 {
				t.Errorf("minmax: %v", y)
			}
		case NormNone:
			if !reflect.DeepEqual(x, y) {
				t.Errorf("none changed values: %v", y)
			}
		}
		n.Invert(y)
		for i := range x {
			if math.Abs(float64(x[i]-y[i])) > 1e-5 {
				t.Errorf("%s: invert(apply(x)) = %v, want %v", kind, y, x)
				break
			}
		}
	}
	d := synthetic([]int{6, 6}, 3, 2, 4)
	nm, err := FitNormalization(d, NormStandard, NormMinMax)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(nm)
	if err != nil {
		t.Fatal(err)
	}
	var back Normalization
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*nm, back) {
		t.Fatalf("JSON round trip: %s", js)
	}
	if err := json.Unmarshal([]byte(`{"obs":{"kind":"standard","shift":[0],"scale":[0]}}`), &back); err == nil {
		t.Error("zero scale accepted")
	}
	c := d.Clone()
	if err := nm.ApplyTo(c); err != nil {
		t.Fatal(err)
	}
	if c.Observations[0] == d.Observations[0] {
		t.Error("ApplyTo left observations unchanged")
	}
	if _, err := FitNormalizer("zscore", x, 3, 0); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestSplitByTrajectory(t *testing.T) {
	d := synthetic([]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 1, 5)
	tr, va, err := SplitByTrajectory(d, 0.2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(va.Episodes()) != 2 || len(tr.Episodes()) != 8 || tr.Len()+va.Len() != d.Len() {
		t.Fatalf("split: %d train trajectories (%d rows), %d val (%d rows)", len(tr.Episodes()), tr.Len(), len(va.Episodes()), va.Len())
	}
	// Each validation trajectory is one of the original ones, intact.
	for _, e := range va.Episodes() {
		first := va.Observations[e.Start*2]
		found := false
		for _, o := range d.Episodes() {
			if d.Observations[o.Start*2] == first && o.Len() == e.Len() {
				found = true
			}
		}
		if !found {
			t.Errorf("validation trajectory at %v is not an original trajectory", e)
		}
	}
	tr2, _, _ := SplitByTrajectory(d, 0.2, 3)
	if !reflect.DeepEqual(tr, tr2) {
		t.Error("same seed, different split")
	}
	if _, _, err := SplitByTrajectory(d, 1, 0); err == nil {
		t.Error("fraction 1 accepted")
	}
}

func TestString(t *testing.T) {
	d := synthetic([]int{3, 4}, 2, 1, 1)
	if got, want := d.String(), "dataset synthetic: 7 transitions in 2 trajectories, obs dim 2, action dim 1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := NewBatch(4, 2, 1, 3).String(); got != "batch of 4 windows: obs [4 2], actions [4 3], rewards [4], masks [4], valid [4 3], next obs [4 2]" {
		t.Errorf("got %q", got)
	}
}
