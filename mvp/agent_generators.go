package mvp

import "fmt"

// NewGeneratorForKind builds the generator an agent kind uses: its network has cfg.ActorHidden
// widths (GELU, no LayerNorm) and samples are bounded by cfg.ActionLow/High.
//
//	mvp          MVP, λ = 1, one-step sampling
//	mvp-lambda0  MVP, λ = 0 (no IVC)
//	qc, bfn      flow matching, K = 10 Euler steps
//	qc-k1, bfn-k1  flow matching sampled with K = 1
//	bc           deterministic regression (BCGenerator)
//	fql, qc-fql  flow BC policy (K = 10) distilled into a one-step policy with Q (FQL, α = 100)
func NewGeneratorForKind(cfg AgentConfig) (Generator, error) {
	net := NewNetworkConfig().WithMLP(NewMLPConfig().WithWidths(cfg.ActorHidden...))
	switch cfg.Kind {
	case KindMVP, KindMVPLambda0:
		c := NewConfig().WithNet(net).WithActionBounds(cfg.ActionLow, cfg.ActionHigh)
		if cfg.Kind == KindMVPLambda0 {
			c.WithLambda(0)
		}
		return NewMVP(c)
	case KindQC, KindBFN, KindQCK1, KindBFNK1:
		k := 10
		if cfg.Kind == KindQCK1 || cfg.Kind == KindBFNK1 {
			k = 1
		}
		return NewFlow(NewFlowConfig().WithNet(net).WithSteps(k).WithActionBounds(cfg.ActionLow, cfg.ActionHigh))
	case KindBC:
		return NewBCGenerator(cfg.ActorHidden, cfg.ChunkDim()), nil
	case KindFQL, KindQCFQL:
		flow := NewFlowConfig().WithNet(net).WithActionBounds(cfg.ActionLow, cfg.ActionHigh)
		return NewFQL(NewFQLConfig().WithFlow(flow).WithOneStep(NewMLPConfig().WithWidths(cfg.ActorHidden...)).WithCritic(cfg.Critic))
	}
	return nil, fmt.Errorf("mvp: no generator for agent kind %q (kinds: %v)", cfg.Kind, Kinds)
}
