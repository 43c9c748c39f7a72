package nb

import (
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Palette is the colour cycle of plot layers (matplotlib's tab10), in order of addition.
var Palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// Plot is a 2-D figure of line and scatter layers, rendered as a standalone SVG document.
// Build it with the chained setters and call SVG or Show:
//
//	nb.NewPlot("loss").Labels("step", "L").Line("mvp", steps, losses).LogY().Show()
//
// Points with a NaN or infinite coordinate (or a non-positive y on a log axis) are left out.
type Plot struct {
	title, xLabel, yLabel string
	// width, height in pixels. Default 360×260.
	width, height int
	logY          bool
	equal         bool
	xr, yr        *[2]float64
	layers        []layer
}

type layerKind int

const (
	lineLayer layerKind = iota
	scatterLayer
	segmentLayer
	bandLayer
)

type layer struct {
	name   string
	kind   layerKind
	x, y   []float64
	x2, y2 []float64 // segment ends; for a band, y2 is the upper edge
	color  string
	radius float64
}

// NewPlot starts an empty plot with a title (may be empty).
func NewPlot(title string) *Plot { return &Plot{title: title, width: 360, height: 260} }

// Labels sets the axis labels.
func (p *Plot) Labels(x, y string) *Plot { p.xLabel, p.yLabel = x, y; return p }

// Size sets the figure size in pixels.
func (p *Plot) Size(width, height int) *Plot { p.width, p.height = width, height; return p }

// LogY puts the y axis on a log10 scale (learning curves of losses).
func (p *Plot) LogY() *Plot { p.logY = true; return p }

// Equal gives both axes the same scale, so that distances in action space look like distances.
func (p *Plot) Equal() *Plot { p.equal = true; return p }

// XRange fixes the x axis to [lo, hi] instead of fitting the data.
func (p *Plot) XRange(lo, hi float64) *Plot { p.xr = &[2]float64{lo, hi}; return p }

// YRange fixes the y axis to [lo, hi] instead of fitting the data.
func (p *Plot) YRange(lo, hi float64) *Plot { p.yr = &[2]float64{lo, hi}; return p }

// Line adds a polyline through (x[i], y[i]). A nil x means 0, 1, 2, ….
func (p *Plot) Line(name string, x, y []float64) *Plot {
	p.layers = append(p.layers, layer{name: name, kind: lineLayer, x: indexIfNil(x, len(y)), y: y, color: p.nextColor()})
	return p
}

// Scatter adds one dot per (x[i], y[i]).
func (p *Plot) Scatter(name string, x, y []float64) *Plot {
	p.layers = append(p.layers, layer{name: name, kind: scatterLayer, x: x, y: y, color: p.nextColor(), radius: 1.8})
	return p
}

// Segments adds one line segment per i, from (x0[i], y0[i]) to (x1[i], y1[i]): where a sampler
// moves each noise sample, or a velocity field drawn as short strokes.
func (p *Plot) Segments(name string, x0, y0, x1, y1 []float64) *Plot {
	p.layers = append(p.layers, layer{name: name, kind: segmentLayer, x: x0, y: y0, x2: x1, y2: y1, color: p.nextColor()})
	return p
}

// Band shades the area between lo[i] and hi[i] over x[i] in the colour of the last added layer,
// without a legend entry: a confidence band around the line added before it.
func (p *Plot) Band(x, lo, hi []float64) *Plot {
	c := p.nextColor()
	if n := len(p.layers); n > 0 {
		c = p.layers[n-1].color
	}
	p.layers = append(p.layers, layer{kind: bandLayer, x: x, y: lo, x2: x, y2: hi, color: c})
	return p
}

// Color overrides the colour of the last added layer (any SVG colour).
func (p *Plot) Color(c string) *Plot {
	if n := len(p.layers); n > 0 {
		p.layers[n-1].color = c
	}
	return p
}

// nextColor cycles the palette over the layers that have a colour of their own (bands share their line's).
func (p *Plot) nextColor() string {
	n := 0
	for _, l := range p.layers {
		if l.kind != bandLayer {
			n++
		}
	}
	return Palette[n%len(Palette)]
}

func indexIfNil(x []float64, n int) []float64 {
	if x != nil {
		return x
	}
	x = make([]float64, n)
	for i := range x {
		x[i] = float64(i)
	}
	return x
}

// Show displays the plot in the notebook.
func (p *Plot) Show() { DisplaySVG(p.SVG()) }

const (
	padLeft, padRight, padTop, padBottom = 52.0, 12.0, 24.0, 36.0
)

// SVG renders the plot as a standalone SVG document.
func (p *Plot) SVG() string {
	w, h := float64(p.width), float64(p.height)
	pw, ph := w-padLeft-padRight, h-padTop-padBottom
	ty := func(y float64) float64 { // data y → axis y (log10 on a log axis)
		if p.logY {
			return math.Log10(y)
		}
		return y
	}
	ok := func(x, y float64) bool {
		return finite(x) && finite(y) && (!p.logY || y > 0)
	}

	// Data bounds, on the transformed y axis.
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range p.layers {
		for i := range min(len(l.x), len(l.y)) {
			if !ok(l.x[i], l.y[i]) {
				continue
			}
			x0, x1 = min(x0, l.x[i]), max(x1, l.x[i])
			y0, y1 = min(y0, ty(l.y[i])), max(y1, ty(l.y[i]))
		}
		for i := range segCount(l) {
			if ok(l.x2[i], l.y2[i]) {
				x0, x1 = min(x0, l.x2[i]), max(x1, l.x2[i])
				y0, y1 = min(y0, ty(l.y2[i])), max(y1, ty(l.y2[i]))
			}
		}
	}
	if p.xr != nil {
		x0, x1 = p.xr[0], p.xr[1]
	}
	if p.yr != nil {
		y0, y1 = ty(p.yr[0]), ty(p.yr[1])
	}
	x0, x1 = widen(x0, x1, p.xr == nil)
	y0, y1 = widen(y0, y1, p.yr == nil)
	if p.equal { // grow the narrower range so that one unit has the same length on both axes
		sx, sy := (x1-x0)/pw, (y1-y0)/ph
		if sx > sy {
			c := (y0 + y1) / 2
			y0, y1 = c-sx*ph/2, c+sx*ph/2
		} else {
			c := (x0 + x1) / 2
			x0, x1 = c-sy*pw/2, c+sy*pw/2
		}
	}
	px := func(x float64) float64 { return padLeft + (x-x0)/(x1-x0)*pw }
	py := func(y float64) float64 { return padTop + ph - (ty(y)-y0)/(y1-y0)*ph }
	pyT := func(t float64) float64 { return padTop + ph - (t-y0)/(y1-y0)*ph } // t already transformed

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`,
		p.width, p.height, p.width, p.height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`, p.width, p.height)
	if p.title != "" {
		fmt.Fprintf(&b, `<text x="%.1f" y="15" text-anchor="middle" font-size="13">%s</text>`, padLeft+pw/2, esc(p.title))
	}

	// Grid, ticks and tick labels.
	b.WriteString(`<g stroke="#e4e4e4" stroke-width="1">`)
	xt := niceTicks(x0, x1, 6)
	var yt []float64
	if p.logY {
		yt = logTicks(y0, y1)
	} else {
		yt = niceTicks(y0, y1, 5)
	}
	for _, t := range xt {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(t), padTop, px(t), padTop+ph)
	}
	for _, t := range yt {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padLeft, pyT(t), padLeft+pw, pyT(t))
	}
	b.WriteString(`</g><g fill="#333">`)
	xStep := tickStep(xt)
	for _, t := range xt {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, px(t), padTop+ph+13, esc(tickLabel(t, xStep)))
	}
	yStep := tickStep(yt)
	for _, t := range yt {
		label := tickLabel(t, yStep)
		if p.logY {
			label = tickLabel(math.Pow(10, t), math.Pow(10, t))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padLeft-4, pyT(t)+4, esc(label))
	}
	b.WriteString(`</g>`)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`, padLeft, padTop, pw, ph)
	if p.xLabel != "" {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, padLeft+pw/2, h-6, esc(p.xLabel))
	}
	if p.yLabel != "" {
		fmt.Fprintf(&b, `<text x="12" y="%.1f" text-anchor="middle" transform="rotate(-90 12 %.1f)">%s</text>`, padTop+ph/2, padTop+ph/2, esc(p.yLabel))
	}

	// Layers, clipped to the plot area.
	// Every figure of a notebook page shares one DOM, so the clip path id must be unique to it.
	clip := fmt.Sprintf("nbclip%016x", rand.Uint64())
	fmt.Fprintf(&b, `<defs><clipPath id="%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath></defs>`, clip, padLeft, padTop, pw, ph)
	fmt.Fprintf(&b, `<g clip-path="url(#%s)">`, clip)
	for _, l := range p.layers {
		n := min(len(l.x), len(l.y))
		switch l.kind {
		case lineLayer:
			// A NaN breaks the line into separate polylines instead of joining across the gap.
			var pts []string
			flush := func() {
				if len(pts) > 0 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, l.color, strings.Join(pts, " "))
				}
				pts = pts[:0]
			}
			for i := range n {
				if !ok(l.x[i], l.y[i]) {
					flush()
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.x[i]), py(l.y[i])))
			}
			flush()
		case scatterLayer:
			fmt.Fprintf(&b, `<g fill="%s" fill-opacity="0.55">`, l.color)
			for i := range n {
				if ok(l.x[i], l.y[i]) {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f"/>`, px(l.x[i]), py(l.y[i]), l.radius)
				}
			}
			b.WriteString(`</g>`)
		case bandLayer:
			// One polygon per run of finite points: along the upper edge, back along the lower one.
			var up, down []string
			flush := func() {
				if len(up) > 0 {
					for i := len(down) - 1; i >= 0; i-- {
						up = append(up, down[i])
					}
					fmt.Fprintf(&b, `<polygon fill="%s" fill-opacity="0.18" stroke="none" points="%s"/>`, l.color, strings.Join(up, " "))
				}
				up, down = up[:0], down[:0]
			}
			for i := range segCount(l) {
				if !ok(l.x[i], l.y[i]) || !ok(l.x2[i], l.y2[i]) {
					flush()
					continue
				}
				up = append(up, fmt.Sprintf("%.1f,%.1f", px(l.x2[i]), py(l.y2[i])))
				down = append(down, fmt.Sprintf("%.1f,%.1f", px(l.x[i]), py(l.y[i])))
			}
			flush()
		case segmentLayer:
			fmt.Fprintf(&b, `<g stroke="%s" stroke-opacity="0.6" stroke-width="1">`, l.color)
			for i := range segCount(l) {
				if ok(l.x[i], l.y[i]) && ok(l.x2[i], l.y2[i]) {
					fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(l.x[i]), py(l.y[i]), px(l.x2[i]), py(l.y2[i]))
				}
			}
			b.WriteString(`</g>`)
		}
	}
	b.WriteString(`</g>`)

	// Legend, top right.
	named := 0
	for _, l := range p.layers {
		if l.name == "" {
			continue
		}
		y := padTop + 12 + 14*float64(named)
		named++
		x := padLeft + pw - 8
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#222" stroke="white" stroke-width="3" paint-order="stroke">%s</text>`, x-16, y+4, esc(l.name))
		if l.kind != scatterLayer {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x-12, y, x, y, l.color)
		} else {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, x-6, y, l.color)
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func segCount(l layer) int {
	if l.kind != segmentLayer && l.kind != bandLayer {
		return 0
	}
	return min(len(l.x), len(l.y), len(l.x2), len(l.y2))
}

func esc(s string) string { return html.EscapeString(s) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// widen makes an empty or degenerate range usable and, for fitted ranges, adds a 4% margin.
func widen(lo, hi float64, margin bool) (float64, float64) {
	if lo > hi { // no data
		return 0, 1
	}
	if hi-lo < 1e-12*max(1, math.Abs(lo)) {
		d := max(0.5, math.Abs(lo)*0.1)
		return lo - d, hi + d
	}
	if margin {
		m := 0.04 * (hi - lo)
		return lo - m, hi + m
	}
	return lo, hi
}

// niceTicks returns about n round values (1, 2 or 5 × 10^k apart) inside [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		ts = append(ts, k*step+0) // k·step, not repeated additions, so 0 is exactly 0 (+0: not −0)
	}
	return ts
}

// logTicks returns the decades inside [lo, hi] (log10 units), or 1-2-5 steps when the range spans
// less than about one decade.
func logTicks(lo, hi float64) []float64 {
	var ts []float64
	for k := math.Ceil(lo); k <= hi; k++ {
		ts = append(ts, k)
	}
	if len(ts) >= 2 {
		return ts
	}
	ts = ts[:0]
	for k := math.Floor(lo); k <= math.Ceil(hi); k++ {
		for _, m := range []float64{1, 2, 5} {
			if t := k + math.Log10(m); t >= lo && t <= hi {
				ts = append(ts, t)
			}
		}
	}
	if len(ts) < 2 { // inside one 1-2-5 interval: fall back to linear ticks of the log value
		return niceTicks(lo, hi, 4)
	}
	return ts
}

func tickStep(ts []float64) float64 {
	if len(ts) < 2 {
		return 1
	}
	return ts[1] - ts[0]
}

// tickLabel prints t with as many decimals as the tick step needs.
func tickLabel(t, step float64) string {
	a := math.Abs(t)
	if a != 0 && (a >= 1e5 || a < 1e-3) {
		return strconv.FormatFloat(t, 'g', 3, 64)
	}
	dec := 0
	if s := math.Abs(step); s > 0 && s < 1 {
		dec = int(math.Ceil(-math.Log10(s) - 1e-9))
	}
	return strconv.FormatFloat(t, 'f', dec, 64)
}

// Float64s converts a slice of any real type to []float64 (tensors come back as []float32).
func Float64s[T ~float32 | ~float64 | ~int | ~int32 | ~int64](xs []T) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// Column extracts column col of a row-major [n, dim] matrix stored flat (a batch of actions).
func Column[T ~float32 | ~float64](flat []T, dim, col int) []float64 {
	if dim <= 0 || col < 0 || col >= dim {
		panic(fmt.Sprintf("nb.Column: column %d out of range for dim %d", col, dim))
	}
	out := make([]float64, 0, len(flat)/dim)
	for i := col; i < len(flat); i += dim {
		out = append(out, float64(flat[i]))
	}
	return out
}
