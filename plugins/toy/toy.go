// Package toy provides embedded pure-Go tasks with scripted, noisy, multimodal demonstrators, so that
// training and evaluation run with nothing installed:
//
//	toy:pointmass        2D point mass that must reach a goal around obstacles
//	toy:detour           2D point mass that must go around a barrier on either side (bimodal data)
//	toy:cube-task1..5    kinematic cube pick-and-place laid out like OGBench cube-single
//	toy:cube             alias of toy:cube-task2 (OGBench's default task)
//
// Each name is both an environment (plugins.MakeEnv) and a dataset (plugins.LoadDataset). Datasets are
// generated on the fly from the demonstrators, deterministically from a seed, and relabelled like
// OGBench single-task data (reward = successes − n_subtasks, mask = 0 on success); Generate writes the
// same demonstrations as an OGBench-format npz. Import it for its side effects:
//
//	import _ "github.com/gomvp/gomvp/plugins/toy"
package toy

import (
	"fmt"
	"image"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

// Prefix is the registry prefix of this package's environments and datasets.
const Prefix = "toy"

// NumCubeTasks is the number of single-task cube variants (toy:cube-task1 … toy:cube-taskN).
const NumCubeTasks = 5

// DefaultCubeTask is the task that "toy:cube" names, as task2 is OGBench's default for cube.
const DefaultCubeTask = 2

func init() {
	names := []string{"pointmass", "detour", "cube"}
	for i := 1; i <= NumCubeTasks; i++ {
		names = append(names, fmt.Sprintf("cube-task%d", i))
	}
	desc := "embedded pure-Go tasks with scripted demonstrators (point mass, detour, kinematic cube pick-and-place)"
	plugins.RegisterEnv(Prefix, func(name string, opts plugins.EnvOptions) (plugins.Env, error) {
		return New(name)
	}, plugins.Info{Description: desc, Names: names})
	plugins.RegisterDataset(Prefix, loadDataset, plugins.Info{Options: DemoOptionKeys})
}

// Task is an embedded environment with the extra access its demonstrator, the dataset writer and
// the renderer need.
type Task interface {
	plugins.Env
	// Name is the name under the toy prefix, e.g. "cube-task2".
	Name() string
	// Success tells whether the current state solves the task.
	Success() bool
	// Qpos and Qvel are the simulator state, stored in datasets like OGBench's qpos/qvel.
	Qpos() []float32
	Qvel() []float32
	// SuccessFromQpos evaluates the success criterion on a stored qpos row (the relabelling rule).
	SuccessFromQpos(qpos []float32) bool
	// QposDim and QvelDim are the lengths of Qpos and Qvel.
	QposDim() int
	QvelDim() int
	// Render draws the current state, top-down, into a size×size image.
	Render(size int) *image.Paletted
	// newDemonstrator returns the scripted policy for this task.
	newDemonstrator(cfg DemoConfig) demonstrator
	// resume lets a finished episode go on, for the demonstrations' extra row after success.
	resume()
}

// New creates the task named name ("pointmass", "detour", "cube", "cube-task3"), without the prefix.
func New(name string) (Task, error) {
	switch {
	case name == "pointmass":
		return NewPointMass(), nil
	case name == "detour":
		return NewDetour(), nil
	case name == "cube":
		return NewCube(DefaultCubeTask)
	case strings.HasPrefix(name, "cube-task"):
		n, err := strconv.Atoi(strings.TrimPrefix(name, "cube-task"))
		if err != nil {
			return nil, fmt.Errorf("toy: bad cube task %q: want cube-task1 … cube-task%d", name, NumCubeTasks)
		}
		return NewCube(n)
	}
	return nil, fmt.Errorf("toy: unknown task %q: want pointmass, detour, cube or cube-task1 … cube-task%d", name, NumCubeTasks)
}

// seededRand returns the generator every random draw of this package goes through, so that a seed
// fixes an episode on every platform.
func seededRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream))
}

func loadDataset(name string, opts plugins.DatasetOptions) (*datasets.Dataset, error) {
	if opts.Path != "" {
		path := opts.Path
		if opts.Validation {
			path = ValidationPath(path)
		}
		return ReadNPZ(path, Prefix+":"+name)
	}
	cfg, err := DemoConfigFromExtra(opts.Extra)
	if err != nil {
		return nil, err
	}
	if opts.Validation {
		cfg = cfg.Validation()
	}
	demos, err := Generate(name, cfg)
	if err != nil {
		return nil, err
	}
	return demos.Dataset()
}

// ValidationPath names the validation file that goes with a dataset file, as OGBench does
// ("x.npz" → "x-val.npz").
func ValidationPath(path string) string {
	if strings.HasSuffix(path, ".npz") {
		return strings.TrimSuffix(path, ".npz") + "-val.npz"
	}
	return path + "-val.npz"
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// checkAction validates an action before it touches the state, so that a NaN from a diverged policy
// is reported instead of silently corrupting the episode.
func checkAction(task string, action []float32, dim int) error {
	if len(action) != dim {
		return fmt.Errorf("toy %s: action has %d values, want %d", task, len(action), dim)
	}
	for i, a := range action {
		if a != a || a > 3.4e38 || a < -3.4e38 {
			return fmt.Errorf("toy %s: action[%d] is %v", task, i, a)
		}
	}
	return nil
}
