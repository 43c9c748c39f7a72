package toy

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"math"
)

// The renderer draws into paletted images with a fixed palette, so PNG and GIF frames need no
// quantisation and every frame of an episode shares one colour table.
var palette = color.Palette{
	color.RGBA{255, 255, 255, 255}, // background
	color.RGBA{0, 0, 0, 255},
	color.RGBA{222, 222, 215, 255}, // table / arena
	color.RGBA{110, 110, 110, 255}, // obstacles, shadows
	color.RGBA{60, 170, 80, 255},   // goal
	color.RGBA{210, 50, 40, 255},   // cube
	color.RGBA{240, 140, 120, 255}, // lifted cube
	color.RGBA{40, 80, 200, 255},   // effector, agent
	color.RGBA{150, 180, 240, 255}, // open fingers, trail
	color.RGBA{170, 230, 180, 255}, // goal fill
}

const (
	colBackground = iota
	colBlack
	colTable
	colGrey
	colGoal
	colCube
	colCubeLifted
	colEffector
	colLight
	colGoalFill
)

// canvas maps world coordinates to pixels: world point (a, b) goes to column (b−b0)·scale and
// row (a−a0)·scale, so "a" runs down the image.
type canvas struct {
	img        *image.Paletted
	a0, b0, sc float64
}

func newCanvas(size int, a0, b0, span float64) *canvas {
	img := image.NewPaletted(image.Rect(0, 0, size, size), palette)
	return &canvas{img: img, a0: a0, b0: b0, sc: float64(size) / span}
}

func (c *canvas) px(a, b float64) (float64, float64) { return (b - c.b0) * c.sc, (a - c.a0) * c.sc }

// fill colours every pixel whose centre's world point satisfies inside.
func (c *canvas) fill(aLo, aHi, bLo, bHi float64, col uint8, inside func(a, b float64) bool) {
	x0, y0 := c.px(aLo, bLo)
	x1, y1 := c.px(aHi, bHi)
	r := c.img.Bounds()
	for y := max(r.Min.Y, int(math.Floor(y0))); y <= min(r.Max.Y-1, int(math.Ceil(y1))); y++ {
		for x := max(r.Min.X, int(math.Floor(x0))); x <= min(r.Max.X-1, int(math.Ceil(x1))); x++ {
			a := c.a0 + (float64(y)+0.5)/c.sc
			b := c.b0 + (float64(x)+0.5)/c.sc
			if inside(a, b) {
				c.img.SetColorIndex(x, y, col)
			}
		}
	}
}

func (c *canvas) disc(a, b, r float64, col uint8) {
	c.fill(a-r, a+r, b-r, b+r, col, func(x, y float64) bool { return (x-a)*(x-a)+(y-b)*(y-b) <= r*r })
}

func (c *canvas) ring(a, b, r, width float64, col uint8) {
	c.fill(a-r, a+r, b-r, b+r, col, func(x, y float64) bool {
		d := math.Hypot(x-a, y-b)
		return d <= r && d >= r-width
	})
}

// square fills a square of half side h centred at (a, b), turned by yaw.
func (c *canvas) square(a, b, h, yaw float64, col uint8) {
	s, co := math.Sincos(yaw)
	r := h * math.Sqrt2
	c.fill(a-r, a+r, b-r, b+r, col, func(x, y float64) bool {
		dx, dy := x-a, y-b
		u, v := co*dx+s*dy, -s*dx+co*dy
		return math.Abs(u) <= h && math.Abs(v) <= h
	})
}

// Render draws the workspace from above: the table, the goal (success radius), the cube (lighter
// and with a shadow when lifted), the gripper's fingers (closer together when closed), and on the
// right edge a height gauge with the effector (blue) and cube (red) heights.
func (c *Cube) Render(size int) *image.Paletted {
	cv := newCanvas(size, cubeCenter[0]-0.4, -0.4, 0.8)
	cv.fill(cubeLo[0], cubeHi[0], cubeLo[1], cubeHi[1], colTable, func(a, b float64) bool { return true })
	cv.disc(c.goal[0], c.goal[1], CubeSuccessRadius, colGoalFill)
	cv.ring(c.goal[0], c.goal[1], CubeSuccessRadius, 0.004, colGoal)
	col := uint8(colCube)
	if c.cube[2] > cubeHalf+0.002 {
		cv.square(c.cube[0]+0.3*(c.cube[2]-cubeHalf), c.cube[1], cubeHalf, c.cubeYaw, colGrey)
		col = colCubeLifted
	}
	cv.square(c.cube[0], c.cube[1], cubeHalf, c.cubeYaw, col)
	// Fingers sit across the gripper's yaw, 5 cm apart when open, touching the cube when closed.
	s, co := math.Sincos(c.yaw)
	sep := 0.05 - 0.03*c.closure
	fcol := uint8(colLight)
	if c.closure >= 0.5 {
		fcol = colEffector
	}
	for _, side := range []float64{-1, 1} {
		fa, fb := c.eff[0]+side*sep/2*co, c.eff[1]+side*sep/2*s
		cv.square(fa, fb, 0.006, c.yaw, fcol)
	}
	cv.disc(c.eff[0], c.eff[1], 0.004+0.02*c.eff[2], colEffector)
	// Height gauge: 0 … 0.35 m from bottom to top.
	gauge := func(z float64, col uint8, b float64) {
		a := cv.a0 + 0.78 - 0.76*z/cubeHi[2]
		cv.fill(a-0.006, a+0.006, b-0.008, b+0.008, col, func(x, y float64) bool { return true })
	}
	cv.fill(cv.a0+0.02, cv.a0+0.78, 0.381, 0.383, colBlack, func(a, b float64) bool { return true })
	gauge(c.eff[2], colEffector, 0.372)
	gauge(c.cube[2], colCube, 0.392)
	return cv.img
}

// Render draws the arena, the obstacles, the goal disc and the point mass with its velocity.
func (p *PointMass) Render(size int) *image.Paletted {
	cv := newCanvas(size, -1, -1, 2)
	// The image's rows run along x here; draw with a ↔ y flipped so that +y is up and +x is right.
	world := func(x, y float64) (float64, float64) { return -y, x }
	cv.fill(-1, 1, -1, 1, colTable, func(a, b float64) bool { return true })
	for _, o := range pointMassObstacles {
		a, b := world(o[0], o[1])
		cv.disc(a, b, o[2], colGrey)
	}
	ga, gb := world(PointMassGoal[0], PointMassGoal[1])
	cv.disc(ga, gb, PointMassGoalRadius, colGoalFill)
	cv.ring(ga, gb, PointMassGoalRadius, 0.01, colGoal)
	a, b := world(p.pos[0], p.pos[1])
	for k := 1; k <= 8; k++ { // velocity, drawn 4 steps ahead
		va, vb := world(p.pos[0]+4*p.vel[0]*float64(k)/8, p.pos[1]+4*p.vel[1]*float64(k)/8)
		cv.disc(va, vb, 0.01, colLight)
	}
	cv.disc(a, b, 0.04, colEffector)
	return cv.img
}

// RenderPNG writes the task's current state as a size×size PNG.
func RenderPNG(w io.Writer, task Task, size int) error {
	if size < 16 {
		return fmt.Errorf("toy: RenderPNG: size %d is too small", size)
	}
	return png.Encode(w, task.Render(size))
}

// Policy maps an observation to an action (written into action).
type Policy func(observation, action []float32) error

// EpisodeResult summarises one episode.
type EpisodeResult struct {
	Steps   int
	Return  float64
	Success bool
}

// RunEpisode plays one episode of task from seed with policy, calling frame (if not nil) on the
// initial state and after every step.
func RunEpisode(task Task, seed int64, policy Policy, frame func(Task)) (EpisodeResult, error) {
	var res EpisodeResult
	obs, err := task.Reset(seed)
	if err != nil {
		return res, err
	}
	if frame != nil {
		frame(task)
	}
	action := make([]float32, task.ActionDim())
	for {
		if err := policy(obs, action); err != nil {
			return res, fmt.Errorf("toy: policy at step %d: %w", res.Steps, err)
		}
		st, err := task.Step(action)
		if err != nil {
			return res, err
		}
		res.Steps++
		res.Return += st.Reward
		obs = st.Observation
		if frame != nil {
			frame(task)
		}
		if st.Success {
			res.Success = true
		}
		if st.Terminated || st.Truncated {
			return res, nil
		}
	}
}

// RenderEpisodeGIF plays one episode with policy and writes it as an animated GIF of size×size
// frames, delay hundredths of a second apart (the last frame is held for a second).
func RenderEpisodeGIF(w io.Writer, task Task, seed int64, policy Policy, size, delay int) (EpisodeResult, error) {
	if size < 16 {
		return EpisodeResult{}, fmt.Errorf("toy: RenderEpisodeGIF: size %d is too small", size)
	}
	anim := &gif.GIF{}
	res, err := RunEpisode(task, seed, policy, func(t Task) {
		anim.Image = append(anim.Image, t.Render(size))
		anim.Delay = append(anim.Delay, delay)
	})
	if err != nil {
		return res, err
	}
	anim.Delay[len(anim.Delay)-1] = 100
	return res, gif.EncodeAll(w, anim)
}

// DemoPolicy returns the task's scripted demonstrator as a Policy for one episode (noise and
// mistakes per cfg), to show what the data look like. It reads the task's state rather than the
// observation, so it must drive the same task value. With seed equal to Generate's episode seed
// (cfg.Seed·1000003 + episode) and the task reset from that seed, it replays that demonstration.
func DemoPolicy(task Task, cfg DemoConfig, seed int64) Policy {
	d := task.newDemonstrator(cfg)
	started := false
	return func(obs, action []float32) error {
		if !started {
			d.reset(seededRand(seed, 2))
			started = true
		}
		d.act(action)
		return nil
	}
}
