package mvp

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads like the math
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomvp/gomvp/mvp/policy"
)

// BCGenerator is plain behaviour cloning: a deterministic MLP π(s) regressed onto the dataset's
// (chunked) actions with the masked squared error. It ignores the noise, so best-of-N has nothing
// to choose from; the BC agent runs it with N = 1 and no critic, as the floor every other agent
// should beat.
type BCGenerator struct {
	MLP    *MLPConfig
	ActDim int // flattened chunk size h·d
}

// NewBCGenerator returns a BC regressor with the given hidden widths.
func NewBCGenerator(hidden []int, chunkDim int) *BCGenerator {
	return &BCGenerator{MLP: NewMLPConfig().WithWidths(hidden...), ActDim: chunkDim}
}

// Name implements Generator.
func (g *BCGenerator) Name() string { return "bc" }

// Loss implements Generator: mean over the batch of ‖π(s) − a‖² on valid chunk steps.
func (g *BCGenerator) Loss(scope *model.Scope, s, a, valid *Node) (*Node, map[string]*Node) {
	pred := g.MLP.Build(scope.At("policy"), s, g.ActDim)
	var mask *Node
	if valid != nil {
		mask = ChunkMask(valid, g.ActDim, pred.DType())
	}
	loss := MaskedMSE(pred, a, mask)
	return loss, map[string]*Node{"mse": loss}
}

// Sample implements Generator: π(s), the same for every noise row.
func (g *BCGenerator) Sample(scope *model.Scope, s, eps *Node) *Node {
	net := func(x *Node) *Node { return g.MLP.Build(scope.At("policy"), x, g.ActDim) }
	return policy.Sample(policy.Sampler{Type: policy.Regression}, net, s, eps)
}

// bcGeneratorSpec is the spec of a BC regressor with MLP m.
func bcGeneratorSpec(m *MLPConfig) GeneratorSpec {
	g := GeneratorSpec{Sampler: policy.Sampler{Type: policy.Regression}}
	mlpSpec(&g, m)
	return g
}

// bcFromSpec builds the BC regressor of s.
func bcFromSpec(s Spec) (*BCGenerator, error) {
	m, err := s.Generator.mlp()
	if err != nil {
		return nil, err
	}
	return &BCGenerator{MLP: m, ActDim: s.ChunkDim()}, nil
}
