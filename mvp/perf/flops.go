// Package perf measures the speed of the agents' compiled graphs (the update `mvp train` runs and
// the action decision) and counts their floating-point work, so that `mvp bench` can report steps/s,
// latency and achieved FLOP/s against what the machine can do.
package perf

// Sizes are the dimensions that fix the cost of an update and of an action decision.
// PaperSizes returns the values of method.md §3.
type Sizes struct {
	ObsDim       int   `json:"obs_dim"`
	ActDim       int   `json:"act_dim"`
	Horizon      int   `json:"horizon"` // chunk = Horizon·ActDim
	Batch        int   `json:"batch"`
	Candidates   int   `json:"candidates"` // N of best-of-N
	ActorHidden  []int `json:"actor_hidden"`
	CriticHidden []int `json:"critic_hidden"`
	Ensemble     int   `json:"ensemble"`   // number of Q networks
	FlowSteps    int   `json:"flow_steps"` // K Euler steps of the flow baseline (QC), fixed by mvp.NewGeneratorForKind
}

// PaperSizes: obs 46, action 5, h = 5, B = 256, N = 32, 4×512 actor and critic, 2 critics, K = 10.
func PaperSizes() Sizes {
	return Sizes{
		ObsDim: 46, ActDim: 5, Horizon: 5, Batch: 256, Candidates: 32,
		ActorHidden:  []int{512, 512, 512, 512},
		CriticHidden: []int{512, 512, 512, 512},
		Ensemble:     2, FlowSteps: 10,
	}
}

// Chunk is the generator's output size h·d.
func (s Sizes) Chunk() int { return s.Horizon * s.ActDim }

// mlpDims returns the (in, out) pairs of an MLP's dense layers.
func mlpDims(in int, hidden []int, out int) [][2]int {
	dims := append(append([]int{in}, hidden...), out)
	pairs := make([][2]int, len(dims)-1)
	for i := range pairs {
		pairs[i] = [2]int{dims[i], dims[i+1]}
	}
	return pairs
}

// MLPForwardFLOPs counts the matmul FLOPs of one forward pass of an MLP on batch rows:
// Σ_layers 2·batch·in·out (a multiply and an add per weight and row).
func MLPForwardFLOPs(batch, in int, hidden []int, out int) float64 {
	var f float64
	for _, p := range mlpDims(in, hidden, out) {
		f += 2 * float64(batch) * float64(p[0]) * float64(p[1])
	}
	return f
}

// MLPBackwardFLOPs counts the matmul FLOPs of the reverse pass that gives the weight gradients:
// each layer's weight gradient (2·batch·in·out) plus the gradient of its input, except the first
// layer's input, which is data.
func MLPBackwardFLOPs(batch, in int, hidden []int, out int) float64 {
	pairs := mlpDims(in, hidden, out)
	f := 2 * MLPForwardFLOPs(batch, in, hidden, out)
	return f - 2*float64(batch)*float64(pairs[0][0])*float64(pairs[0][1])
}

// The inputs of the networks: u_θ(a, t, r, s), v_θ(a, t, s), Q(s, a).
func (s Sizes) actorIn() int  { return s.Chunk() + 2 + s.ObsDim }
func (s Sizes) flowIn() int   { return s.Chunk() + 1 + s.ObsDim }
func (s Sizes) criticIn() int { return s.ObsDim + s.Chunk() }

func (s Sizes) actorFwd(b int) float64 {
	return MLPForwardFLOPs(b, s.actorIn(), s.ActorHidden, s.Chunk())
}
func (s Sizes) actorBwd(b int) float64 {
	return MLPBackwardFLOPs(b, s.actorIn(), s.ActorHidden, s.Chunk())
}
func (s Sizes) flowFwd(b int) float64 {
	return MLPForwardFLOPs(b, s.flowIn(), s.ActorHidden, s.Chunk())
}
func (s Sizes) flowBwd(b int) float64 {
	return MLPBackwardFLOPs(b, s.flowIn(), s.ActorHidden, s.Chunk())
}
func (s Sizes) criticFwd(b int) float64 {
	return float64(s.Ensemble) * MLPForwardFLOPs(b, s.criticIn(), s.CriticHidden, 1)
}
func (s Sizes) criticBwd(b int) float64 {
	return float64(s.Ensemble) * MLPBackwardFLOPs(b, s.criticIn(), s.CriticHidden, 1)
}

// MVPActorFLOPs is the generator half of an MVP update (method.md §2):
//
//	u = u_θ(a(t), t, r, s) and du/dt by forward-mode JVP: 2 forwards (primal + tangent)
//	∇θ L_MF through u:                                   1 backward
//	L_IVC: u_θ(a(t), t, t, s) and its backward:          1 forward + 1 backward
func (s Sizes) MVPActorFLOPs() float64 {
	b := s.Batch
	return 3*s.actorFwd(b) + 2*s.actorBwd(b)
}

// MVPLambda0ActorFLOPs is the generator update with λ = 0: the same three forward passes (L_IVC is
// still computed, as a reported metric) but only the L_MF backward. Against FlowActorFLOPs it
// isolates what the JVP costs.
func (s Sizes) MVPLambda0ActorFLOPs() float64 {
	b := s.Batch
	return 3*s.actorFwd(b) + s.actorBwd(b)
}

// FlowActorFLOPs is a plain flow-matching update of v_θ: one forward and one backward.
func (s Sizes) FlowActorFLOPs() float64 {
	return s.flowFwd(s.Batch) + s.flowBwd(s.Batch)
}

// criticFLOPs is the critic half given the generator's cost of sampling B·N candidates:
// scoring B·N candidates with the online ensemble (selection), the target ensemble on a* (B rows),
// and the online ensemble's forward and backward on the batch.
func (s Sizes) criticFLOPs(sampling float64) float64 {
	b, bn := s.Batch, s.Batch*s.Candidates
	return sampling + s.criticFwd(bn) + s.criticFwd(b) + s.criticFwd(b) + s.criticBwd(b)
}

// MVPUpdateFLOPs is one full MVP update: MVPActorFLOPs plus the TD target from one-step
// best-of-N at s' (one u_θ call on B·N rows) and the critic step.
func (s Sizes) MVPUpdateFLOPs() float64 {
	return s.MVPActorFLOPs() + s.criticFLOPs(s.actorFwd(s.Batch*s.Candidates))
}

// QCUpdateFLOPs is one full QC update: FlowActorFLOPs plus the TD target from K-step best-of-N
// (K calls of v_θ on B·N rows) and the critic step.
func (s Sizes) QCUpdateFLOPs() float64 {
	return s.FlowActorFLOPs() + s.criticFLOPs(float64(s.FlowSteps)*s.flowFwd(s.Batch*s.Candidates))
}

// ActFLOPs is one action decision for one state: N one-step candidates and their scores by the
// online ensemble.
func (s Sizes) ActFLOPs() float64 {
	return s.actorFwd(s.Candidates) + s.criticFwd(s.Candidates)
}
