package nb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// EncodeGIF encodes frames as a looping animated GIF showing each frame for delay. Colours are
// mapped to the nearest colour of a fixed 256-colour palette (no dithering, so flat drawings stay
// flat and the file small).
func EncodeGIF(frames []image.Image, delay time.Duration) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("nb.EncodeGIF: no frames")
	}
	cs := max(1, int(delay/(10*time.Millisecond))) // GIF delays are in hundredths of a second
	anim := &gif.GIF{}
	for i, f := range frames {
		if f == nil {
			return nil, fmt.Errorf("nb.EncodeGIF: frame %d is nil", i)
		}
		pi := image.NewPaletted(f.Bounds(), palette.Plan9)
		draw.Draw(pi, f.Bounds(), f, f.Bounds().Min, draw.Src)
		anim.Image = append(anim.Image, pi)
		anim.Delay = append(anim.Delay, cs)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, fmt.Errorf("nb.EncodeGIF: %w", err)
	}
	return buf.Bytes(), nil
}

// ImgHTML embeds an encoded image (mime "image/gif", "image/png" …) as a base64 <img> element, so
// that it travels inside the notebook file.
func ImgHTML(mime string, data []byte) string {
	return fmt.Sprintf(`<img src="data:%s;base64,%s"/>`, mime, base64.StdEncoding.EncodeToString(data))
}

// ShowGIF encodes frames (see EncodeGIF) and displays the animation.
func ShowGIF(frames []image.Image, delay time.Duration) error {
	if !IsNotebook() {
		return nil
	}
	data, err := EncodeGIF(frames, delay)
	if err != nil {
		return err
	}
	DisplayHTML(ImgHTML("image/gif", data))
	return nil
}

// ShowImage displays img as a PNG output.
func ShowImage(img image.Image) error {
	if !IsNotebook() {
		return nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("nb.ShowImage: %w", err)
	}
	gonbui.DisplayPNG(buf.Bytes())
	gonbui.Sync()
	return nil
}

// Canvas draws simple shapes in world coordinates onto a raster image: enough for top-down frames of
// a rollout (effector, object, goal). The world rectangle [x0, x1] × [y0, y1] fills the image, with
// y pointing up.
type Canvas struct {
	img            *image.RGBA
	x0, x1, y0, y1 float64
}

// NewCanvas returns a white width×height canvas showing the world rectangle [x0, x1] × [y0, y1].
func NewCanvas(width, height int, x0, x1, y0, y1 float64) *Canvas {
	c := &Canvas{img: image.NewRGBA(image.Rect(0, 0, width, height)), x0: x0, x1: x1, y0: y0, y1: y1}
	c.Fill(color.White)
	return c
}

// Image returns the drawing so far (shared, not copied: clone it if drawing continues).
func (c *Canvas) Image() image.Image { return c.img }

// Fill paints the whole canvas.
func (c *Canvas) Fill(col color.Color) {
	draw.Draw(c.img, c.img.Bounds(), image.NewUniform(col), image.Point{}, draw.Src)
}

func (c *Canvas) toPixel(x, y float64) (float64, float64) {
	b := c.img.Bounds()
	return (x - c.x0) / (c.x1 - c.x0) * float64(b.Dx()), (c.y1 - y) / (c.y1 - c.y0) * float64(b.Dy())
}

// scale is pixels per world unit along x.
func (c *Canvas) scale() float64 { return float64(c.img.Bounds().Dx()) / (c.x1 - c.x0) }

// fillWhere paints every pixel of the bounding box [px0, px1] × [py0, py1] whose centre is inside.
func (c *Canvas) fillWhere(px0, py0, px1, py1 float64, col color.Color, inside func(px, py float64) bool) {
	b := c.img.Bounds()
	for py := max(b.Min.Y, int(math.Floor(py0))); py <= min(b.Max.Y-1, int(math.Ceil(py1))); py++ {
		for px := max(b.Min.X, int(math.Floor(px0))); px <= min(b.Max.X-1, int(math.Ceil(px1))); px++ {
			if inside(float64(px)+0.5, float64(py)+0.5) {
				c.img.Set(px, py, col)
			}
		}
	}
}

// Disc draws a filled circle of world radius r centred at (x, y).
func (c *Canvas) Disc(x, y, r float64, col color.Color) {
	cx, cy := c.toPixel(x, y)
	pr := r * c.scale()
	c.fillWhere(cx-pr, cy-pr, cx+pr, cy+pr, col, func(px, py float64) bool {
		return (px-cx)*(px-cx)+(py-cy)*(py-cy) <= pr*pr
	})
}

// Ring draws a circle outline of world radius r, width pixels wide.
func (c *Canvas) Ring(x, y, r, width float64, col color.Color) {
	cx, cy := c.toPixel(x, y)
	pr := r * c.scale()
	c.fillWhere(cx-pr-width, cy-pr-width, cx+pr+width, cy+pr+width, col, func(px, py float64) bool {
		return math.Abs(math.Hypot(px-cx, py-cy)-pr) <= width/2
	})
}

// Square draws a filled square of world half-side half centred at (x, y), turned by yaw radians.
func (c *Canvas) Square(x, y, half, yaw float64, col color.Color) {
	cx, cy := c.toPixel(x, y)
	ph := half * c.scale()
	cos, sin := math.Cos(yaw), math.Sin(yaw)
	ext := ph * math.Sqrt2
	c.fillWhere(cx-ext, cy-ext, cx+ext, cy+ext, col, func(px, py float64) bool {
		dx, dy := px-cx, -(py - cy) // back to y up before undoing the rotation
		u, v := cos*dx+sin*dy, -sin*dx+cos*dy
		return math.Abs(u) <= ph && math.Abs(v) <= ph
	})
}

// Segment draws a line from (xa, ya) to (xb, yb), width pixels wide.
func (c *Canvas) Segment(xa, ya, xb, yb, width float64, col color.Color) {
	ax, ay := c.toPixel(xa, ya)
	bx, by := c.toPixel(xb, yb)
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	w := width / 2
	c.fillWhere(min(ax, bx)-w, min(ay, by)-w, max(ax, bx)+w, max(ay, by)+w, col, func(px, py float64) bool {
		t := 0.0
		if l2 > 0 {
			t = math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/l2))
		}
		qx, qy := ax+t*dx-px, ay+t*dy-py
		return qx*qx+qy*qy <= w*w
	})
}

// Bar draws a horizontal progress bar along the bottom edge of the canvas, filled to frac ∈ [0, 1]
// (the time step of a rollout frame).
func (c *Canvas) Bar(frac float64, col color.Color) {
	b := c.img.Bounds()
	w := int(math.Round(math.Max(0, math.Min(1, frac)) * float64(b.Dx())))
	draw.Draw(c.img, image.Rect(b.Min.X, b.Max.Y-3, b.Min.X+w, b.Max.Y), image.NewUniform(col), image.Point{}, draw.Src)
}

// Clone returns an independent copy of the canvas, to draw the next frame on top of a common
// background.
func (c *Canvas) Clone() *Canvas {
	img := image.NewRGBA(c.img.Bounds())
	copy(img.Pix, c.img.Pix)
	return &Canvas{img: img, x0: c.x0, x1: c.x1, y0: c.y0, y1: c.y1}
}

// Hex parses "#rrggbb" into a colour, for drawing with Palette's colours. It panics on a malformed
// string, which is a programming error in a literal.
func Hex(s string) color.RGBA {
	var r, g, b uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err != nil || len(s) != 7 {
		panic(fmt.Sprintf("nb.Hex: %q is not #rrggbb", s))
	}
	return color.RGBA{R: r, G: g, B: b, A: 255}
}
