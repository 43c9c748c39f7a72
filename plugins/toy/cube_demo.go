package toy

import (
	"math"
	"math/rand/v2"
)

// cubeDemo is the scripted pick-and-place demonstrator. Each episode draws a grasp side (two yaws a
// quarter turn apart), an approach (descend above the cube or on the way), a carry height and route
// (straight or bowed), a speed, and its mistakes (DemoConfig.MissGrasp, Retry, WrongPlace).
type cubeDemo struct {
	c   *Cube
	cfg DemoConfig
	rng *rand.Rand

	phase           cubePhase
	steps           int // steps spent in the current phase
	yawSide         float64
	yawGoal         float64
	approachZ       float64
	graspZ          float64
	carryZ          float64
	speed           float64
	miss, retry     bool
	place           [3]float64
	via             [2]float64
	useVia, viaDone bool
}

type cubePhase int

const (
	phaseReach cubePhase = iota
	phaseDescend
	phaseClose
	phaseLift
	phaseCarry
	phaseLower
	phaseRelease
	phaseRetreat
	phaseReopen
)

func (c *Cube) newDemonstrator(cfg DemoConfig) demonstrator { return &cubeDemo{c: c, cfg: cfg} }

func (d *cubeDemo) reset(rng *rand.Rand) {
	d.rng = rng
	d.phase, d.steps = phaseReach, 0
	d.yawSide = 0
	if rng.Float64() < 0.5 {
		d.yawSide = math.Pi / 2
	}
	d.aim()
	d.approachZ = 0.06 + 0.08*float64(rng.IntN(2)) // descend late or early
	d.carryZ = 0.08 + 0.06*float64(rng.IntN(2))
	d.speed = 0.6 + 0.4*rng.Float64()
	d.miss = rng.Float64() < d.cfg.MissGrasp
	d.retry = rng.Float64() < d.cfg.Retry
	d.graspZ = d.goodGraspZ()
	if d.miss {
		d.graspZ = 0.045 + 0.015*rng.Float64()
	}
	g := d.c.goal
	d.place = [3]float64{g[0] + 0.01*rng.NormFloat64(), g[1] + 0.01*rng.NormFloat64(), cubeHalf}
	if rng.Float64() < d.cfg.WrongPlace {
		a, r := 2*math.Pi*rng.Float64(), 0.07+0.03*rng.Float64()
		d.place[0] = clamp(g[0]+r*math.Cos(a), cubeLo[0]+0.02, cubeHi[0]-0.02)
		d.place[1] = clamp(g[1]+r*math.Sin(a), cubeLo[1]+0.02, cubeHi[1]-0.02)
	}
	// A bowed carry passes a point 8 cm to the side of the straight line, on a random side.
	d.useVia = rng.Float64() < 0.5
	d.viaDone = false
	mx, my := (d.c.cube[0]+d.place[0])/2, (d.c.cube[1]+d.place[1])/2
	dx, dy := d.place[0]-d.c.cube[0], d.place[1]-d.c.cube[1]
	n := math.Hypot(dx, dy) + 1e-9
	side := 1.0
	if rng.Float64() < 0.5 {
		side = -1
	}
	d.via = [2]float64{clamp(mx-side*0.08*dy/n, cubeLo[0], cubeHi[0]), clamp(my+side*0.08*dx/n, cubeLo[1], cubeHi[1])}
}

// aim picks the gripper yaw square to the cube on the episode's side (the nearest of the two
// families of square yaws, or the one a quarter turn from it).
func (d *cubeDemo) aim() {
	c := d.c
	y := clamp(c.yaw+quarterTurnError(c.cubeYaw-c.yaw), -math.Pi, math.Pi)
	if d.yawSide != 0 {
		y += d.yawSide
		if y > math.Pi {
			y -= math.Pi
		}
	}
	d.yawGoal = y
}

func (d *cubeDemo) goodGraspZ() float64 {
	return max(cubeLo[2], cubeHalf+0.002*d.rng.NormFloat64())
}

func (d *cubeDemo) setPhase(p cubePhase) { d.phase, d.steps = p, 0 }

func (d *cubeDemo) act(a []float32) {
	c := d.c
	target := c.eff
	yawTarget := c.yaw
	grip := 0.0 // closure change
	switch d.phase {
	case phaseReach, phaseDescend:
		yawTarget = d.yawGoal
		target = [3]float64{c.cube[0], c.cube[1], d.approachZ}
		grip = -1
		if d.phase == phaseDescend {
			target[2] = d.graspZ
			if c.eff[2] < d.graspZ+0.03 {
				d.setPhase(phaseClose)
			}
		} else if math.Hypot(c.eff[0]-c.cube[0], c.eff[1]-c.cube[1]) < 0.008 && math.Abs(yawTarget-c.yaw) < 0.08 {
			d.setPhase(phaseDescend)
		}
	case phaseClose:
		// Close over several steps while finishing the descent, so that closing is what the data
		// show throughout the last centimetres rather than at one exact height.
		target = [3]float64{c.cube[0], c.cube[1], d.graspZ}
		grip = 0.3
		if c.closure >= 0.75 {
			d.setPhase(phaseLift)
		}
	case phaseLift:
		grip = 1
		target[2] = d.carryZ
		if c.eff[2] > d.carryZ-0.01 {
			switch {
			case c.holding:
				d.setPhase(phaseCarry)
			case !d.miss || d.retry:
				// A grasp that noise spoiled is always retried; a deliberate miss only sometimes.
				d.retry = false
				d.miss = false
				d.graspZ = d.goodGraspZ()
				d.setPhase(phaseReopen)
			default:
				d.setPhase(phaseCarry) // carries nothing, unaware
			}
		}
	case phaseReopen:
		grip = -1
		if d.steps >= 1 {
			d.aim()
			d.setPhase(phaseReach)
		}
	case phaseCarry:
		grip = 1
		goal := [2]float64{d.place[0], d.place[1]}
		if d.useVia && !d.viaDone {
			goal = d.via
			if math.Hypot(c.eff[0]-goal[0], c.eff[1]-goal[1]) < 0.03 {
				d.viaDone = true
			}
		}
		target = [3]float64{goal[0], goal[1], d.carryZ}
		if d.viaDone || !d.useVia {
			if math.Hypot(c.eff[0]-d.place[0], c.eff[1]-d.place[1]) < 0.008 {
				d.setPhase(phaseLower)
			}
		}
	case phaseLower:
		grip = 1
		target = [3]float64{d.place[0], d.place[1], cubeHalf + 0.005}
		if c.eff[2] < cubeHalf+0.01 {
			d.setPhase(phaseRelease)
		}
	case phaseRelease:
		grip = -1
		if d.steps >= 1 {
			d.setPhase(phaseRetreat)
		}
	case phaseRetreat:
		grip = -1
		target[2] = 0.15
	}
	d.steps++
	for i := range 3 {
		a[i] = float32(clamp((target[i]-c.eff[i])/CubeMaxMove, -d.speed, d.speed))
	}
	a[3] = float32(clamp((yawTarget-c.yaw)/cubeMaxYawStep, -1, 1))
	a[4] = float32(grip)
	for i := range a {
		a[i] = float32(clamp(float64(a[i])+d.cfg.Noise*d.rng.NormFloat64(), -1, 1))
	}
}
