package datasets

import (
	"fmt"
	"math/rand/v2"
)

// Batch is a batch of h-step windows (see Window) in flat row-major float32 arrays, ready to be
// copied into tensors of the shapes given in the comments (B = Size, h = Horizon).
type Batch struct {
	Size, ObsDim, ActDim, Horizon int

	Observations     []float32 // [B, ObsDim]: s_k
	Actions          []float32 // [B, h·ActDim]: the action chunk a_k … a_{k+h−1}
	Rewards          []float32 // [B]: chunk reward R_k = Σ_{i<h} γ^i r_{k+i}
	Masks            []float32 // [B]: bootstrap mask of s_{k+h}
	Valid            []float32 // [B, h]: 0 for steps after the end of the episode
	NextObservations []float32 // [B, ObsDim]: s_{k+h}
	// Indices are the logical start rows k, for debugging and tests.
	Indices []int
}

// NewBatch allocates a batch of the given shape.
func NewBatch(size, obsDim, actDim, horizon int) *Batch {
	return &Batch{
		Size: size, ObsDim: obsDim, ActDim: actDim, Horizon: horizon,
		Observations:     make([]float32, size*obsDim),
		Actions:          make([]float32, size*horizon*actDim),
		Rewards:          make([]float32, size),
		Masks:            make([]float32, size),
		Valid:            make([]float32, size*horizon),
		NextObservations: make([]float32, size*obsDim),
		Indices:          make([]int, size),
	}
}

// Sampler draws batches of h-step windows, with start rows uniform over the source's transitions,
// from a seeded generator: the same seed and the same source give the same batches. A Sampler is
// not safe for concurrent use, and its source must not be modified while it samples.
//
// Configure it with the builder methods before the first Sample:
//
//	s := datasets.NewSampler(buffer).BatchSize(256).Horizon(5).Discount(0.99).Seed(1)
type Sampler struct {
	src       Source
	batchSize int
	horizon   int
	discount  float64
	seed      uint64

	pcg  *rand.PCG // rng's source, kept to save and restore its state
	rng  *rand.Rand
	disc []float64
}

// Defaults of a new Sampler (QC's protocol, method.md §3).
const (
	DefaultBatchSize = 256
	DefaultHorizon   = 5
	DefaultDiscount  = 0.99
)

// NewSampler returns a sampler over src with batch size 256, horizon h = 5, discount γ = 0.99 and seed 0.
func NewSampler(src Source) *Sampler {
	return &Sampler{src: src, batchSize: DefaultBatchSize, horizon: DefaultHorizon, discount: DefaultDiscount}
}

// BatchSize sets B (default 256).
func (s *Sampler) BatchSize(b int) *Sampler { s.batchSize = b; s.rng = nil; return s }

// Horizon sets the chunk length h (default 5; 1 gives ordinary one-step transitions).
func (s *Sampler) Horizon(h int) *Sampler { s.horizon = h; s.rng = nil; return s }

// Discount sets γ (default 0.99).
func (s *Sampler) Discount(gamma float64) *Sampler { s.discount = gamma; s.rng = nil; return s }

// Seed sets the seed of the generator (default 0) and restarts its sequence.
func (s *Sampler) Seed(seed uint64) *Sampler { s.seed = seed; s.rng = nil; return s }

// Config returns the batch size, horizon and discount in use.
func (s *Sampler) Config() (batchSize, horizon int, discount float64) {
	return s.batchSize, s.horizon, s.discount
}

func (s *Sampler) init() error {
	if s.batchSize <= 0 {
		return fmt.Errorf("datasets: sampler batch size %d, want > 0", s.batchSize)
	}
	if s.horizon <= 0 {
		return fmt.Errorf("datasets: sampler horizon %d, want > 0", s.horizon)
	}
	if !(s.discount >= 0 && s.discount <= 1) {
		return fmt.Errorf("datasets: sampler discount %v, want in [0, 1]", s.discount)
	}
	if s.rng == nil {
		s.pcg = rand.NewPCG(s.seed, 0x6d7670) // second word: a fixed stream id
		s.rng = rand.New(s.pcg)
		s.disc = powers(s.discount, s.horizon)
	}
	return nil
}

// MarshalBinary returns the state of the sampler's random stream, so that a run stopped between
// two batches can continue the same sequence (see UnmarshalBinary).
func (s *Sampler) MarshalBinary() ([]byte, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	return s.pcg.MarshalBinary()
}

// UnmarshalBinary restores a state from MarshalBinary. Call it after the builder methods, which
// restart the sequence.
func (s *Sampler) UnmarshalBinary(b []byte) error {
	if err := s.init(); err != nil {
		return err
	}
	if err := s.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("datasets: sampler state: %w", err)
	}
	return nil
}

// Sample returns a new batch.
func (s *Sampler) Sample() (*Batch, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	v := s.src.rows()
	b := NewBatch(s.batchSize, v.d.ObsDim, v.d.ActDim, s.horizon)
	return b, s.SampleInto(b)
}

// SampleInto fills b, which must have the sampler's batch size and horizon and the source's
// dimensions (allocate it once with NewBatch and reuse it).
func (s *Sampler) SampleInto(b *Batch) error {
	if err := s.init(); err != nil {
		return err
	}
	v := s.src.rows()
	if v.size == 0 {
		return fmt.Errorf("datasets: sampling from %s: no transitions", v.d.Name)
	}
	if b.Size != s.batchSize || b.Horizon != s.horizon || b.ObsDim != v.d.ObsDim || b.ActDim != v.d.ActDim {
		return fmt.Errorf("datasets: batch shape (B %d, h %d, obs %d, act %d) does not match the sampler (B %d, h %d) and source %s (obs %d, act %d)",
			b.Size, b.Horizon, b.ObsDim, b.ActDim, s.batchSize, s.horizon, v.d.Name, v.d.ObsDim, v.d.ActDim)
	}
	od, ad, h := b.ObsDim, b.ActDim, b.Horizon
	for j := 0; j < b.Size; j++ {
		l := s.rng.IntN(v.size)
		b.Indices[j] = l
		b.Rewards[j], b.Masks[j] = fillWindow(v, l, s.disc,
			b.Observations[j*od:(j+1)*od], b.Actions[j*h*ad:(j+1)*h*ad],
			b.Valid[j*h:(j+1)*h], b.NextObservations[j*od:(j+1)*od])
	}
	return nil
}

// String summarises the batch's shapes.
func (b *Batch) String() string {
	return fmt.Sprintf("batch of %d windows: obs [%d %d], actions [%d %d], rewards [%d], masks [%d], valid [%d %d], next obs [%d %d]",
		b.Size, b.Size, b.ObsDim, b.Size, b.Horizon*b.ActDim, b.Size, b.Size, b.Size, b.Horizon, b.Size, b.ObsDim)
}
