package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bothPaths runs f with the assembly (where this CPU has it) and with the Go loops.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	paths := []bool{false}
	if HasAsm() {
		paths = append(paths, true)
	}
	saved := useAsm
	defer func() { useAsm = saved }()
	for _, asm := range paths {
		useAsm = asm
		t.Run(fmt.Sprintf("asm=%v", asm), f)
	}
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * scale)
	}
	return s
}

func TestDenseAgainstFloat64(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, c := range []struct{ rows, in, out int }{{1, 73, 512}, {4, 73, 512}, {7, 512, 25}, {32, 512, 512}, {9, 71, 1}, {5, 1, 130}} {
			w, b := randSlice(r, c.in*c.out, 1/math.Sqrt(float64(c.in))), randSlice(r, c.out, 0.1)
			d := NewDense(w, b, c.in, c.out)
			ldx, ldy := c.in+3, d.OutPad+64
			x := randSlice(r, c.rows*ldx, 1)
			y := make([]float32, c.rows*ldy)
			for i := range y {
				y[i] = float32(math.NaN()) // every element Apply owns must be written
			}
			d.Apply(y, ldy, x, ldx, c.rows)
			for i := range c.rows {
				for j := range d.OutPad {
					want := 0.0
					if j < c.out {
						want = float64(b[j])
						for k := range c.in {
							want += float64(x[i*ldx+k]) * float64(w[k*c.out+j])
						}
					}
					if got := float64(y[i*ldy+j]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) || math.IsNaN(got) {
						t.Fatalf("rows=%d in=%d out=%d: y[%d,%d] = %g, float64 gives %g", c.rows, c.in, c.out, i, j, got, want)
					}
				}
				if ldy > d.OutPad && !math.IsNaN(float64(y[i*ldy+d.OutPad])) {
					t.Fatalf("Apply wrote past OutPad in row %d", i)
				}
			}
		}
	})
}

func TestErfAndGELUAgainstFloat64(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		var xs []float32
		for x := -12.0; x <= 12; x += 1.0 / 1024 {
			xs = append(xs, float32(x))
		}
		xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 3e38, -3e38)
		got := append([]float32(nil), xs...)
		GELU(got)
		for i, x := range xs {
			want := 0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2))
			// 3.8e-7 from erf, times |x|/2, plus float32 rounding of the result.
			tol := 2.5e-7*math.Abs(float64(x)) + 1.2e-7*math.Abs(want)
			if d := math.Abs(float64(got[i]) - want); d > tol {
				t.Fatalf("GELU(%g) = %g, float64 gives %g (|Δ| %g > %g)", x, got[i], want, d, tol)
			}
			if e := float64(Erf(x)) - math.Erf(float64(x)); math.Abs(e) > 4e-7 {
				t.Fatalf("Erf(%g) = %g, float64 gives %g", x, Erf(x), math.Erf(float64(x)))
			}
		}
	})
}

func TestLayerNormAgainstFloat64(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{512, 48, 25, 16} {
			x := randSlice(r, n, 3)
			for i := range x {
				x[i] += 5 // an offset the two-pass mean must remove
			}
			gain, offset := randSlice(r, n, 1), randSlice(r, n, 1)
			got := append([]float32(nil), x...)
			LayerNorm(got, gain, offset, 1e-6)
			var mean, v float64
			for _, xi := range x {
				mean += float64(xi)
			}
			mean /= float64(n)
			for _, xi := range x {
				v += (float64(xi) - mean) * (float64(xi) - mean)
			}
			v /= float64(n)
			for i, xi := range x {
				want := (float64(xi)-mean)/math.Sqrt(v+1e-6)*float64(gain[i]) + float64(offset[i])
				if d := math.Abs(float64(got[i]) - want); d > 2e-5*(1+math.Abs(want)) {
					t.Fatalf("n=%d: LayerNorm[%d] = %g, float64 gives %g", n, i, got[i], want)
				}
			}
		}
	})
}

func benchDense(b *testing.B, rows, in, out int) {
	r := rand.New(rand.NewPCG(5, 6))
	d := NewDense(randSlice(r, in*out, 0.05), randSlice(r, out, 0.1), in, out)
	x, y := randSlice(r, rows*in, 1), make([]float32, rows*d.OutPad)
	for b.Loop() {
		d.Apply(y, d.OutPad, x, in, rows)
	}
	b.ReportMetric(float64(2*rows*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkDense is one core on the decision's hidden layer: 32 (or 16) candidate rows × 512×512.
func BenchmarkDense32x512x512(b *testing.B) { benchDense(b, 32, 512, 512) }
func BenchmarkDense16x512x512(b *testing.B) { benchDense(b, 16, 512, 512) }

func BenchmarkGELU32x512(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(7, 8)), 32*512, 2)
	for b.Loop() {
		GELU(x)
	}
}

func BenchmarkLayerNorm32x512(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	x, g, o := randSlice(r, 32*512, 2), randSlice(r, 512, 1), randSlice(r, 512, 1)
	for b.Loop() {
		for i := range 32 {
			LayerNorm(x[i*512:(i+1)*512], g, o, 1e-6)
		}
	}
}
