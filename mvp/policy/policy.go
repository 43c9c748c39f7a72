// Package policy builds the action graph of an agent: observation and noise in, chosen action
// chunk out, by generate-and-select (method.md §3). Training (package mvp) and the deployed policy
// (package mvp/deploy) both build their action graph with Act and their generators' samplers with
// Sample, each passing its own networks, so a trained agent and its export act identically by
// construction. The package imports gomlx only.
package policy

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"         //nolint:staticcheck // graph code reads like the math
	. "github.com/gomlx/gomlx/support/exceptions" //nolint:staticcheck
)

// Generator types: how a generator maps noise to an action chunk.
const (
	// MeanFlow is MVP's mean-velocity generator: k steps a ← a + (r−t)·u(a, t, r, s) over a uniform
	// split of [0, 1] (k = 1 is one-step generation a = ε + u(ε, 0, 1, s)).
	MeanFlow = "mean_flow"
	// Flow is the flow baselines' instantaneous velocity: k Euler steps a ← a + v(a, t, s)/k.
	Flow = "flow"
	// Regression is deterministic behaviour cloning, a = net(s): the noise is ignored.
	Regression = "regression"
)

// Time inputs of a mean-flow network and time feature encodings.
const (
	TimeInputTR     = "t,r"     // the network sees (t, r)
	TimeInputTDelta = "t,r-t"   // the network sees (t, r − t)
	FeaturesRaw     = "raw"     // each time is one scalar column
	FeaturesFourier = "fourier" // [sin(2π·2^k·τ), cos(2π·2^k·τ)], k < FourierFrequencies
)

// Sampler is how a generator turns noise into an action chunk: everything of the generator but
// its weights. The zero values of TimeInput and TimeFeatures mean "t,r" and "raw".
type Sampler struct {
	Type string `json:"type"`
	// Steps k of generation (MeanFlow, Flow).
	Steps int `json:"steps"`
	// TimeInput is TimeInputTR or TimeInputTDelta (MeanFlow only).
	TimeInput string `json:"time_input,omitempty"`
	// TimeFeatures is FeaturesRaw or FeaturesFourier with FourierFrequencies octaves.
	TimeFeatures       string `json:"time_features,omitempty"`
	FourierFrequencies int    `json:"fourier_frequencies,omitempty"`
}

// Validate reports the first field that cannot describe a sampler, named as in JSON ("steps=0 …").
func (sp Sampler) Validate() error {
	switch sp.Type {
	case MeanFlow, Flow:
		if sp.Steps <= 0 {
			return fmt.Errorf("steps=%d must be positive", sp.Steps)
		}
	case Regression:
	default:
		return fmt.Errorf("type %q is not one of %q, %q, %q", sp.Type, MeanFlow, Flow, Regression)
	}
	switch sp.TimeInput {
	case "", TimeInputTR:
	case TimeInputTDelta:
		if sp.Type != MeanFlow {
			return fmt.Errorf("time_input %q needs a %s generator", sp.TimeInput, MeanFlow)
		}
	default:
		return fmt.Errorf("time_input %q is not %q or %q", sp.TimeInput, TimeInputTR, TimeInputTDelta)
	}
	switch sp.TimeFeatures {
	case "", FeaturesRaw:
	case FeaturesFourier:
		if sp.FourierFrequencies <= 0 {
			return fmt.Errorf("fourier_frequencies=%d must be positive", sp.FourierFrequencies)
		}
	default:
		return fmt.Errorf("time_features %q are not %q or %q", sp.TimeFeatures, FeaturesRaw, FeaturesFourier)
	}
	return nil
}

// TimeFeatureDim is the number of time columns the generator's network sees.
func (sp Sampler) TimeFeatureDim() int {
	per := 1
	if sp.TimeFeatures == FeaturesFourier {
		per = 2 * sp.FourierFrequencies
	}
	switch sp.Type {
	case MeanFlow:
		return 2 * per
	case Flow:
		return per
	}
	return 0
}

// NetTimes maps (t, r) to the mean-flow network's two time inputs and their tangents along d/dt
// (r fixed): (t, r) → tangents (1, 0); (t, r − t) → (1, −1).
func (sp Sampler) NetTimes(t, r *Node) (tau1, tau2 *Node, dTau1, dTau2 float64) {
	if sp.TimeInput == TimeInputTDelta {
		return t, Sub(r, t), 1, -1
	}
	return t, r, 1, 0
}

// Features encodes one time τ [M, 1] as configured.
func (sp Sampler) Features(tau *Node) *Node {
	if sp.TimeFeatures != FeaturesFourier {
		return tau
	}
	freqs := make([]float64, sp.FourierFrequencies)
	for k := range freqs {
		freqs[k] = 2 * math.Pi * math.Exp2(float64(k))
	}
	phase := Mul(tau, ConstAsDType(tau.Graph(), tau.DType(), [][]float64{freqs})) // [M, F]
	return Concatenate([]*Node{Sin(phase), Cos(phase)}, -1)
}

// Input is the network input [a, features(τ_1), …, s]; s may be nil (unconditional models).
func (sp Sampler) Input(a *Node, taus []*Node, s *Node) *Node {
	parts := []*Node{a}
	for _, tau := range taus {
		if tau.Rank() == 1 {
			tau = InsertAxes(tau, -1)
		}
		if tau.Rank() != 2 || tau.Shape().Dimensions[1] != 1 {
			Panicf("policy: time input must be [M] or [M, 1], got %s", tau.Shape())
		}
		parts = append(parts, sp.Features(tau))
	}
	if s != nil {
		parts = append(parts, s)
	}
	return Concatenate(parts, -1)
}

// Net applies a generator's network to its input rows x [M, in] and returns [M, chunk].
type Net func(x *Node) *Node

// Sample maps noise eps [M, chunk] to (unclipped) action chunks given states s [M, obs] with the
// generator's network net: k mean-flow steps, k Euler steps, or a regression of s.
func Sample(sp Sampler, net Net, s, eps *Node) *Node {
	if err := sp.Validate(); err != nil {
		Panicf("policy: generator.%v", err)
	}
	m := eps.Shape().Dim(0)
	col := func(v float64) *Node {
		return BroadcastToShape(ConstAsDType(eps.Graph(), eps.DType(), v), shapes.Make(eps.DType(), m, 1))
	}
	a := eps
	switch sp.Type {
	case Regression:
		return net(s)
	case Flow:
		dt := 1 / float64(sp.Steps)
		for i := range sp.Steps {
			v := net(sp.Input(a, []*Node{col(float64(i) * dt)}, s))
			a = Add(a, MulScalar(v, dt))
		}
		return a
	}
	for i := range sp.Steps {
		t := float64(i) / float64(sp.Steps)
		r := float64(i+1) / float64(sp.Steps)
		tau1, tau2, _, _ := sp.NetTimes(col(t), col(r))
		a = Add(a, MulScalar(net(sp.Input(a, []*Node{tau1, tau2}, s)), r-t))
	}
	return a
}

// Score is a critic's score of candidate chunks a [M, chunk] at states s [M, obs], shaped [M].
type Score func(s, a *Node) *Node

// Act is generate-and-select: for states s [B, obs] and noise eps [B·N, chunk] (row b·N+i is
// candidate i of state b), it samples N candidates per state in one batched call of sample,
// clips them to [low, high], scores them with score and returns the best per state [B, chunk].
// With no score (no critic) or N = 1 it returns the first candidate.
func Act(sample func(s, eps *Node) *Node, score Score, s, eps *Node, low, high float64) *Node {
	b, obsDim := s.Shape().Dim(0), s.Shape().Dim(1)
	if eps.Rank() != 2 || eps.Shape().Dim(0)%b != 0 {
		Panicf("policy: noise must be [%d·N, chunk], got %s", b, eps.Shape())
	}
	n := eps.Shape().Dim(0) / b
	sRep := Reshape(BroadcastToDims(InsertAxes(s, 1), b, n, obsDim), b*n, obsDim)
	cand := ClipScalar(sample(sRep, eps), low, high)
	if score == nil || n == 1 {
		return Reshape(Slice(Reshape(cand, b, n, -1), AxisRange(), AxisElem(0), AxisRange()), b, -1)
	}
	q := Reshape(score(sRep, cand), b, n)
	return SelectArgmax(q, Reshape(cand, b, n, -1))
}

// SelectArgmax returns, for scores q [B, N] and candidates [B, N, D], the candidate of highest
// score per row [B, D] (the first one on ties).
func SelectArgmax(q, cand *Node) *Node {
	n := q.Shape().Dim(1)
	oneHot := OneHot(ArgMax(q, 1, dtypes.Int32), n, cand.DType()) // [B, N]
	return ReduceSum(Mul(cand, InsertAxes(oneHot, -1)), 1)
}
