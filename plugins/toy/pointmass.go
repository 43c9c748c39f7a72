package toy

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomvp/gomvp/plugins"
)

// PointMass is a 2D navigation task in the square [−1, 1]²: a point mass with velocity starts on the
// left and must reach a goal disc on the right; a large disc obstacle blocks the straight line and
// smaller ones narrow the ways around it, so demonstrations pass above or below.
//
// Action (2, in [−1, 1]): the commanded velocity; the velocity moves a fifth of the way towards
// PointMassMaxSpeed·action each step (v ← 0.8·v + 0.2·PointMassMaxSpeed·a), then the position moves
// by v. Obstacles and walls stop the motion into them.
//
// Observation (4): position x, y and velocity vx, vy (also Qpos and Qvel).
// Reward 0 inside the goal disc (success, terminates), else −1; truncated after PointMassMaxSteps.
type PointMass struct {
	pos, vel [2]float64
	t        int
	done     bool
}

const (
	// PointMassMaxSteps is the time limit.
	PointMassMaxSteps = 100
	// PointMassMaxSpeed is the largest speed, per step.
	PointMassMaxSpeed = 0.08
	// PointMassGoalRadius is the radius of the goal disc.
	PointMassGoalRadius = 0.1
)

// PointMassGoal is the centre of the goal disc.
var PointMassGoal = [2]float64{0.8, 0}

// Obstacles are discs (x, y, radius).
var pointMassObstacles = [][3]float64{
	{0, 0, 0.35},
	{-0.3, 0.62, 0.14}, {-0.3, -0.62, 0.14},
	{0.4, 0.6, 0.16}, {0.4, -0.6, 0.16},
}

// NewPointMass returns the point-mass task. Call Reset before Step.
func NewPointMass() *PointMass { return &PointMass{done: true} }

func (p *PointMass) Name() string         { return "pointmass" }
func (p *PointMass) ObservationDim() int  { return 4 }
func (p *PointMass) ActionDim() int       { return 2 }
func (p *PointMass) MaxEpisodeSteps() int { return PointMassMaxSteps }
func (p *PointMass) QposDim() int         { return 2 }
func (p *PointMass) QvelDim() int         { return 2 }
func (p *PointMass) Close() error         { return nil }
func (p *PointMass) resume()              { p.done = false }

// Obstacles returns the obstacle discs as (x, y, radius).
func (p *PointMass) Obstacles() [][3]float64 { return pointMassObstacles }

// Reset starts an episode at rest near (−0.8, 0).
func (p *PointMass) Reset(seed int64) ([]float32, error) {
	rng := seededRand(seed, 3)
	p.pos = [2]float64{-0.8 + 0.1*(rng.Float64()-0.5), 0.3 * (rng.Float64() - 0.5)}
	p.vel = [2]float64{}
	p.t, p.done = 0, false
	return p.observe(), nil
}

// Step applies one action. Stepping a finished episode is an error.
func (p *PointMass) Step(action []float32) (plugins.Step, error) {
	if p.done {
		return plugins.Step{}, fmt.Errorf("toy pointmass: Step after the episode ended; call Reset")
	}
	if err := checkAction("pointmass", action, 2); err != nil {
		return plugins.Step{}, err
	}
	for i := range 2 {
		p.vel[i] = 0.8*p.vel[i] + 0.2*PointMassMaxSpeed*clamp(float64(action[i]), -1, 1)
	}
	next := [2]float64{p.pos[0] + p.vel[0], p.pos[1] + p.vel[1]}
	for i := range 2 {
		if next[i] < -1 || next[i] > 1 {
			next[i] = clamp(next[i], -1, 1)
			p.vel[i] = 0
		}
	}
	for _, o := range pointMassObstacles {
		dx, dy := next[0]-o[0], next[1]-o[1]
		d := math.Hypot(dx, dy)
		if d < o[2] {
			// Put the mass back on the rim and drop the velocity's inward part: it slides along.
			nx, ny := dx/(d+1e-12), dy/(d+1e-12)
			next = [2]float64{o[0] + nx*o[2], o[1] + ny*o[2]}
			if vn := p.vel[0]*nx + p.vel[1]*ny; vn < 0 {
				p.vel[0] -= vn * nx
				p.vel[1] -= vn * ny
			}
		}
	}
	p.pos = next
	p.t++
	st := plugins.Step{Observation: p.observe(), Reward: -1}
	if p.Success() {
		st.Reward, st.Success, st.Terminated = 0, true, true
	} else if p.t >= PointMassMaxSteps {
		st.Truncated = true
	}
	p.done = st.Terminated || st.Truncated
	return st, nil
}

func (p *PointMass) observe() []float32 {
	return []float32{float32(p.pos[0]), float32(p.pos[1]), float32(p.vel[0]), float32(p.vel[1])}
}

// Success: the mass is inside the goal disc.
func (p *PointMass) Success() bool {
	return math.Hypot(p.pos[0]-PointMassGoal[0], p.pos[1]-PointMassGoal[1]) <= PointMassGoalRadius
}

func (p *PointMass) SuccessFromQpos(q []float32) bool {
	return math.Hypot(float64(q[0])-PointMassGoal[0], float64(q[1])-PointMassGoal[1]) <= PointMassGoalRadius
}

func (p *PointMass) Qpos() []float32 { return []float32{float32(p.pos[0]), float32(p.pos[1])} }
func (p *PointMass) Qvel() []float32 { return []float32{float32(p.vel[0]), float32(p.vel[1])} }

// pointMassDemo follows one of two routes (above or below the central obstacle) through noisy
// waypoints; with probability DemoConfig.Stuck it first heads straight into the central obstacle,
// and half of those never find the way around.
type pointMassDemo struct {
	p         *PointMass
	cfg       DemoConfig
	rng       *rand.Rand
	waypoints [][2]float64
	next      int
	stuckFor  int // steps left pushing straight at the goal; −1 forever
	gain      float64
}

func (p *PointMass) newDemonstrator(cfg DemoConfig) demonstrator {
	return &pointMassDemo{p: p, cfg: cfg}
}

func (d *pointMassDemo) reset(rng *rand.Rand) {
	d.rng = rng
	side := 1.0
	if rng.Float64() < 0.5 {
		side = -1
	}
	jit := func() float64 { return 0.05 * rng.NormFloat64() }
	d.waypoints = [][2]float64{
		{-0.45 + jit(), side * (0.3 + jit())},
		{0.0 + jit(), side * (0.5 + 0.05*rng.Float64())},
		{0.45 + jit(), side * (0.3 + jit())},
		PointMassGoal,
	}
	d.next = 0
	d.stuckFor = 0
	if rng.Float64() < d.cfg.Stuck {
		d.stuckFor = 15 + rng.IntN(20)
		if rng.Float64() < 0.5 {
			d.stuckFor = -1
		}
	}
	d.gain = 0.7 + 0.3*rng.Float64()
}

func (d *pointMassDemo) act(a []float32) {
	p := d.p
	target := [2]float64{0, 0} // the obstacle's centre: pushing at it radially goes nowhere
	if d.stuckFor == 0 {
		for d.next < len(d.waypoints)-1 && math.Hypot(p.pos[0]-d.waypoints[d.next][0], p.pos[1]-d.waypoints[d.next][1]) < 0.12 {
			d.next++
		}
		target = d.waypoints[d.next]
	} else if d.stuckFor > 0 {
		d.stuckFor--
	}
	dx, dy := target[0]-p.pos[0], target[1]-p.pos[1]
	n := math.Hypot(dx, dy) + 1e-9
	// Full speed towards the target, slowing down within 0.2 of it.
	s := d.gain * min(1, n/0.2)
	a[0] = float32(clamp(s*dx/n+d.cfg.Noise*d.rng.NormFloat64(), -1, 1))
	a[1] = float32(clamp(s*dy/n+d.cfg.Noise*d.rng.NormFloat64(), -1, 1))
}
