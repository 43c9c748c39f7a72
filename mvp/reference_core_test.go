package mvp

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
)

// refNet is an independent float64 implementation of u_θ for NetworkConfig with GELU and no
// LayerNorm, reading the weights that the graph created in the store.
type refNet struct {
	cfg     *NetworkConfig
	weights [][]float64 // per layer, [in, out] row-major
	biases  [][]float64
	outs    []int
}

func loadRefNet(t *testing.T, store *model.Store, scopePath string, cfg *NetworkConfig) *refNet {
	t.Helper()
	n := &refNet{cfg: cfg}
	layers := make([]string, 0, len(cfg.MLP.Widths)+1)
	for i := range cfg.MLP.Widths {
		layers = append(layers, fmt.Sprintf("%s/layer_%d/dense", scopePath, i))
	}
	layers = append(layers, scopePath+"/output/dense")
	for _, l := range layers {
		w := varValue64(t, store, l+"/weights")
		b := varValue64(t, store, l+"/biases")
		n.weights = append(n.weights, w)
		n.biases = append(n.biases, b)
		n.outs = append(n.outs, len(b))
	}
	return n
}

func gelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func (n *refNet) timeFeat(tau float64) []float64 {
	if n.cfg.TimeFeatures == TimeRaw {
		return []float64{tau}
	}
	k := n.cfg.FourierFrequencies
	f := make([]float64, 2*k)
	for i := 0; i < k; i++ {
		ph := 2 * math.Pi * math.Pow(2, float64(i)) * tau
		f[i], f[k+i] = math.Sin(ph), math.Cos(ph)
	}
	return f
}

// u evaluates u_θ(a, t, r, s) for one example.
func (n *refNet) u(a []float64, t, r float64, s []float64) []float64 {
	tau2 := r
	if n.cfg.TimeInput == TimeInputTDelta {
		tau2 = r - t
	}
	x := append([]float64{}, a...)
	x = append(x, n.timeFeat(t)...)
	x = append(x, n.timeFeat(tau2)...)
	x = append(x, s...)
	return n.mlp(x)
}

// mlp runs the trunk (Dense → GELU on every hidden layer, linear output) on one input row.
func (n *refNet) mlp(x []float64) []float64 {
	for l := range n.weights {
		out := n.outs[l]
		y := append([]float64{}, n.biases[l]...)
		for i, xi := range x {
			for j := 0; j < out; j++ {
				y[j] += xi * n.weights[l][i*out+j]
			}
		}
		if l < len(n.weights)-1 {
			for j := range y {
				y[j] = gelu(y[j])
			}
		}
		x = y
	}
	return x
}

// refBatch is one example set fed to both implementations.
type refBatch struct {
	b, sDim, aDim, h int
	s, a, valid      []float64 // [b, sDim], [b, aDim], [b, h]
	eps              []float64 // [b, aDim]
	t, r             []float64 // [b]
}

// refTerms computes L_MF and L_IVC in float64, with du/dt by central finite differences along
// (v, 1) at fixed r. When frozenTargets is non-nil, those targets are used instead (for gradient
// checks that hold the target constant); the computed targets are returned either way.
func (n *refNet) refTerms(rb *refBatch, c *Config, frozenTargets [][]float64) (mf, ivc float64, targets [][]float64) {
	const h = 1e-6
	d := rb.aDim / rb.h
	eMF := make([]float64, rb.b)
	eIVC := make([]float64, rb.b)
	for i := 0; i < rb.b; i++ {
		a := rb.a[i*rb.aDim : (i+1)*rb.aDim]
		eps := rb.eps[i*rb.aDim : (i+1)*rb.aDim]
		s := rb.s[i*rb.sDim : (i+1)*rb.sDim]
		t, r := rb.t[i], rb.r[i]
		at, v := make([]float64, rb.aDim), make([]float64, rb.aDim)
		ap, am := make([]float64, rb.aDim), make([]float64, rb.aDim)
		for j := range at {
			at[j] = (1-t)*eps[j] + t*a[j]
			v[j] = a[j] - eps[j]
			ap[j], am[j] = at[j]+h*v[j], at[j]-h*v[j]
		}
		u := n.u(at, t, r, s)
		up, um := n.u(ap, t+h, r, s), n.u(am, t-h, r, s)
		target := make([]float64, rb.aDim)
		for j := range target {
			dudt := (up[j] - um[j]) / (2 * h)
			target[j] = v[j] + (r-t)*dudt
		}
		targets = append(targets, target)
		if frozenTargets != nil {
			target = frozenTargets[i]
		}
		uDiag := n.u(at, t, t, s)
		for j := 0; j < rb.aDim; j++ {
			m := 1.0
			if rb.valid != nil {
				m = rb.valid[i*rb.h+j/d]
			}
			eMF[i] += m * (u[j] - target[j]) * (u[j] - target[j]) / float64(rb.aDim)
			eIVC[i] += m * (uDiag[j] - v[j]) * (uDiag[j] - v[j]) / float64(rb.aDim)
		}
	}
	reduce := func(e []float64) float64 {
		s := 0.0
		for _, x := range e {
			w := 1.0
			if c.AdaptiveWeight {
				w = 1 / math.Pow(x+c.AdaptiveWeightC, c.AdaptiveWeightP)
			}
			s += w * x
		}
		return s / float64(len(e))
	}
	return reduce(eMF), reduce(eIVC), targets
}
