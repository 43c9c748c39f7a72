package toy

import (
	"fmt"
	"math"

	"github.com/gomvp/gomvp/plugins"
)

// Cube is a kinematic pick-and-place task laid out like OGBench cube-single: a parallel gripper moves
// above a 4 cm cube on a table and must put it on a goal position. There is no physics: the effector
// follows the action exactly, a closed gripper holds the cube when it closes around it, and a released
// cube drops onto the table. The task number picks the initial and goal positions of OGBench's
// cube-single tasks.
//
// Action (5, in [−1, 1], scaled like OGBench): Δx, Δy, Δz (× CubeMaxMove metres), Δyaw (× 0.3 rad),
// Δgripper (the gripper closure g ∈ [0, 1] changes by the action; g ≥ 0.5 is closed).
//
// Observation (16), OGBench's layout without the arm joints:
//
//	0–2   (effector − [0.425, 0, 0])·10      3–4   cos, sin of the effector yaw
//	5     gripper closure·3                  6     gripper contact (holding the cube)
//	7–9   (cube − [0.425, 0, 0])·10          10–13 cube quaternion (w, x, y, z)
//	14–15 cos, sin of the cube yaw
//
// Qpos (12): effector xyz, effector yaw, closure, then cube xyz and quaternion (OGBench stores 7 per
// cube after the robot's values too). Qvel (11): their changes in the last step (the cube's angular
// part as a rotation vector).
//
// Reward is OGBench's single-task reward: 0 when the cube is within 4 cm of the goal, else −1; the
// episode terminates on success and is truncated after CubeMaxSteps steps.
type Cube struct {
	task       int
	init, goal [3]float64

	eff      [3]float64
	yaw      float64
	closure  float64
	cube     [3]float64
	cubeYaw  float64
	holding  bool
	holdOff  [3]float64 // cube − effector while held
	holdYaw  float64    // cube yaw − effector yaw while held
	prevQpos [12]float32
	qvel     [11]float32
	t        int
	done     bool
}

const (
	// CubeMaxSteps is the time limit, that of OGBench cube-single.
	CubeMaxSteps = 200
	// CubeMaxMove is the effector's largest move per step, in metres.
	CubeMaxMove = 0.03
	// CubeSuccessRadius is OGBench's success threshold on the cube-to-goal distance.
	CubeSuccessRadius = 0.04
	cubeHalf          = 0.02
	cubeMaxYawStep    = 0.3
	cubeObsDim        = 16
	cubeActDim        = 5
)

// Workspace bounds of the effector, OGBench's.
var cubeLo, cubeHi = [3]float64{0.25, -0.35, 0.02}, [3]float64{0.6, 0.35, 0.35}

// cubeTasks are OGBench cube-single's initial and goal cube positions.
var cubeTasks = [NumCubeTasks][2][3]float64{
	{{0.425, 0.1, 0.02}, {0.425, -0.1, 0.02}},
	{{0.35, 0.0, 0.02}, {0.50, 0.0, 0.02}},
	{{0.50, 0.0, 0.02}, {0.35, 0.0, 0.02}},
	{{0.35, -0.2, 0.02}, {0.50, 0.2, 0.02}},
	{{0.35, 0.2, 0.02}, {0.50, -0.2, 0.02}},
}

var cubeCenter = [3]float64{0.425, 0, 0}

// NewCube returns cube task n (1 … NumCubeTasks). Call Reset before Step.
func NewCube(n int) (*Cube, error) {
	if n < 1 || n > NumCubeTasks {
		return nil, fmt.Errorf("toy: cube task %d does not exist: want 1 … %d", n, NumCubeTasks)
	}
	return &Cube{task: n, init: cubeTasks[n-1][0], goal: cubeTasks[n-1][1], done: true}, nil
}

func (c *Cube) Name() string         { return fmt.Sprintf("cube-task%d", c.task) }
func (c *Cube) ObservationDim() int  { return cubeObsDim }
func (c *Cube) ActionDim() int       { return cubeActDim }
func (c *Cube) MaxEpisodeSteps() int { return CubeMaxSteps }
func (c *Cube) QposDim() int         { return 12 }
func (c *Cube) QvelDim() int         { return 11 }
func (c *Cube) Close() error         { return nil }

// Goal returns the goal position of the cube.
func (c *Cube) Goal() [3]float64 { return c.goal }

// Reset starts an episode: the cube lies near the task's initial position (±2 cm) with a random yaw,
// the open gripper hovers near the workspace centre. The seed fixes everything.
func (c *Cube) Reset(seed int64) ([]float32, error) {
	rng := seededRand(seed, 1)
	c.cube = c.init
	c.cube[0] += 0.04 * (rng.Float64() - 0.5)
	c.cube[1] += 0.04 * (rng.Float64() - 0.5)
	c.cubeYaw = wrapAngle(2 * math.Pi * rng.Float64())
	c.eff = [3]float64{0.425 + 0.1*(rng.Float64()-0.5), 0.2 * (rng.Float64() - 0.5), 0.15 + 0.1*rng.Float64()}
	c.yaw = 0.4 * (rng.Float64() - 0.5)
	c.closure = 0
	c.holding = false
	c.t = 0
	c.done = false
	c.qvel = [11]float32{}
	c.prevQpos = [12]float32(c.Qpos())
	return c.observe(make([]float32, cubeObsDim)), nil
}

// Step applies one action. Stepping a finished episode is an error.
func (c *Cube) Step(action []float32) (plugins.Step, error) {
	if c.done {
		return plugins.Step{}, fmt.Errorf("toy %s: Step after the episode ended; call Reset", c.Name())
	}
	if err := checkAction(c.Name(), action, cubeActDim); err != nil {
		return plugins.Step{}, err
	}
	for i := range 3 {
		c.eff[i] = clamp(c.eff[i]+CubeMaxMove*clamp(float64(action[i]), -1, 1), cubeLo[i], cubeHi[i])
	}
	c.yaw = clamp(c.yaw+cubeMaxYawStep*clamp(float64(action[3]), -1, 1), -math.Pi, math.Pi)
	wasClosed := c.closure >= 0.5
	c.closure = clamp(c.closure+clamp(float64(action[4]), -1, 1), 0, 1)
	closed := c.closure >= 0.5
	switch {
	case closed && !wasClosed && c.canGrasp():
		c.holding = true
		for i := range 3 {
			c.holdOff[i] = c.cube[i] - c.eff[i]
		}
		c.holdYaw = c.cubeYaw - c.yaw
	case !closed && c.holding:
		c.holding = false
		c.cube[2] = cubeHalf // a released cube drops onto the table
	}
	if c.holding {
		for i := range 3 {
			c.cube[i] = c.eff[i] + c.holdOff[i]
		}
		c.cube[2] = max(c.cube[2], cubeHalf)
		c.cubeYaw = wrapAngle(c.yaw + c.holdYaw)
	}
	c.t++
	q := c.Qpos()
	for i := range 5 {
		c.qvel[i] = q[i] - c.prevQpos[i]
	}
	for i := range 3 {
		c.qvel[5+i] = q[5+i] - c.prevQpos[5+i]
	}
	c.qvel[8], c.qvel[9] = 0, 0
	c.qvel[10] = float32(wrapAngle(2 * (math.Atan2(float64(q[11]), float64(q[8])) - math.Atan2(float64(c.prevQpos[11]), float64(c.prevQpos[8])))))
	c.prevQpos = [12]float32(q)

	st := plugins.Step{Observation: c.observe(make([]float32, cubeObsDim)), Reward: -1}
	if c.Success() {
		st.Reward, st.Success, st.Terminated = 0, true, true
	} else if c.t >= CubeMaxSteps {
		st.Truncated = true
	}
	c.done = st.Terminated || st.Truncated
	return st, nil
}

func (c *Cube) resume() { c.done = false }

// Grasp tolerances: how far the cube's centre may be from the point between the fingers, and how
// far its faces may be turned from the fingers'. They are looser than a real gripper's so that a
// small policy trained for minutes can learn the task.
const (
	graspMaxXY  = 0.025
	graspMaxZ   = 0.015
	graspMaxYaw = 0.35
)

// canGrasp: the cube is between the fingers, at finger height, and square to them (its yaw matches
// the gripper's modulo a quarter turn).
func (c *Cube) canGrasp() bool {
	dx, dy, dz := c.cube[0]-c.eff[0], c.cube[1]-c.eff[1], c.cube[2]-c.eff[2]
	if math.Hypot(dx, dy) > graspMaxXY || math.Abs(dz) > graspMaxZ {
		return false
	}
	return math.Abs(quarterTurnError(c.cubeYaw-c.yaw)) <= graspMaxYaw
}

// quarterTurnError maps an angle to (−π/4, π/4]: the misalignment of two square shapes.
func quarterTurnError(a float64) float64 {
	a = math.Mod(a, math.Pi/2)
	if a > math.Pi/4 {
		a -= math.Pi / 2
	} else if a <= -math.Pi/4 {
		a += math.Pi / 2
	}
	return a
}

func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

// Success: the cube is within CubeSuccessRadius of the goal.
func (c *Cube) Success() bool { return dist3(c.cube, c.goal) <= CubeSuccessRadius }

// SuccessFromQpos applies the success rule to a stored qpos row (cube xyz at 5–7), as OGBench's
// single-task relabelling does.
func (c *Cube) SuccessFromQpos(q []float32) bool {
	return dist3([3]float64{float64(q[5]), float64(q[6]), float64(q[7])}, c.goal) <= CubeSuccessRadius
}

func dist3(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func (c *Cube) Qpos() []float32 {
	s, co := math.Sincos(c.cubeYaw / 2)
	return []float32{
		float32(c.eff[0]), float32(c.eff[1]), float32(c.eff[2]), float32(c.yaw), float32(c.closure),
		float32(c.cube[0]), float32(c.cube[1]), float32(c.cube[2]), float32(co), 0, 0, float32(s),
	}
}

func (c *Cube) Qvel() []float32 { q := c.qvel; return q[:] }

func (c *Cube) observe(o []float32) []float32 {
	for i := range 3 {
		o[i] = float32((c.eff[i] - cubeCenter[i]) * 10)
		o[7+i] = float32((c.cube[i] - cubeCenter[i]) * 10)
	}
	s, co := math.Sincos(c.yaw)
	o[3], o[4] = float32(co), float32(s)
	o[5] = float32(c.closure * 3)
	o[6] = 0
	if c.holding {
		o[6] = 1
	}
	hs, hc := math.Sincos(c.cubeYaw / 2)
	o[10], o[11], o[12], o[13] = float32(hc), 0, 0, float32(hs)
	s, co = math.Sincos(c.cubeYaw)
	o[14], o[15] = float32(co), float32(s)
	return o
}
