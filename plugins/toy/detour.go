package toy

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gomvp/gomvp/plugins"
)

// Detour is the smallest task on which averaging the modes of the data fails: a point mass starts
// on the left of the square [−1, 1]², a round barrier stands between it and the goal on the right,
// and the demonstrations go around the barrier above or below it with equal probability. At the
// start the demonstrated action is one of two directions about 100° apart; their mean points
// straight at the barrier. Touching the barrier wrecks the mass: it stays where it hit for the rest
// of the episode, which then fails.
//
// A deterministic regressor of the actions (behaviour cloning), and a flow policy sampled with one
// Euler step (which returns the conditional mean), drive into the barrier; a policy that samples one
// mode and keeps to it succeeds.
//
// Action (2, in [−1, 1]): the displacement, DetourSpeed·a per step. There is no inertia.
// Observation (3): position x, y and a wrecked flag (1 after touching the barrier).
// Reward 0 inside the goal disc (success, terminates), else −1; truncated after DetourMaxSteps.
type Detour struct {
	pos, vel [2]float64
	wrecked  bool
	t        int
	done     bool
	trail    [][2]float64 // positions since the reset, for rendering
}

const (
	// DetourMaxSteps is the time limit; a demonstration takes about 25 steps.
	DetourMaxSteps = 60
	// DetourSpeed is the largest displacement per step and coordinate.
	DetourSpeed = 0.1
	// DetourGoalRadius is the radius of the goal disc.
	DetourGoalRadius = 0.12
	// DetourBarrierRadius is the radius of the barrier, centred at the origin.
	DetourBarrierRadius = 0.4
)

// DetourGoal is the centre of the goal disc.
var DetourGoal = [2]float64{0.75, 0}

// NewDetour returns the detour task. Call Reset before Step.
func NewDetour() *Detour { return &Detour{done: true} }

func (d *Detour) Name() string         { return "detour" }
func (d *Detour) ObservationDim() int  { return 3 }
func (d *Detour) ActionDim() int       { return 2 }
func (d *Detour) MaxEpisodeSteps() int { return DetourMaxSteps }
func (d *Detour) QposDim() int         { return 3 }
func (d *Detour) QvelDim() int         { return 2 }
func (d *Detour) Close() error         { return nil }
func (d *Detour) resume()              { d.done = false }

// Reset starts an episode at rest near (−0.65, 0), 0.25 from the barrier, so that the mean of the
// two ways' first actions hits it within one chunk of five steps, as does any first chunk whose
// sideways action stays below about 0.6; the start varies too little to tell which way a
// demonstration will go.
func (d *Detour) Reset(seed int64) ([]float32, error) {
	rng := seededRand(seed, 5)
	d.pos = [2]float64{-0.65 + 0.05*(rng.Float64()-0.5), 0.1 * (rng.Float64() - 0.5)}
	d.vel = [2]float64{}
	d.wrecked = false
	d.t, d.done = 0, false
	d.trail = append(d.trail[:0], d.pos)
	return d.observe(), nil
}

// Step applies one action. Stepping a finished episode is an error.
func (d *Detour) Step(action []float32) (plugins.Step, error) {
	if d.done {
		return plugins.Step{}, fmt.Errorf("toy detour: Step after the episode ended; call Reset")
	}
	if err := checkAction("detour", action, 2); err != nil {
		return plugins.Step{}, err
	}
	prev := d.pos
	if !d.wrecked {
		next := [2]float64{
			clamp(d.pos[0]+DetourSpeed*clamp(float64(action[0]), -1, 1), -1, 1),
			clamp(d.pos[1]+DetourSpeed*clamp(float64(action[1]), -1, 1), -1, 1),
		}
		if p, hit := barrierHit(d.pos, next); hit {
			next, d.wrecked = p, true
		}
		d.pos = next
	}
	d.vel = [2]float64{d.pos[0] - prev[0], d.pos[1] - prev[1]}
	d.trail = append(d.trail, d.pos)
	d.t++
	st := plugins.Step{Observation: d.observe(), Reward: -1}
	if d.Success() {
		st.Reward, st.Success, st.Terminated = 0, true, true
	} else if d.t >= DetourMaxSteps {
		st.Truncated = true
	}
	d.done = st.Terminated || st.Truncated
	return st, nil
}

// barrierHit tells whether the straight move from p to q touches the barrier and, if so, returns
// the first point of contact (on the rim), so that a fast move cannot jump through it.
func barrierHit(p, q [2]float64) ([2]float64, bool) {
	// |p + s·(q − p)|² = R² for the smallest s in [0, 1].
	dx, dy := q[0]-p[0], q[1]-p[1]
	a := dx*dx + dy*dy
	b := 2 * (p[0]*dx + p[1]*dy)
	c := p[0]*p[0] + p[1]*p[1] - DetourBarrierRadius*DetourBarrierRadius
	if c <= 0 {
		return p, true
	}
	disc := b*b - 4*a*c
	if a == 0 || disc < 0 {
		return q, false
	}
	s := (-b - math.Sqrt(disc)) / (2 * a)
	if s < 0 || s > 1 {
		return q, false
	}
	return [2]float64{p[0] + s*dx, p[1] + s*dy}, true
}

func (d *Detour) observe() []float32 {
	w := float32(0)
	if d.wrecked {
		w = 1
	}
	return []float32{float32(d.pos[0]), float32(d.pos[1]), w}
}

// Success: the mass is inside the goal disc (a wrecked mass never is: it stops on the barrier).
func (d *Detour) Success() bool {
	return math.Hypot(d.pos[0]-DetourGoal[0], d.pos[1]-DetourGoal[1]) <= DetourGoalRadius
}

func (d *Detour) SuccessFromQpos(q []float32) bool {
	return math.Hypot(float64(q[0])-DetourGoal[0], float64(q[1])-DetourGoal[1]) <= DetourGoalRadius
}

// Wrecked tells whether the mass has touched the barrier in this episode.
func (d *Detour) Wrecked() bool { return d.wrecked }

func (d *Detour) Qpos() []float32 { return d.observe() }
func (d *Detour) Qvel() []float32 { return []float32{float32(d.vel[0]), float32(d.vel[1])} }

// Render draws the arena, the barrier, the goal disc, the path so far and the mass (red once
// wrecked).
func (d *Detour) Render(size int) *image.Paletted {
	cv := newCanvas(size, -1, -1, 2)
	// Rows run along −y, columns along x, so that +y is up and +x is right.
	world := func(x, y float64) (float64, float64) { return -y, x }
	cv.fill(-1, 1, -1, 1, colTable, func(a, b float64) bool { return true })
	ba, bb := world(0, 0)
	cv.disc(ba, bb, DetourBarrierRadius, colGrey)
	ga, gb := world(DetourGoal[0], DetourGoal[1])
	cv.disc(ga, gb, DetourGoalRadius, colGoalFill)
	cv.ring(ga, gb, DetourGoalRadius, 0.01, colGoal)
	for _, p := range d.trail {
		a, b := world(p[0], p[1])
		cv.disc(a, b, 0.012, colLight)
	}
	a, b := world(d.pos[0], d.pos[1])
	col := uint8(colEffector)
	if d.wrecked {
		col = colCube
	}
	cv.disc(a, b, 0.04, col)
	return cv.img
}

// detourDemo goes around the barrier through noisy waypoints on a side drawn per episode (above or
// below, equally likely); with probability DemoConfig.Straight it heads straight for the goal
// instead and wrecks the mass on the barrier, then keeps pushing until the time limit, so that the
// data show the critic what the mean action leads to.
type detourDemo struct {
	d         *Detour
	cfg       DemoConfig
	rng       *rand.Rand
	waypoints [][2]float64
	next      int
	gain      float64
}

func (d *Detour) newDemonstrator(cfg DemoConfig) demonstrator { return &detourDemo{d: d, cfg: cfg} }

func (m *detourDemo) reset(rng *rand.Rand) {
	m.rng = rng
	side := 1.0
	if rng.Float64() < 0.5 {
		side = -1
	}
	jit := func() float64 { return 0.03 * rng.NormFloat64() }
	m.waypoints = [][2]float64{
		{-0.3 + jit(), side * (0.52 + jit())},
		{0.3 + jit(), side * (0.6 + jit())},
		DetourGoal,
	}
	if rng.Float64() < m.cfg.Straight {
		m.waypoints = [][2]float64{DetourGoal}
	}
	m.next = 0
	m.gain = 0.8 + 0.2*rng.Float64()
}

func (m *detourDemo) act(a []float32) {
	p := m.d.pos
	for m.next < len(m.waypoints)-1 && math.Hypot(p[0]-m.waypoints[m.next][0], p[1]-m.waypoints[m.next][1]) < 0.15 {
		m.next++
	}
	target := m.waypoints[m.next]
	dx, dy := target[0]-p[0], target[1]-p[1]
	n := math.Hypot(dx, dy) + 1e-9
	// Full speed along the direction to the target (the larger coordinate at the gain), slowing
	// down within 0.1 of it.
	s := m.gain * min(1, n/0.1) / max(math.Abs(dx), math.Abs(dy), 1e-9) * n
	a[0] = float32(clamp(s*dx/n+m.cfg.Noise*m.rng.NormFloat64(), -1, 1))
	a[1] = float32(clamp(s*dy/n+m.cfg.Noise*m.rng.NormFloat64(), -1, 1))
}
