package mvp_test

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/xla"
)

// The policy loss is a plain value of the config: wrap or replace it in a notebook and rebuild
// the train step, without touching the library. Here the default L_MF + λ·L_IVC gets an extra
// velocity-magnitude penalty, and the IVC weight is doubled.
func ExampleConfig_lossFn() {
	cfg := mvp.NewConfig()
	cfg.Net.MLP.WithWidths(32, 32)
	cfg.LossFn = func(t *mvp.LossTerms) *Node {
		policy := Add(t.MF, MulScalar(t.IVC, 2*t.Config.Lambda))
		return Add(policy, MulScalar(t.MaskedMSE(t.U, ZerosLike(t.U)), 0.1))
	}
	gen, err := mvp.NewMVP(cfg)
	if err != nil {
		panic(err)
	}

	backend, _ := xla.Default()
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(1)
	opt := optimizer.Adam().LearningRate(1e-3).Done()
	step := model.MustNewExec(backend, store, func(scope *model.Scope, s, a *Node) []*Node {
		loss, terms := gen.Loss(scope.At("actor"), s, a, nil)
		opt.UpdateGraph(scope, s.Graph(), loss)
		return []*Node{terms["mf"], terms["ivc"], terms["policy"]}
	})
	s := tensors.FromValue([][]float32{{0.1, -0.2}, {0.3, 0.4}, {-0.5, 0.6}, {0.7, -0.8}})
	a := tensors.FromValue([][]float32{{0.5, 0.5}, {-0.5, 0.5}, {0.5, -0.5}, {-0.5, -0.5}})
	out := step.MustCall(s, a)
	mf, ivc, policy := out[0].Value().(float32), out[1].Value().(float32), out[2].Value().(float32)
	extra := policy - (mf + 2*ivc)
	fmt.Println("terms reported: mf, ivc, policy")
	fmt.Println("policy includes the extra term:", extra > 0 && math.Abs(float64(extra)) < float64(policy))
	// Output:
	// terms reported: mf, ivc, policy
	// policy includes the extra term: true
}
