package ogbench

import "fmt"

// Task is the fixed goal of a single-task OGBench variant, as set by the environment's
// set_tasks (ogbench/manipspace/envs/{cube,scene,puzzle}_env.py; single-task variants do not
// permute the cubes).
type Task struct {
	Env string // environment family, e.g. "cube-double", "scene", "puzzle-3x3"
	ID  int    // 1…5
	// CubeGoals holds the goal xyz of each cube, in qpos order.
	CubeGoals [][3]float64
	// Buttons holds the goal state of each button (scene and puzzle), or nil.
	Buttons []int64
	// Drawer and Window are the goal joint positions (scene only).
	Drawer, Window  float64
	HasDrawerWindow bool
}

// SubtaskCount is the number of success conditions; reward = successes − SubtaskCount.
func (t *Task) SubtaskCount() int {
	n := len(t.CubeGoals) + len(t.Buttons)
	if t.HasDrawerWindow {
		n += 2
	}
	return n
}

// The qpos layout of manipspace: 14 arm and gripper values, then 7 per cube (xyz, quaternion),
// then (scene) the buttons, the drawer and the window.
const (
	qposObjectStart = 14
	qposCubeLen     = 7
	goalTolerance   = 0.04
)

// defaultTask is the task of "<env>-singletask-v0" (reward_task_id 0 in the environments).
var defaultTask = map[string]int{
	"cube-single": 2, "cube-double": 2, "cube-triple": 2, "cube-quadruple": 2,
	"scene": 2, "puzzle-3x3": 4, "puzzle-4x4": 4, "puzzle-4x5": 2, "puzzle-4x6": 2,
}

var cubeGoals = map[string][5][][3]float64{
	"cube-single": {
		{{0.425, -0.1, 0.02}},
		{{0.50, 0.0, 0.02}},
		{{0.35, 0.0, 0.02}},
		{{0.50, 0.2, 0.02}},
		{{0.50, -0.2, 0.02}},
	},
	"cube-double": {
		{{0.425, 0.0, 0.02}, {0.425, 0.1, 0.02}},
		{{0.35, 0.1, 0.02}, {0.50, 0.1, 0.02}},
		{{0.425, -0.2, 0.02}, {0.425, 0.2, 0.02}},
		{{0.425, 0.1, 0.02}, {0.425, -0.1, 0.02}},
		{{0.425, 0.0, 0.02}, {0.425, 0.0, 0.06}},
	},
	"cube-triple": {
		{{0.35, -0.1, 0.02}, {0.35, 0.1, 0.02}, {0.50, 0.1, 0.02}},
		{{0.50, 0.0, 0.02}, {0.50, 0.2, 0.02}, {0.50, -0.2, 0.02}},
		{{0.35, -0.1, 0.02}, {0.50, -0.2, 0.02}, {0.50, 0.0, 0.02}},
		{{0.50, -0.1, 0.02}, {0.50, 0.1, 0.02}, {0.35, 0.0, 0.02}},
		{{0.425, 0.2, 0.02}, {0.425, 0.2, 0.06}, {0.425, 0.2, 0.10}},
	},
	"cube-quadruple": {
		{{0.35, -0.25, 0.02}, {0.35, 0.1, 0.02}, {0.50, -0.1, 0.02}, {0.50, 0.25, 0.02}},
		{{0.375, 0.1, 0.02}, {0.475, 0.1, 0.02}, {0.375, -0.1, 0.02}, {0.475, -0.1, 0.02}},
		{{0.525, -0.2, 0.02}, {0.325, 0.2, 0.02}, {0.325, -0.2, 0.02}, {0.525, 0.2, 0.02}},
		{{0.525, 0.1, 0.02}, {0.325, 0.1, 0.02}, {0.325, -0.1, 0.02}, {0.525, -0.1, 0.02}},
		{{0.425, 0.2, 0.02}, {0.425, 0.2, 0.06}, {0.425, 0.2, 0.10}, {0.425, 0.2, 0.14}},
	},
}

type sceneGoal struct {
	cube           [3]float64
	buttons        [2]int64
	drawer, window float64
}

var sceneGoals = [5]sceneGoal{
	{[3]float64{0.35, 0.05, 0.02}, [2]int64{1, 1}, -0.16, 0.2},
	{[3]float64{0.35, -0.05, 0.02}, [2]int64{0, 0}, 0.0, 0.0},
	{[3]float64{0.4, 0.15, 0.02}, [2]int64{1, 1}, -0.16, 0.0},
	{[3]float64{0.33, -0.356, 0.065986}, [2]int64{1, 0}, 0.0, 0.0},
	{[3]float64{0.33, -0.356, 0.065986}, [2]int64{0, 0}, 0.0, 0.2},
}

// Puzzle goal button states, row-major.
var puzzleGoals = map[string][5]string{
	"puzzle-3x3": {"110101011", "011111111", "101010101", "111111111", "101101101"},
	"puzzle-4x4": {"1111111111111111", "1111100110011111", "0101101001011010", "0000000000000000", "0000000000000000"},
	"puzzle-4x5": {"00000000000000000000", "11111111111111111111", "11111100011000111111", "00000001000010000000", "10001011100111010001"},
	"puzzle-4x6": {"000000000000000000000000", "000000000000000000000000", "111110110101101011011111", "100001000000000000100001", "100001011110011110100001"},
}

// TaskFor returns task id (1…5, or 0 for the environment's default) of an environment family.
func TaskFor(env string, id int) (*Task, error) {
	def, ok := defaultTask[env]
	if !ok {
		return nil, fmt.Errorf("ogbench: no goal table for environment %q (supported: cube-single, cube-double, cube-triple, cube-quadruple, scene, puzzle-3x3, puzzle-4x4, puzzle-4x5, puzzle-4x6)", env)
	}
	if id == 0 {
		id = def
	}
	if id < 1 || id > 5 {
		return nil, fmt.Errorf("ogbench: task %d of %s, want 1…5", id, env)
	}
	t := &Task{Env: env, ID: id}
	switch {
	case env == "scene":
		g := sceneGoals[id-1]
		t.CubeGoals = [][3]float64{g.cube}
		t.Buttons = g.buttons[:]
		t.Drawer, t.Window, t.HasDrawerWindow = g.drawer, g.window, true
	case cubeGoals[env][0] != nil:
		t.CubeGoals = cubeGoals[env][id-1]
	default:
		for _, c := range puzzleGoals[env][id-1] {
			t.Buttons = append(t.Buttons, int64(c-'0'))
		}
	}
	return t, nil
}
