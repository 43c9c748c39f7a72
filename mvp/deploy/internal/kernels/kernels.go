// Package kernels holds the vectorised loops of the graph-free decision (package mvp/deploy's
// Direct): a dense layer over weights packed once into column panels, the exact GELU and
// LayerNorm. On amd64 CPUs with AVX-512 they run as assembly; elsewhere the Go loops in this file
// compute the same functions (the tests hold one against the other and both against float64).
//
// A batch-1 decision multiplies 32 candidate rows by 512×512 weights: too few rows for a
// multi-threaded GEMM to pay for its scheduling, and enough for one core's FMA units when the
// weight panel streams contiguously and each row's input is broadcast from L1. The layout here
// serves exactly that case.
package kernels

import "math"

// PanelWidth is the number of output columns one packed panel holds (four AVX-512 registers).
const PanelWidth = 64

// RowBlock is the number of rows the assembly tile computes at once; Dense handles any row count,
// but full blocks are the fast path.
const RowBlock = 4

// Dense is y = x·W + b for W [In, Out] with the columns packed into panels of PanelWidth: panel p
// holds W[k, 64p … 64p+63] for k = 0 … In−1 contiguously, zero past Out.
type Dense struct {
	In, Out int
	// OutPad is Out rounded up to a multiple of PanelWidth: the row stride Apply needs in y.
	OutPad int
	panels []float32 // [OutPad/64][In][64]
	bias   []float32 // [OutPad]
}

// NewDense packs w ([in, out], row-major) and b ([out]).
func NewDense(w, b []float32, in, out int) *Dense {
	if len(w) != in*out || len(b) != out {
		panic("kernels: NewDense: weight or bias length does not match in×out")
	}
	pad := (out + PanelWidth - 1) / PanelWidth * PanelWidth
	d := &Dense{In: in, Out: out, OutPad: pad, panels: make([]float32, pad*in), bias: make([]float32, pad)}
	copy(d.bias, b)
	for p := 0; p < pad/PanelWidth; p++ {
		panel := d.panels[p*in*PanelWidth : (p+1)*in*PanelWidth]
		for k := range in {
			for j := range PanelWidth {
				if col := p*PanelWidth + j; col < out {
					panel[k*PanelWidth+j] = w[k*out+col]
				}
			}
		}
	}
	return d
}

// Panels is the number of column panels: the unit ApplyPanels splits the output columns in.
func (d *Dense) Panels() int { return d.OutPad / PanelWidth }

// Apply computes rows of y = x·W + b: x holds rows of In values ldx apart, y rows of OutPad values
// ldy apart (ldy ≥ OutPad); the padding columns of y receive zeros.
func (d *Dense) Apply(y []float32, ldy int, x []float32, ldx, rows int) {
	d.ApplyPanels(y, ldy, x, ldx, rows, 0, d.Panels())
}

// ApplyPanels is Apply restricted to the output columns of panels p0 … p1−1, so that threads can
// share a layer by columns; each output element is computed the same way whatever the split.
func (d *Dense) ApplyPanels(y []float32, ldy int, x []float32, ldx, rows, p0, p1 int) {
	if rows == 0 || p0 >= p1 {
		return
	}
	if p0 < 0 || p1 > d.Panels() || ldx < d.In || ldy < d.OutPad || len(x) < (rows-1)*ldx+d.In || len(y) < (rows-1)*ldy+d.OutPad {
		panic("kernels: Dense.Apply: buffer too small for the rows, or panels out of range")
	}
	full := 0 // rows done by the assembly
	if useAsm {
		full = rows / RowBlock * RowBlock
		for p := p0; p < p1; p++ {
			panel := d.panels[p*d.In*PanelWidth:]
			bias := d.bias[p*PanelWidth:]
			for r := 0; r < full; r += RowBlock {
				tile4x64(&x[r*ldx], 4*ldx, &panel[0], d.In, &bias[0], &y[r*ldy+p*PanelWidth], 4*ldy)
			}
		}
	}
	for r := full; r < rows; r++ {
		d.applyRowGo(y[r*ldy:], x[r*ldx:], p0, p1)
	}
}

// applyRowGo is one row of ApplyPanels in Go.
func (d *Dense) applyRowGo(y, x []float32, p0, p1 int) {
	for p := p0; p < p1; p++ {
		panel := d.panels[p*d.In*PanelWidth : (p+1)*d.In*PanelWidth]
		out := y[p*PanelWidth : (p+1)*PanelWidth]
		copy(out, d.bias[p*PanelWidth:])
		for k, xk := range x[:d.In] {
			w := panel[k*PanelWidth : (k+1)*PanelWidth]
			for j := range out {
				out[j] += xk * w[j]
			}
		}
	}
}

// GELU applies the exact GELU, x·Φ(x) = ½x·(1 + erf(x/√2)), to x in place.
func GELU(x []float32) {
	n := 0
	if useAsm {
		n = len(x) / 32 * 32
		if n > 0 {
			geluAVX512(&x[0], n)
		}
	}
	for i := n; i < len(x); i++ {
		x[i] = geluGo(x[i])
	}
}

// erf's rational approximation on |z| ≤ 4: erf(z) ≈ z·P(z²)/Q(z²), a least-squares minimax fit
// (P of degree 5, Q of degree 6, all of Q's coefficients positive, so no pole) whose float32
// evaluation is within 3.8e-7 of erf everywhere; beyond ±4 erf is ±1 in float32. The assembly
// reads the same coefficients (erfP, erfQ in gelu_amd64.s).
var (
	erfP = [6]float32{1.128379225730896, 0.18948645889759064, 0.05446174368262291, 0.003976432140916586, 0.00036954617826268077, 5.277635409584036e-06}
	erfQ = [7]float32{1.0, 0.5012613534927368, 0.11535236984491348, 0.015658769756555557, 0.0013161846436560154, 6.169370317365974e-05, 1.7481633562965726e-07}
)

// Erf is the float32 erf of this package (the function GELU uses).
func Erf(z float32) float32 {
	z = min(max(z, -4), 4)
	y := z * z
	p := erfP[5]
	for i := 4; i >= 0; i-- {
		p = p*y + erfP[i]
	}
	q := erfQ[6]
	for i := 5; i >= 0; i-- {
		q = q*y + erfQ[i]
	}
	return z * p / q
}

func geluGo(x float32) float32 {
	h := 0.5 * x
	return h + h*Erf(x*math.Sqrt2/2)
}

// ReLU applies max(x, 0) in place.
func ReLU(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

// LayerNorm normalises one row in place as nn.LayerNorm does: (x − mean)/√(var + eps)·gain + offset,
// with the mean and the (biased) variance over the row, each in two passes.
func LayerNorm(x, gain, offset []float32, eps float32) {
	n := len(x)
	if len(gain) < n || len(offset) < n {
		panic("kernels: LayerNorm: gain or offset shorter than the row")
	}
	if useAsm && n%16 == 0 && n > 0 {
		layerNormAVX512(&x[0], n, &gain[0], &offset[0], 1/float32(n), eps)
		return
	}
	var sum float32
	for _, v := range x {
		sum += v
	}
	mean := sum / float32(n)
	var sq float32
	for _, v := range x {
		sq += (v - mean) * (v - mean)
	}
	inv := 1 / float32(math.Sqrt(float64(sq/float32(n)+eps)))
	for i, v := range x {
		x[i] = (v-mean)*inv*gain[i] + offset[i]
	}
}

// SetAsm turns the assembly on or off (on only where HasAsm) and returns the previous setting, so
// that tests can hold the two implementations against each other.
func SetAsm(on bool) (previous bool) {
	previous, useAsm = useAsm, on && HasAsm()
	return previous
}
