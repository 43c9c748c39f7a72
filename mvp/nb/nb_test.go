package nb

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// element is one parsed XML start element.
type element struct {
	name  string
	attrs map[string]string
	text  string // character data directly inside it
}

// parseXML checks that doc is well-formed XML and returns its elements in document order.
func parseXML(t *testing.T, doc string) []*element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var els, stack []*element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &element{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements in\n%s", doc)
	}
	return els
}

func byName(els []*element, name string) []*element {
	var out []*element
	for _, e := range els {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

func attrF(t *testing.T, e *element, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attrs[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, name, e.attrs[name], err)
	}
	return v
}

func TestScatterSVGHasEveryFinitePointInPlace(t *testing.T) {
	xs := []float64{-1, 0, 2, math.NaN(), 3}
	ys := []float64{5, -2, 0, 1, math.Inf(1)}
	svg := NewPlot(`samples <a & b>`).Labels("a₀", "a₁").Scatter("mvp 1-step", xs, ys).SVG()
	els := parseXML(t, svg)
	if els[0].name != "svg" || els[0].attrs["xmlns"] != "http://www.w3.org/2000/svg" {
		t.Fatalf("root is <%s xmlns=%q>, want an SVG document", els[0].name, els[0].attrs["xmlns"])
	}
	var dots []*element
	for _, c := range byName(els, "circle") {
		if c.attrs["r"] == "1.8" {
			dots = append(dots, c)
		}
	}
	if len(dots) != 3 { // (NaN, 1) and (3, +Inf) are left out
		t.Fatalf("%d data circles, want 3", len(dots))
	}
	// Pixel positions keep the data's order: x grows to the right, y grows upwards.
	cx := []float64{attrF(t, dots[0], "cx"), attrF(t, dots[1], "cx"), attrF(t, dots[2], "cx")}
	cy := []float64{attrF(t, dots[0], "cy"), attrF(t, dots[1], "cy"), attrF(t, dots[2], "cy")}
	if !(cx[0] < cx[1] && cx[1] < cx[2]) {
		t.Errorf("cx = %v, want increasing like x = -1, 0, 2", cx)
	}
	if !(cy[0] < cy[2] && cy[2] < cy[1]) {
		t.Errorf("cy = %v, want y = 5 highest (smallest cy) and y = -2 lowest", cy)
	}
	// Linear mapping: equal data steps are equal pixel steps.
	if d1, d2 := cx[1]-cx[0], (cx[2]-cx[1])/2; math.Abs(d1-d2) > 0.15 {
		t.Errorf("x mapping not linear: %v vs %v px per unit", d1, d2)
	}
	// Inside the plot frame.
	for i := range cx {
		if cx[i] < padLeft || cx[i] > 360-padRight || cy[i] < padTop || cy[i] > 260-padBottom {
			t.Errorf("point %d at (%v, %v) is outside the plot area", i, cx[i], cy[i])
		}
	}
	var texts []string
	for _, e := range byName(els, "text") {
		texts = append(texts, e.text)
	}
	joined := strings.Join(texts, "|")
	for _, want := range []string{"samples <a & b>", "a₀", "a₁", "mvp 1-step"} {
		if !strings.Contains(joined, want) {
			t.Errorf("texts %q lack %q", joined, want)
		}
	}
}

func TestLineSVGBreaksAtNaNAndLogAxis(t *testing.T) {
	y := []float64{1, 0.1, math.NaN(), 0.01, 0.001, 0, -1}
	els := parseXML(t, NewPlot("loss").LogY().Line("mf", nil, y).SVG())
	lines := byName(els, "polyline")
	if len(lines) != 2 {
		t.Fatalf("%d polylines, want 2 (the NaN splits the curve; 0 and -1 are off a log axis)", len(lines))
	}
	if n0, n1 := len(strings.Fields(lines[0].attrs["points"])), len(strings.Fields(lines[1].attrs["points"])); n0 != 2 || n1 != 2 {
		t.Fatalf("polylines have %d and %d points, want 2 and 2", n0, n1)
	}
	// On a log axis the decades are equally spaced: 1 → 0.1 and 0.01 → 0.001 span the same height.
	pts := func(l *element) [][2]float64 {
		var out [][2]float64
		for _, f := range strings.Fields(l.attrs["points"]) {
			var x, y float64
			fmt.Sscanf(f, "%g,%g", &x, &y)
			out = append(out, [2]float64{x, y})
		}
		return out
	}
	a, b := pts(lines[0]), pts(lines[1])
	if d1, d2 := a[1][1]-a[0][1], b[1][1]-b[0][1]; math.Abs(d1-d2) > 0.15 || d1 <= 0 {
		t.Errorf("decade heights %v and %v px, want equal and positive (downwards)", d1, d2)
	}
	// Tick labels are the decades.
	var labels []string
	for _, e := range byName(els, "text") {
		labels = append(labels, e.text)
	}
	for _, want := range []string{"1", "0.1", "0.01"} {
		if !strings.Contains("|"+strings.Join(labels, "|")+"|", "|"+want+"|") {
			t.Errorf("tick labels %v lack %q", labels, want)
		}
	}
}

func TestEqualAxesHaveTheSameScale(t *testing.T) {
	// Data 10 wide and 1 high; with Equal, one unit must have the same pixel length on both axes.
	els := parseXML(t, NewPlot("").Equal().Scatter("", []float64{0, 10, 0}, []float64{0, 0, 1}).SVG())
	c := byName(els, "circle")
	sx := (attrF(t, c[1], "cx") - attrF(t, c[0], "cx")) / 10
	sy := attrF(t, c[0], "cy") - attrF(t, c[2], "cy")
	if math.Abs(sx-sy) > 0.15 {
		t.Fatalf("x scale %v px/unit, y scale %v px/unit: want equal", sx, sy)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{-0.3, 0.35, []float64{-0.2, 0, 0.2}},
		{-0.3, 0.35 * 2, []float64{-0.2, 0, 0.2, 0.4, 0.6}},
		{0, 5000, []float64{0, 1000, 2000, 3000, 4000, 5000}},
	} {
		got := niceTicks(tc.lo, tc.hi, 5)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9 {
				t.Errorf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
	if got := tickLabel(0.30000000000000004, 0.1); got != "0.3" {
		t.Errorf("tickLabel = %q, want 0.3", got)
	}
}

func TestTableEscapesAndFormats(t *testing.T) {
	h := Table([]string{"agent", "success"}, [][]any{{"mvp<λ=1>", 0.93333333}, {"flow & k=10", float32(0.5)}, {"n", 7}})
	els := parseXML(t, h)
	tds := byName(els, "td")
	if len(tds) != 6 || len(byName(els, "th")) != 2 {
		t.Fatalf("%d cells and %d headers, want 6 and 2", len(tds), len(byName(els, "th")))
	}
	want := []string{"mvp<λ=1>", "0.9333", "flow & k=10", "0.5", "n", "7"}
	for i, w := range want {
		if tds[i].text != w {
			t.Errorf("cell %d = %q, want %q", i, tds[i].text, w)
		}
	}
}

func TestLiveRecordsGroupsAndRenders(t *testing.T) {
	l := NewLive("train <mvp>", 1000).LogScale("loss").MaxPoints(50)
	for s := 1; s <= 1000; s++ {
		l.Log(s, map[string]float64{"loss/mf": 1 / float64(s), "loss/ivc": 2 / float64(s)})
		if s%100 == 0 {
			l.Log(s, map[string]float64{"success": float64(s) / 1000})
		}
	}
	l.Done()
	x, y := l.Series("loss/ivc")
	if len(x) != 1000 || x[9] != 10 || y[9] != 0.2 {
		t.Fatalf("loss/ivc recorded %d points, (x, y)[9] = (%v, %v); want 1000 and (10, 0.2)", len(x), x[9], y[9])
	}
	if v, ok := l.Last("success"); !ok || v != 1 {
		t.Fatalf("Last(success) = %v, %v; want 1, true", v, ok)
	}
	if _, ok := l.Last("nope"); ok {
		t.Fatal("Last of a key never logged reported ok")
	}
	els := parseXML(t, l.HTML())
	svgs := byName(els, "svg")
	if len(svgs) != 2 {
		t.Fatalf("%d panels, want 2 (loss, success)", len(svgs))
	}
	lines := byName(els, "polyline")
	if len(lines) != 3 {
		t.Fatalf("%d curves, want 3", len(lines))
	}
	for _, ln := range lines[:2] { // the loss curves are averaged down to at most 50 points
		if n := len(strings.Fields(ln.attrs["points"])); n > 50 || n < 40 {
			t.Errorf("loss curve drawn with %d points, want ≤ 50 and close to it", n)
		}
	}
	html := l.HTML()
	for _, want := range []string{"train &lt;mvp&gt;", "step 1000/1000", "done", "loss/mf = 0.001", "success = 1"} {
		if !strings.Contains(html, want) {
			t.Errorf("monitor HTML lacks %q", want)
		}
	}
}

func TestLiveSetProgressSeparatesRunsFromProgress(t *testing.T) {
	l := NewLive("", 200)
	for run, name := range []string{"a", "b"} {
		for i := 1; i <= 100; i++ {
			l.SetProgress(run*100 + i)
			l.Log(i, map[string]float64{"loss/" + name: float64(i)})
		}
	}
	if h := l.HTML(); !strings.Contains(h, "step 200/200") {
		t.Errorf("progress after two runs of 100: %q lacks step 200/200", h)
	}
	if x, _ := l.Series("loss/b"); len(x) != 100 || x[0] != 1 {
		t.Errorf("run b's curve starts at step %v with %d points, want 1 and 100", x[0], len(x))
	}
}

func TestBucketMean(t *testing.T) {
	got := bucketMean([]float64{1, 2, 3, 4, 5, math.NaN(), 7}, 3)
	want := []float64{2, 4.5, 7} // buckets of ceil(7/3) = 3: {1, 2, 3}, {4, 5, NaN}, {7}
	if len(got) != len(want) {
		t.Fatalf("bucketMean = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bucketMean = %v, want %v", got, want)
		}
	}
}

func TestGIFRoundTrip(t *testing.T) {
	var frames []image.Image
	base := NewCanvas(64, 48, 0, 4, 0, 3)
	for i := range 3 {
		c := base.Clone()
		c.Disc(1+float64(i), 1.5, 0.4, Hex("#d62728"))
		frames = append(frames, c.Image())
	}
	data, err := EncodeGIF(frames, 80*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the encoded GIF does not decode: %v", err)
	}
	if len(g.Image) != 3 || g.Delay[0] != 8 {
		t.Fatalf("%d frames with delay %d cs, want 3 and 8", len(g.Image), g.Delay[0])
	}
	// World x = 1 + i maps to pixel 16·(1+i); the disc is red there and the corner stays white.
	for i, im := range g.Image {
		r, gg, b, _ := im.At(16*(1+i), 24).RGBA()
		if r>>8 < 160 || gg>>8 > 90 || b>>8 > 90 {
			t.Errorf("frame %d: disc centre is (%d, %d, %d), want red", i, r>>8, gg>>8, b>>8)
		}
		if r, gg, b, _ := im.At(1, 1).RGBA(); r>>8 < 240 || gg>>8 < 240 || b>>8 < 240 {
			t.Errorf("frame %d: background is (%d, %d, %d), want white", i, r>>8, gg>>8, b>>8)
		}
	}
	if _, err := EncodeGIF(nil, time.Second); err == nil {
		t.Error("EncodeGIF with no frames gave no error")
	}
	h := ImgHTML("image/gif", data)
	if !strings.HasPrefix(h, `<img src="data:image/gif;base64,R0lGOD`) { // "GIF8" in base64
		t.Errorf("ImgHTML = %.60q…, want a base64 GIF data URL", h)
	}
}

func TestCanvasShapes(t *testing.T) {
	red := color.RGBA{255, 0, 0, 255}
	c := NewCanvas(100, 100, -1, 1, -1, 1)
	c.Square(0, 0, 0.5, math.Pi/4, red) // a diamond: its corners reach ±0.707 on the axes
	img := c.Image()
	isRed := func(x, y int) bool { r, g, _, _ := img.At(x, y).RGBA(); return r>>8 == 255 && g>>8 == 0 }
	if !isRed(50, 50) || !isRed(50+30, 50) || !isRed(50, 50-30) {
		t.Error("diamond centre or its axis points at 0.6 are not filled")
	}
	if isRed(50+21, 50-21) { // (0.42, 0.42) is outside a diamond of half-diagonal 0.707
		t.Error("the square was not turned: (0.42, 0.42) is filled")
	}
	c.Segment(-1, -0.9, 1, -0.9, 3, red)
	if !isRed(10, 95) || isRed(10, 90) {
		t.Error("segment at y = -0.9 is not where it should be")
	}
}

func TestDisplayIsANoOpOutsideANotebook(t *testing.T) {
	if IsNotebook() {
		t.Skip("running inside GoNB")
	}
	NewPlot("x").Line("a", nil, []float64{1, 2}).Show()
	ShowTable([]string{"a"}, [][]any{{1}})
	DisplayMarkdown("*x*")
	if err := ShowGIF(nil, time.Second); err != nil { // not even encoded outside a notebook
		t.Errorf("ShowGIF outside a notebook: %v", err)
	}
	l := NewLive("", 10)
	l.Log(1, map[string]float64{"a": 1})
	l.Done()
}

func ExampleTable() {
	fmt.Println(Table([]string{"λ", "W₂"}, [][]any{{0.0, 0.41234}, {1.0, 0.05}}))
	// Output:
	// <table style="border-collapse:collapse;font-family:sans-serif;font-size:13px"><thead><tr><th style="border-bottom:1px solid #888;padding:2px 8px;text-align:left">λ</th><th style="border-bottom:1px solid #888;padding:2px 8px;text-align:left">W₂</th></tr></thead><tbody><tr><td style="padding:2px 8px;text-align:right">0</td><td style="padding:2px 8px;text-align:right">0.4123</td></tr><tr><td style="padding:2px 8px;text-align:right">1</td><td style="padding:2px 8px;text-align:right">0.05</td></tr></tbody></table>
}

func ExampleColumn() {
	actions := []float32{0.1, -0.2, 0.3, -0.4} // two 2-D actions, flat
	fmt.Println(Column(actions, 2, 0), Column(actions, 2, 1))
	// Output: [0.10000000149011612 0.30000001192092896] [-0.20000000298023224 -0.4000000059604645]
}

func TestSegmentsSVG(t *testing.T) {
	els := parseXML(t, NewPlot("").Segments("moves", []float64{0, 1}, []float64{0, 1}, []float64{2, math.NaN()}, []float64{2, 0}).SVG())
	// Grid and legend lines are horizontal or vertical; the data segment is the only diagonal one.
	n := 0
	for _, e := range byName(els, "line") {
		if attrF(t, e, "x2") > attrF(t, e, "x1") && attrF(t, e, "y2") < attrF(t, e, "y1") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d rising segments, want 1 (the other has a NaN end)", n)
	}
}

func TestFollowRunLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	l := NewLive("", 0)
	stop := l.FollowRunLog(dir, map[string]string{"train/actor_loss": "loss/actor", "eval/success_rate": "success"}, 5*time.Millisecond)
	time.Sleep(20 * time.Millisecond) // the file does not exist yet: not an error
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"step":10,"phase":"train","time":"x","actor_loss":0.5,"critic_loss":3}`)
	fmt.Fprintln(f, `{"step":20,"phase":"train","time":"x","actor_loss":null}`)
	fmt.Fprint(f, `{"step":20,"phase":"eval","success_rate":0.25}`+"\n"+`{"step":30,"phase":"tr`) // last line unfinished
	f.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	x, y := l.Series("loss/actor")
	if len(x) != 2 || x[0] != 10 || y[0] != 0.5 || !math.IsNaN(y[1]) {
		t.Fatalf("loss/actor = %v, %v; want steps [10 20] and values [0.5 NaN]", x, y)
	}
	if v, ok := l.Last("success"); !ok || v != 0.25 {
		t.Fatalf("success = %v, %v; want 0.25", v, ok)
	}
	if _, ok := l.Last("critic_loss"); ok {
		t.Fatal("a metric not in keys was logged")
	}

	// A corrupt line is reported, naming the file.
	os.WriteFile(path, []byte("{not json}\n"), 0o644)
	stop = NewLive("", 0).FollowRunLog(dir, nil, time.Hour)
	if err := stop(); err == nil || !strings.Contains(err.Error(), "metrics.jsonl") {
		t.Fatalf("corrupt log: err = %v, want an error naming metrics.jsonl", err)
	}
}

func TestAskIntOutsideANotebookReturnsTheDefault(t *testing.T) {
	if IsNotebook() {
		t.Skip("running inside GoNB")
	}
	start := time.Now()
	if got := AskInt("weight", 0, 10, 4, time.Minute, time.Minute); got != 4 {
		t.Fatalf("AskInt = %d, want the default 4", got)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("AskInt waited outside a notebook")
	}
}

func TestBandSharesItsLineColourAndEnclosesIt(t *testing.T) {
	x := []float64{0, 1, 2, 3}
	m := []float64{0.2, 0.4, math.NaN(), 0.8}
	lo := []float64{0.1, 0.3, 0.5, 0.7}
	hi := []float64{0.3, 0.5, 0.7, 0.9}
	els := parseXML(t, NewPlot("").YRange(0, 1).Line("a", x, m).Band(x, lo, hi).Line("b", x, lo).SVG())
	polys := byName(els, "polygon")
	lines := byName(els, "polyline")
	if len(polys) != 1 || len(lines) != 3 { // "a" is split by its NaN; the band is not
		t.Fatalf("%d polygons and %d polylines, want 1 and 3", len(polys), len(lines))
	}
	if polys[0].attrs["fill"] != Palette[0] || lines[0].attrs["stroke"] != Palette[0] || lines[2].attrs["stroke"] != Palette[1] {
		t.Errorf("colours: band %s, line a %s, line b %s; want the band in a's colour and b in the next one",
			polys[0].attrs["fill"], lines[0].attrs["stroke"], lines[2].attrs["stroke"])
	}
	// Upper edge left to right, then the lower edge back: 8 points, the first above the last.
	var pts [][2]float64
	for _, f := range strings.Fields(polys[0].attrs["points"]) {
		var px, py float64
		fmt.Sscanf(f, "%g,%g", &px, &py)
		pts = append(pts, [2]float64{px, py})
	}
	if len(pts) != 8 || pts[0][0] != pts[7][0] || !(pts[0][1] < pts[7][1]) || !(pts[3][0] > pts[0][0]) {
		t.Errorf("band polygon %v", pts)
	}
}
