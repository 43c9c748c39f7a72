package mvp

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Generator is a state-conditioned generative model of (chunked, flattened) actions, trained by a
// generative loss on dataset pairs (s, a) and sampled from Gaussian noise. MVP and the flow-matching
// baselines implement it; agents use it through this interface only, so any of them can be plugged
// into generate-and-select.
//
// Graph-building methods follow GoMLX's convention: a problem while building panics, and the
// executor that compiles the graph returns it as an error.
type Generator interface {
	// Name identifies the generator in logs and results ("mvp", "flow-k10", …).
	Name() string

	// Loss builds the scalar training loss for states s [B, obsDim] and actions a [B, actDim]
	// (actDim = h·per-step action dim when chunked). valid [B, h] masks chunk steps past the end of an
	// episode (nil: all valid). terms holds each reported component (for MVP: "mf", "ivc", "policy").
	Loss(scope *model.Scope, s, a, valid *graph.Node) (loss *graph.Node, terms map[string]*graph.Node)

	// Sample maps noise ε [B, actDim] to actions given s [B, obsDim], without clipping.
	Sample(scope *model.Scope, s, eps *graph.Node) *graph.Node
}
