package deploy

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"

	"github.com/gomvp/gomvp/mvp/deploy/internal/kernels"
	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/xla"
)

// Direct computes a policy's action function (ActionGraph) in Go, without building a graph: the
// batch-1 latency path of a robot's control loop. Its dense layers, GELU and LayerNorm run as
// AVX-512 assembly on CPUs that have it (kernels.HasAsm); elsewhere as plain Go loops, correct but
// slower than the graph. SetThreads goroutines share a decision: the generator's layers by output
// columns and the critic ensemble by member, so that each core streams only part of the weights
// (which, past the L2 cache, bound a batch-1 decision); they meet at a spinning barrier per layer.
//
// It computes what ActionGraph computes, operation for operation (generate, clip, ensemble-mean
// score, argmax, action de-normalisation), in float32; the results agree with the graph's to
// float32 rounding (erf, sin and the summation orders differ in the last bits), so on a near tie
// of two candidates' scores the two may pick different candidates.
type Direct struct {
	cfg     Config
	sampler policy.Sampler
	actor   directMLP
	critics []directMLP
	threads int

	mu      sync.Mutex
	shared  directScratch    // the generator's buffers, shared by a decision's workers
	scratch []*directScratch // each worker's buffers for the critics
}

// DirectSupported reports whether Direct can compute this config (nil) or why not.
func DirectSupported(c *Config) error {
	nets := []MLPConfig{c.Generator.Net}
	if c.Critic != nil {
		nets = append(nets, c.Critic.Net)
	}
	for _, m := range nets {
		act, err := activationType(m.Activation)
		if err != nil {
			return err
		}
		switch act {
		case activation.TypeGelu, activation.TypeRelu, activation.TypeNone:
		default:
			return fmt.Errorf("deploy: the direct decision has no kernel for activation %q (gelu, relu and none have one); act through the graph", m.Activation)
		}
	}
	return nil
}

// Direct returns the graph-free evaluator of p's action function, with its weights packed once
// (a copy: later changes to p's tensors do not reach it).
func (p *Policy) Direct() (*Direct, error) {
	c := p.Config
	if err := DirectSupported(&c); err != nil {
		return nil, err
	}
	d := &Direct{cfg: c, sampler: c.Generator.Sampler(), threads: runtime.GOMAXPROCS(0)}
	chunk := c.ChunkDim()
	in := chunk + c.timeFeatureDim() + c.ObsDim
	if c.Generator.Type == GenRegression {
		in = c.ObsDim
	}
	var err error
	if d.actor, err = newDirectMLP(p.weights, ActorPrefix, &c.Generator.Net, in, chunk); err != nil {
		return nil, err
	}
	if c.Critic != nil {
		for i := range c.Critic.Ensemble {
			q, err := newDirectMLP(p.weights, CriticMemberPrefix(i), &c.Critic.Net, c.ObsDim+chunk, 1)
			if err != nil {
				return nil, err
			}
			d.critics = append(d.critics, q)
		}
	}
	return d, nil
}

// SetThreads sets how many goroutines share a decision's candidate rows (default GOMAXPROCS; each
// takes at least kernels.RowBlock rows).
func (d *Direct) SetThreads(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.threads = max(n, 1)
}

// Act is Policy.Act computed directly: obs holds B·ObsDim values, noise B·N·h·ActDim standard
// normal values; the result holds B·h·ActDim values. The result does not depend on SetThreads.
func (d *Direct) Act(obs, noise []float32) ([]float32, error) {
	c := &d.cfg
	b, err := c.checkActInput(obs, noise)
	if err != nil {
		return nil, err
	}
	return d.act(b, obs, noise), nil
}

// act is Act on checked input of b states.
func (d *Direct) act(b int, obs, noise []float32) []float32 {
	c := &d.cfg
	d.mu.Lock()
	defer d.mu.Unlock()

	// The rows to compute: every candidate when they are scored, else only the first of each state.
	perState := c.Candidates
	if len(d.critics) == 0 || perState == 1 {
		perState = 1
	}
	rows := b * perState
	tm := &team{d: d, n: d.threads, rows: rows, perState: perState, noise: noise,
		padded: (rows + kernels.RowBlock - 1) / kernels.RowBlock * kernels.RowBlock}
	tm.bar.n = int32(tm.n)
	// s: the normalised observations, one row per state.
	tm.s = append([]float32(nil), obs...)
	if nz := c.ObsNorm; nz != nil {
		for i := range tm.s {
			f := i % c.ObsDim
			tm.s[i] = (tm.s[i] - nz.Shift[f]) / nz.Scale[f]
		}
	}
	chunk := c.ChunkDim()
	tm.cand = make([]float32, rows*chunk)
	tm.qs = make([][]float32, len(d.critics))
	for e := range tm.qs {
		tm.qs[e] = make([]float32, rows)
	}
	for len(d.scratch) < tm.n {
		d.scratch = append(d.scratch, &directScratch{})
	}
	var wg sync.WaitGroup
	for w := 1; w < tm.n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tm.work(w)
		}()
	}
	tm.work(0)
	wg.Wait()

	// q = mean_e Q_e (summed in ensemble order), argmax per state (the first on ties, as ArgMax),
	// then the action de-normalisation.
	out := make([]float32, b*chunk)
	for st := range b {
		best, bestQ := st*perState, float32(0)
		for i := range perState {
			j := st*perState + i
			var q float32
			for _, qe := range tm.qs {
				q += qe[j]
			}
			q /= float32(len(tm.qs))
			if i == 0 || q > bestQ {
				best, bestQ = j, q
			}
		}
		copy(out[st*chunk:(st+1)*chunk], tm.cand[best*chunk:(best+1)*chunk])
	}
	if nz := c.ActNorm; nz != nil {
		for i := range out {
			f := i % c.ActDim
			out[i] = out[i]*nz.Scale[f] + nz.Shift[f]
		}
	}
	return out
}

// DirectEnv names the environment variable that overrides where decisions run by default, for
// Policy.Act and mvp's Agent.Act alike: "0" keeps them on the graph, "1" computes them directly
// (with Go loops where the kernels are not accelerated). Explicit choices in code (SetBackend,
// UseDirect, SetDirectAct) still win.
const DirectEnv = "MVP_DIRECT"

// DirectByDefault reports whether a decision runs directly when the code has not chosen: as
// $MVP_DIRECT says, else where Direct is accelerated, no GPU is visible and graphAskedFor (a
// backend asked for through the environment) is false.
func DirectByDefault(graphAskedFor bool) bool {
	switch os.Getenv(DirectEnv) {
	case "0":
		return false
	case "1":
		return true
	}
	return !graphAskedFor && DirectAccelerated() && !xla.GPUVisible()
}

// DirectAccelerated reports whether Direct runs its AVX-512 kernels on this CPU (and so beats the
// action graph there); elsewhere it runs plain Go loops.
func DirectAccelerated() bool { return kernels.HasAsm() }

// kernelsName names Direct's kernels on this CPU.
func kernelsName() string {
	if kernels.HasAsm() {
		return "AVX-512"
	}
	return "Go loops"
}

// team is one decision: n workers run the same program (work), sharing the generator's layers by
// output columns and the critic ensemble by members, and meet at a barrier between layers. Row j
// of the rows·chunk candidates is candidate j mod perState of state j / perState.
type team struct {
	d            *Direct
	n            int
	bar          barrier
	rows, padded int
	perState     int
	s, noise     []float32
	cand         []float32   // [rows, chunk]: the clipped candidates
	qs           [][]float32 // [ensemble][rows]: each critic's scores
	x, critX     []float32   // the generator's and the critics' input rows
}

// work is worker w's part of the decision: sample (policy.Sample), clip, score (qMean).
func (tm *team) work(w int) {
	d := tm.d
	c := &d.cfg
	chunk, obsDim := c.ChunkDim(), c.ObsDim
	state := func(r int) []float32 {
		st := r / tm.perState
		return tm.s[st*obsDim : (st+1)*obsDim]
	}
	a := tm.cand
	if w == 0 {
		for r := range tm.rows {
			st, i := r/tm.perState, r%tm.perState
			src := (st*c.Candidates + i) * chunk
			copy(a[r*chunk:(r+1)*chunk], tm.noise[src:src+chunk])
		}
	}
	sp := d.sampler
	in := d.actor.in
	if w == 0 {
		tm.x = grow(&d.shared.x, tm.padded*in)
	}
	if sp.Type == policy.Regression {
		if w == 0 {
			for r := range tm.rows {
				copy(tm.x[r*in:], state(r))
			}
		}
		out, ld := tm.generator(w)
		if w == 0 {
			for r := range tm.rows {
				copy(a[r*chunk:(r+1)*chunk], out[r*ld:r*ld+chunk])
			}
		}
	} else {
		for step := range sp.Steps {
			var taus []float32
			var scale float32
			if sp.Type == policy.Flow {
				dt := 1 / float64(sp.Steps)
				taus, scale = []float32{float32(float64(step) * dt)}, float32(dt)
			} else {
				t := float64(step) / float64(sp.Steps)
				r := float64(step+1) / float64(sp.Steps)
				tau2 := float32(r)
				if sp.TimeInput == policy.TimeInputTDelta {
					tau2 = float32(r) - float32(t) // Sub(r, t) of two float32 columns
				}
				taus, scale = []float32{float32(t), tau2}, float32(r-t)
			}
			if w == 0 { // x = [a, features(τ_1), …, s], as Sampler.Input
				feats := timeFeatures(sp, taus)
				for r := range tm.rows {
					row := tm.x[r*in : (r+1)*in]
					copy(row, a[r*chunk:(r+1)*chunk])
					copy(row[chunk:], feats)
					copy(row[chunk+len(feats):], state(r))
				}
			}
			out, ld := tm.generator(w)
			if w == 0 {
				for r := range tm.rows {
					ar, vr := a[r*chunk:(r+1)*chunk], out[r*ld:r*ld+chunk]
					for k := range ar {
						ar[k] += vr[k] * scale
					}
				}
			}
		}
	}
	if w == 0 {
		lo, hi := float32(c.ActionLow), float32(c.ActionHigh)
		for k, v := range a {
			a[k] = min(max(v, lo), hi)
		}
	}
	if len(d.critics) == 0 || tm.perState == 1 {
		return
	}
	in = obsDim + chunk
	if w == 0 { // the critics' input [s, a]
		tm.critX = grow(&d.shared.critX, tm.padded*in)
		for r := range tm.rows {
			row := tm.critX[r*in : (r+1)*in]
			copy(row, state(r))
			copy(row[obsDim:], a[r*chunk:(r+1)*chunk])
		}
	}
	tm.bar.wait()
	for e := w; e < len(d.critics); e += tm.n {
		critic := &d.critics[e]
		critic.reserve(d.scratch[w], tm.padded)
		out, ld := critic.forward(d.scratch[w], tm.critX, in, tm.padded, 0, 1, func() {})
		for r := range tm.rows {
			tm.qs[e][r] = out[r*ld]
		}
	}
}

// generator runs the generator's network on tm.x, every worker computing its share of each
// layer, and returns the output rows and their stride (valid until the next call).
func (tm *team) generator(w int) ([]float32, int) {
	m := &tm.d.actor
	if w == 0 {
		m.reserve(&tm.d.shared, tm.padded)
	}
	tm.bar.wait() // tm.x is written, the buffers exist
	return m.forward(&tm.d.shared, tm.x, m.in, tm.padded, w, tm.n, tm.bar.wait)
}

// barrier is a spinning barrier for the workers of one decision: a layer takes tens of
// microseconds, so waiting on a futex would cost more than the wait itself. A worker that spins
// long yields, so oversubscribed threads still progress.
type barrier struct {
	n     int32
	count atomic.Int32
	gen   atomic.Uint32
}

func (b *barrier) wait() {
	if b.n <= 1 {
		return
	}
	g := b.gen.Load()
	if b.count.Add(1) == b.n {
		b.count.Store(0)
		b.gen.Add(1)
		return
	}
	for i := 0; b.gen.Load() == g; i++ {
		if i > 200 {
			runtime.Gosched()
		}
	}
}

// timeFeatures are the time columns of one generation step, as Sampler.Features: each τ raw, or
// [sin(2π·2^k·τ)…, cos(2π·2^k·τ)…] with the phase multiplied in float32.
func timeFeatures(sp policy.Sampler, taus []float32) []float32 {
	if sp.TimeFeatures != policy.FeaturesFourier {
		return taus
	}
	var out []float32
	for _, tau := range taus {
		f := sp.FourierFrequencies
		cols := make([]float32, 2*f)
		for k := range f {
			phase := float64(tau * float32(2*math.Pi*math.Exp2(float64(k))))
			cols[k], cols[f+k] = float32(math.Sin(phase)), float32(math.Cos(phase))
		}
		out = append(out, cols...)
	}
	return out
}

// directMLP is one network of the policy with its dense layers packed for the kernels.
type directMLP struct {
	in     int
	hidden []directLayer
	act    activation.Type
	eps    float32
	out    *kernels.Dense
	maxPad int // the widest layer output (OutPad): the size of a hidden buffer's row
}

type directLayer struct {
	dense        *kernels.Dense
	gain, offset []float32 // LayerNorm's, or nil
}

func newDirectMLP(w map[string]*tensors.Tensor, prefix string, m *MLPConfig, in, out int) (directMLP, error) {
	act, err := activationType(m.Activation)
	if err != nil {
		return directMLP{}, err
	}
	net := directMLP{in: in, act: act, eps: float32(m.LayerNormEpsilon)}
	get := func(name string) ([]float32, error) {
		t, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("deploy: weight %q is missing", name)
		}
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("deploy: weight %q: %w", name, err)
		}
		return v, nil
	}
	dense := func(p string, in, out int) (*kernels.Dense, error) {
		wt, err := get(p + "weights")
		if err != nil {
			return nil, err
		}
		bs, err := get(p + "biases")
		if err != nil {
			return nil, err
		}
		if len(wt) != in*out || len(bs) != out {
			return nil, fmt.Errorf("deploy: %sweights/biases hold %d/%d values, want %d×%d/%d", p, len(wt), len(bs), in, out, out)
		}
		return kernels.NewDense(wt, bs, in, out), nil
	}
	for i, width := range m.Widths {
		p := layerPrefix(prefix, i)
		l := directLayer{}
		if l.dense, err = dense(p, in, width); err != nil {
			return directMLP{}, err
		}
		if m.LayerNorm {
			if l.gain, err = get(p + "norm_gain"); err != nil {
				return directMLP{}, err
			}
			if l.offset, err = get(p + "norm_offset"); err != nil {
				return directMLP{}, err
			}
		}
		net.hidden = append(net.hidden, l)
		in = width
	}
	if net.out, err = dense(outputPrefix(prefix), in, out); err != nil {
		return directMLP{}, err
	}
	net.maxPad = net.out.OutPad
	for _, l := range net.hidden {
		net.maxPad = max(net.maxPad, l.dense.OutPad)
	}
	return net, nil
}

// reserve sizes sc's hidden buffers for forward on rows rows.
func (m *directMLP) reserve(sc *directScratch, rows int) {
	for i := range sc.h {
		grow(&sc.h[i], rows*m.maxPad)
	}
}

// forward runs the network on rows of x ([rows, ldx], rows a multiple of kernels.RowBlock) as
// worker w of n: it computes its share of each layer's output panels and of the LayerNorm rows
// into sc's buffers (sized by reserve), and calls sync wherever the next step reads the other
// workers' results (n = 1: the whole network, sync a no-op). It returns the output rows and their
// stride; they live in sc until the next forward.
func (m *directMLP) forward(sc *directScratch, x []float32, ldx, rows, w, n int, sync func()) ([]float32, int) {
	share := func(dense *kernels.Dense) (int, int) {
		p := dense.Panels()
		return w * p / n, (w + 1) * p / n
	}
	cur, ld := x, ldx
	for i, l := range m.hidden {
		y, ldy := sc.h[i%2][:rows*l.dense.OutPad], l.dense.OutPad
		p0, p1 := share(l.dense)
		l.dense.ApplyPanels(y, ldy, cur, ld, rows, p0, p1)
		for r := range rows {
			m.activate(y[r*ldy+p0*kernels.PanelWidth : r*ldy+p1*kernels.PanelWidth])
		}
		sync() // every column of the layer is done
		if l.gain != nil {
			for r := w * rows / n; r < (w+1)*rows/n; r++ {
				kernels.LayerNorm(y[r*ldy:r*ldy+l.dense.Out], l.gain, l.offset, m.eps)
			}
			sync()
		}
		cur, ld = y, ldy
	}
	y := sc.h[len(m.hidden)%2][:rows*m.out.OutPad]
	p0, p1 := share(m.out)
	m.out.ApplyPanels(y, m.out.OutPad, cur, ld, rows, p0, p1)
	sync()
	return y, m.out.OutPad
}

// directScratch holds buffers that grow to the largest decision seen: the inputs (in the shared
// scratch) and the two hidden buffers forward alternates between.
type directScratch struct {
	x, critX []float32
	h        [2][]float32
}

// grow resizes *buf to n values, reallocating only when it is too small, and returns it.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// activate applies the hidden activation in place.
func (m *directMLP) activate(y []float32) {
	switch m.act {
	case activation.TypeGelu:
		kernels.GELU(y)
	case activation.TypeRelu:
		kernels.ReLU(y)
	}
}
