package toy

import (
	"bytes"
	"fmt"
	"image/gif"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

func smallConfig(episodes int) DemoConfig {
	cfg := DefaultDemoConfig()
	cfg.Episodes = episodes
	return cfg
}

func TestRegistry(t *testing.T) {
	for _, spec := range []string{"toy:pointmass", "toy:detour", "toy:cube", "toy:cube-task1", "toy:cube-task5"} {
		env, err := plugins.MakeEnv(spec, plugins.EnvOptions{})
		if err != nil {
			t.Fatalf("MakeEnv(%s): %v", spec, err)
		}
		obs, err := env.Reset(1)
		if err != nil || len(obs) != env.ObservationDim() {
			t.Fatalf("%s: Reset gave %d values (dim %d), err %v", spec, len(obs), env.ObservationDim(), err)
		}
	}
	for _, bad := range []string{"toy:cube-task0", "toy:cube-task6", "toy:cube-taskx", "toy:maze"} {
		if _, err := plugins.MakeEnv(bad, plugins.EnvOptions{}); err == nil {
			t.Errorf("MakeEnv(%s) succeeded", bad)
		}
	}
	ds, err := plugins.LoadDataset("toy:cube-task1", plugins.DatasetOptions{Extra: map[string]string{"episodes": "20", "seed": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if ds.ObsDim != 16 || ds.ActDim != 5 || ds.Len() < 20*10 {
		t.Errorf("toy:cube-task1 dataset: obs %d act %d len %d", ds.ObsDim, ds.ActDim, ds.Len())
	}
	val, err := plugins.LoadDataset("toy:cube-task1", plugins.DatasetOptions{Validation: true, Extra: map[string]string{"episodes": "20", "seed": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if val.Len() >= ds.Len() || reflect.DeepEqual(val.Observations[:16], ds.Observations[:16]) {
		t.Errorf("validation split should be smaller and different: %d vs %d transitions", val.Len(), ds.Len())
	}
	if _, err := plugins.LoadDataset("toy:cube-task1", plugins.DatasetOptions{Extra: map[string]string{"episodes": "0"}}); err == nil ||
		!strings.Contains(err.Error(), "episodes") {
		t.Errorf("episodes=0 gave %v", err)
	}
}

// A hand-written pick-and-place with exact actions must succeed, and each step's flags must follow
// OGBench's single-task rules.
func TestCubeScriptedPickAndPlace(t *testing.T) {
	c, _ := NewCube(2)
	if _, err := c.Step(make([]float32, 5)); err == nil {
		t.Fatal("Step before Reset succeeded")
	}
	if _, err := c.Reset(7); err != nil {
		t.Fatal(err)
	}
	step := func(a ...float32) plugins.Step {
		t.Helper()
		st, err := c.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	moveTo := func(x, y, z float64, grip float32) plugins.Step {
		var st plugins.Step
		for range 100 {
			d := [3]float64{x - c.eff[0], y - c.eff[1], z - c.eff[2]}
			if math.Abs(d[0])+math.Abs(d[1])+math.Abs(d[2]) < 1e-9 {
				break
			}
			st = step(float32(clamp(d[0]/CubeMaxMove, -1, 1)), float32(clamp(d[1]/CubeMaxMove, -1, 1)),
				float32(clamp(d[2]/CubeMaxMove, -1, 1)), 0, grip)
			if st.Success || st.Truncated {
				return st
			}
		}
		return st
	}
	// Square the gripper to the cube first.
	for range 20 {
		e := quarterTurnError(c.cubeYaw - c.yaw)
		if math.Abs(e) < 1e-6 {
			break
		}
		step(0, 0, 0, float32(clamp(e/cubeMaxYawStep, -1, 1)), -1)
	}
	moveTo(c.cube[0], c.cube[1], 0.1, -1)
	moveTo(c.cube[0], c.cube[1], cubeHalf, -1)
	st := step(0, 0, 0, 0, 1)
	if st.Observation[6] != 1 || !c.holding {
		t.Fatalf("the closed gripper does not hold the cube: contact %v", st.Observation[6])
	}
	if st.Reward != -1 || st.Terminated || st.Success {
		t.Fatalf("before success: %+v", st)
	}
	moveTo(c.cube[0], c.cube[1], 0.1, 1)
	if c.cube[2] < 0.09 {
		t.Fatalf("held cube did not rise: z=%v", c.cube[2])
	}
	st = moveTo(c.goal[0], c.goal[1], 0.1, 1)
	st = moveTo(c.goal[0], c.goal[1], cubeHalf, 1)
	if !st.Success || !st.Terminated || st.Truncated || st.Reward != 0 {
		t.Fatalf("placing the cube on the goal: %+v (cube %v goal %v)", st, c.cube, c.goal)
	}
	if _, err := c.Step(make([]float32, 5)); err == nil {
		t.Error("Step after termination succeeded")
	}
}

func TestCubeGraspNeedsHeightAndAlignment(t *testing.T) {
	c, _ := NewCube(1)
	c.Reset(3)
	c.eff = [3]float64{c.cube[0], c.cube[1], cubeHalf + 0.03} // too high
	c.yaw = c.cubeYaw
	if c.canGrasp() {
		t.Error("grasp 3 cm above the cube's centre")
	}
	c.eff[2] = cubeHalf
	c.yaw = wrapAngle(c.cubeYaw + math.Pi/4)
	if c.canGrasp() {
		t.Error("grasp with the fingers on the cube's corners")
	}
	c.yaw = wrapAngle(c.cubeYaw + math.Pi/2 + 0.1)
	if !c.canGrasp() {
		t.Error("no grasp square to the other pair of faces")
	}
}

func TestTimeLimitAndBadActions(t *testing.T) {
	for _, name := range []string{"pointmass", "cube-task4"} {
		task, _ := New(name)
		task.Reset(0)
		if _, err := task.Step(make([]float32, task.ActionDim()+1)); err == nil {
			t.Errorf("%s: wrong action length accepted", name)
		}
		nan := make([]float32, task.ActionDim())
		nan[1] = float32(math.NaN())
		if _, err := task.Step(nan); err == nil || !strings.Contains(err.Error(), "action[1]") {
			t.Errorf("%s: NaN action gave %v", name, err)
		}
		zero := make([]float32, task.ActionDim())
		for i := 1; ; i++ {
			st, err := task.Step(zero)
			if err != nil {
				t.Fatal(err)
			}
			if st.Truncated != (i == task.MaxEpisodeSteps()) || st.Terminated || st.Reward != -1 {
				t.Fatalf("%s step %d: %+v", name, i, st)
			}
			if st.Truncated {
				break
			}
		}
	}
}

func TestPointMassObstaclesBlock(t *testing.T) {
	p := NewPointMass()
	p.Reset(0)
	p.pos = [2]float64{-0.6, 0}
	for range 100 {
		if _, err := p.Step([]float32{1, 0}); err != nil {
			break
		}
		for _, o := range pointMassObstacles {
			if math.Hypot(p.pos[0]-o[0], p.pos[1]-o[1]) < o[2]-1e-9 {
				t.Fatalf("inside obstacle %v at %v", o, p.pos)
			}
		}
	}
	if p.pos[0] > 0 {
		t.Errorf("pushing right passed through the central obstacle: %v", p.pos)
	}
}

func TestDeterministic(t *testing.T) {
	for _, name := range []string{"pointmass", "detour", "cube-task3"} {
		a, err := Generate(name, smallConfig(15))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(name, smallConfig(15))
		if !reflect.DeepEqual(a.Observations, b.Observations) || !reflect.DeepEqual(a.Actions, b.Actions) {
			t.Errorf("%s: same seed, different demonstrations", name)
		}
		cfg := smallConfig(15)
		cfg.Seed = 1
		c, _ := Generate(name, cfg)
		if reflect.DeepEqual(a.Actions[:40], c.Actions[:40]) {
			t.Errorf("%s: seeds 0 and 1 gave the same actions", name)
		}
	}
}

// The demonstrators' mistakes are what separates cloning from critic-guided selection: with them
// the success rate must drop well below that of the careful demonstrator, and stay learnable.
func TestDemoSuccessRates(t *testing.T) {
	for _, tc := range []struct {
		name            string
		lo, hi, cleanLo float64
	}{
		{"pointmass", 0.65, 0.92, 0.97},
		{"detour", 0.7, 0.9, 0.97},
		{"cube-task1", 0.45, 0.75, 0.97},
		{"cube-task2", 0.45, 0.75, 0.97},
		{"cube-task4", 0.45, 0.75, 0.97},
	} {
		d, err := Generate(tc.name, smallConfig(300))
		if err != nil {
			t.Fatal(err)
		}
		clean := smallConfig(300)
		clean.MissGrasp, clean.WrongPlace, clean.Stuck, clean.Straight = 0, 0, 0, 0
		dc, _ := Generate(tc.name, clean)
		t.Logf("%s: scripted demonstrator success %.3f (careful %.3f), %d rows", tc.name, d.SuccessRate(), dc.SuccessRate(), d.Rows())
		if r := d.SuccessRate(); r < tc.lo || r > tc.hi {
			t.Errorf("%s: success rate %.3f outside [%v, %v]", tc.name, r, tc.lo, tc.hi)
		}
		if r := dc.SuccessRate(); r < tc.cleanLo {
			t.Errorf("%s: careful demonstrator success %.3f < %v", tc.name, r, tc.cleanLo)
		}
	}
}

// Relabelled rewards are checked against the success computed from the observation (a second
// source of the cube position) rather than from qpos.
func TestDatasetRelabelling(t *testing.T) {
	d, err := Generate("cube-task2", smallConfig(40))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := d.Dataset()
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != d.Rows()-40 {
		t.Fatalf("%d transitions from %d rows of 40 trajectories", ds.Len(), d.Rows())
	}
	goal := cubeTasks[1][1]
	terminals, successes, zeroRewardTraj := 0, 0, 0
	seenZero := false
	for i := range ds.Len() {
		o := ds.Observations[i*16 : (i+1)*16]
		cube := [3]float64{float64(o[7])/10 + cubeCenter[0], float64(o[8]) / 10, float64(o[9]) / 10}
		want := dist3(cube, goal) <= CubeSuccessRadius+1e-6
		if (ds.Rewards[i] == 0) != want || ds.Masks[i] != -ds.Rewards[i] {
			t.Fatalf("transition %d: reward %v mask %v, cube at %v (goal %v)", i, ds.Rewards[i], ds.Masks[i], cube, goal)
		}
		if i+1 < ds.Len() && ds.Terminals[i] == 0 && !reflect.DeepEqual(ds.NextObservations[i*16:(i+1)*16], ds.Observations[(i+1)*16:(i+2)*16]) {
			t.Fatalf("transition %d: next observation is not the following observation", i)
		}
		if want {
			successes++
			seenZero = true
		}
		if ds.Terminals[i] == 1 {
			terminals++
			if seenZero {
				zeroRewardTraj++
			}
			seenZero = false
		}
	}
	if terminals != 40 {
		t.Errorf("%d terminal transitions, want 40", terminals)
	}
	if want := int(math.Round(d.SuccessRate() * 40)); zeroRewardTraj != want {
		t.Errorf("%d trajectories have a zero reward, %d succeeded", zeroRewardTraj, want)
	}
}

func TestNPZRoundTripAndNumpy(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"cube-task5", "pointmass"} {
		d, err := Generate(name, smallConfig(25))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".npz")
		if err := d.WriteNPZ(path); err != nil {
			t.Fatal(err)
		}
		want, _ := d.Dataset()
		got, err := plugins.LoadDataset("toy:"+name, plugins.DatasetOptions{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		got.Name = want.Name
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: dataset read back from npz differs", name)
		}
		// The validation file sits next to it, as OGBench's does.
		vd, _ := Generate(name, smallConfig(25).Validation())
		if err := vd.WriteNPZ(ValidationPath(path)); err != nil {
			t.Fatal(err)
		}
		gotVal, err := plugins.LoadDataset("toy:"+name, plugins.DatasetOptions{Path: path, Validation: true})
		if err != nil {
			t.Fatal(err)
		}
		if wantVal, _ := vd.Dataset(); gotVal.Len() != wantVal.Len() || gotVal.Len() >= got.Len() {
			t.Errorf("%s: validation file has %d transitions, want %d", name, gotVal.Len(), wantVal.Len())
		}
		back, _ := ReadDemosNPZ(path, "toy:"+name)
		if !reflect.DeepEqual(back.Successes, d.Successes) || !reflect.DeepEqual(back.Qvel, d.Qvel) {
			t.Errorf("%s: successes or qvel differ after the round trip", name)
		}
		checkWithNumpy(t, dir, name, path, want)
	}
}

// checkWithNumpy has numpy read the file and relabel it independently (testdata/check_npz.py).
func checkWithNumpy(t *testing.T, dir, name, path string, want *datasets.Dataset) {
	py := venvPython(t)
	if py == "" {
		t.Log("no .venv/bin/python (scripts/setup-envs.sh installs it): numpy check not run")
		return
	}
	exp := filepath.Join(dir, name+"-expected.npz")
	n := want.Len()
	err := npz.Write(exp, map[string]any{
		"observations.npy":      matrix(want.Observations, n, want.ObsDim),
		"actions.npy":           matrix(want.Actions, n, want.ActDim),
		"next_observations.npy": matrix(want.NextObservations, n, want.ObsDim),
		"rewards.npy":           want.Rewards, "masks.npy": want.Masks, "terminals.npy": want.Terminals,
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/check_npz.py", path, exp}
	if name == "pointmass" {
		args = append(args, "pointmass")
	} else {
		c, _ := New(name)
		g := c.(*Cube).Goal()
		for _, x := range g {
			args = append(args, fmt.Sprint(float32(x)))
		}
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy check of %s failed: %v\n%s", path, err, out)
	}
	t.Logf("numpy: %s", bytes.TrimSpace(out))
}

func venvPython(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, ".venv", "bin", "python")
		if _, err := os.Stat(p); err == nil {
			if exec.Command(p, "-c", "import numpy").Run() == nil {
				return p
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func TestBadNPZ(t *testing.T) {
	dir := t.TempDir()
	d, _ := Generate("cube-task2", smallConfig(5))
	good := filepath.Join(dir, "good.npz")
	if err := d.WriteNPZ(good); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "truncated.npz")
	os.WriteFile(trunc, raw[:len(raw)/2], 0o644)
	rows := d.Rows()
	obs64 := make([]float64, len(d.Observations))
	for i, x := range d.Observations {
		obs64[i] = float64(x)
	}
	m64 := make([][]float64, rows)
	for i := range m64 {
		m64[i] = obs64[i*16 : (i+1)*16]
	}
	wrongDtype := filepath.Join(dir, "float64.npz")
	npz.Write(wrongDtype, map[string]any{"observations.npy": m64, "actions.npy": matrix(d.Actions, rows, 5),
		"terminals.npy": d.Terminals, "qpos.npy": matrix(d.Qpos, rows, 12)})
	noQpos := filepath.Join(dir, "noqpos.npz")
	npz.Write(noQpos, map[string]any{"observations.npy": matrix(d.Observations, rows, 16), "actions.npy": matrix(d.Actions, rows, 5),
		"terminals.npy": d.Terminals})
	nanObs := append([]float32(nil), d.Observations...)
	nanObs[3*16+2] = float32(math.NaN())
	nanPath := filepath.Join(dir, "nan.npz")
	npz.Write(nanPath, map[string]any{"observations.npy": matrix(nanObs, rows, 16), "actions.npy": matrix(d.Actions, rows, 5),
		"terminals.npy": d.Terminals, "qpos.npy": matrix(d.Qpos, rows, 12)})
	for _, tc := range []struct{ path, task, want string }{
		{filepath.Join(dir, "missing.npz"), "toy:cube-task2", "missing.npz"},
		{trunc, "toy:cube-task2", "truncated.npz"},
		{wrongDtype, "toy:cube-task2", `"observations" has dtype <f8`},
		{noQpos, "toy:cube-task2", `no key "qpos"`},
		{nanPath, "toy:cube-task2", "Observations has NaN at row 3, column 2"},
		{good, "toy:pointmass", `"observations" has shape`},
	} {
		_, err := ReadNPZ(tc.path, tc.task)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as %s: error %v, want it to mention %q", filepath.Base(tc.path), tc.task, err, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	for _, name := range []string{"cube-task1", "pointmass", "detour"} {
		task, _ := New(name)
		task.Reset(2)
		var buf bytes.Buffer
		if err := RenderPNG(&buf, task, 128); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 128 {
			t.Fatalf("%s: PNG is %v", name, img.Bounds())
		}
		// The goal and the agent must both be visible.
		counts := map[uint8]int{}
		pi := task.Render(128)
		for _, c := range pi.Pix {
			counts[c]++
		}
		if counts[colGoal] == 0 || counts[colEffector] == 0 {
			t.Errorf("%s: goal pixels %d, effector pixels %d", name, counts[colGoal], counts[colEffector])
		}
		buf.Reset()
		res, err := RenderEpisodeGIF(&buf, task, 5, DemoPolicy(task, DefaultDemoConfig(), 5), 64, 5)
		if err != nil {
			t.Fatal(err)
		}
		g, err := gif.DecodeAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Image) != res.Steps+1 {
			t.Errorf("%s: %d GIF frames for %d steps", name, len(g.Image), res.Steps)
		}
	}
}

// DemoPolicy with Generate's episode seed replays the recorded demonstration.
func TestDemoPolicyReplaysGenerate(t *testing.T) {
	cfg := smallConfig(3)
	d, _ := Generate("cube-task3", cfg)
	task, _ := New("cube-task3")
	var actions []float32
	pol := DemoPolicy(task, cfg, 2)
	RunEpisode(task, 2, func(o, a []float32) error {
		err := pol(o, a)
		actions = append(actions, a...)
		return err
	}, nil)
	// Episode 2 starts after the first two terminal rows.
	row := 0
	for seen := 0; seen < 2; row++ {
		if d.Terminals[row] {
			seen++
		}
	}
	got := d.Actions[row*5 : row*5+len(actions)]
	if !reflect.DeepEqual(got, actions) {
		t.Errorf("replayed actions differ from the recorded ones")
	}
}

func BenchmarkCubeStep(b *testing.B)      { benchStep(b, "cube-task2") }
func BenchmarkPointMassStep(b *testing.B) { benchStep(b, "pointmass") }

// benchStep measures environment steps per second on one goroutine, with the demonstrator's
// actions (precomputed) so that grasps, carries and resets all occur.
func benchStep(b *testing.B, name string) {
	d, _ := Generate(name, smallConfig(20))
	task, _ := New(name)
	actDim := task.ActionDim()
	nAct := len(d.Actions) / actDim
	task.Reset(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		st, err := task.Step(d.Actions[(i%nAct)*actDim : (i%nAct+1)*actDim])
		if err != nil {
			b.Fatal(err)
		}
		if st.Terminated || st.Truncated {
			task.Reset(int64(i))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

func ExampleGenerate() {
	cfg := DefaultDemoConfig()
	cfg.Episodes = 200
	demos, err := Generate("cube-task2", cfg)
	if err != nil {
		panic(err)
	}
	ds, _ := demos.Dataset()
	fmt.Printf("%d trajectories, %d transitions of %d-d observations, demonstrator success %.2f\n",
		len(demos.Successes), ds.Len(), ds.ObsDim, demos.SuccessRate())
	// Output:
	// 200 trajectories, 21431 transitions of 16-d observations, demonstrator success 0.56
}

// The detour task's point: either side succeeds, and the mean of the two sides' actions drives into
// the barrier.
func TestDetourModesAndTheirMean(t *testing.T) {
	clean := smallConfig(200)
	clean.Straight, clean.Noise = 0, 0.2
	d, err := Generate("detour", clean)
	if err != nil {
		t.Fatal(err)
	}
	if r := d.SuccessRate(); r < 0.97 {
		t.Errorf("careful detour demonstrator success %.3f < 0.97", r)
	}
	// Both sides, about equally often: the sign of y once the mass passes x = 0.
	above, below := 0, 0
	rows := d.Rows()
	for i := 0; i+1 < rows; i++ {
		x, y := d.Observations[i*3], d.Observations[i*3+1]
		x1 := d.Observations[(i+1)*3]
		if !d.Terminals[i] && x < 0 && x1 >= 0 {
			if y > 0 {
				above++
			} else {
				below++
			}
		}
	}
	if above+below < 190 || above < 80 || below < 80 {
		t.Errorf("demonstrations pass above %d and below %d times", above, below)
	}
	// The averaged policy: the mean of the noiseless demonstrator's actions for each side.
	for seed := int64(0); seed < 10; seed++ {
		task := NewDetour()
		task.Reset(seed)
		noiseless := clean
		noiseless.Noise = 0
		var sides [2]*detourDemo
		for k, want := range []float64{1, -1} {
			for s := uint64(0); ; s++ {
				m := task.newDemonstrator(noiseless).(*detourDemo)
				m.reset(rand.New(rand.NewPCG(s, 1)))
				if m.waypoints[0][1]*want > 0 {
					sides[k] = m
					break
				}
			}
		}
		a, b, mean := make([]float32, 2), make([]float32, 2), make([]float32, 2)
		for {
			sides[0].act(a)
			sides[1].act(b)
			for i := range mean {
				mean[i] = (a[i] + b[i]) / 2
			}
			st, err := task.Step(mean)
			if err != nil {
				t.Fatal(err)
			}
			if st.Terminated || st.Truncated {
				if st.Success || !task.Wrecked() {
					t.Errorf("seed %d: the mean of the two modes did not wreck the mass (success %v, at %v)", seed, st.Success, task.pos)
				}
				break
			}
		}
	}
}

// A fast move towards the barrier stops on its rim, never inside it, and the mass stays there.
func TestDetourBarrierWrecks(t *testing.T) {
	task := NewDetour()
	task.Reset(0)
	var wreckedAt [2]float64
	for i := range DetourMaxSteps {
		st, err := task.Step([]float32{1, 0.05})
		if err != nil {
			t.Fatal(err)
		}
		if r := math.Hypot(task.pos[0], task.pos[1]); r < DetourBarrierRadius-1e-9 {
			t.Fatalf("step %d: inside the barrier at %v", i, task.pos)
		}
		if task.Wrecked() {
			if wreckedAt == [2]float64{} {
				wreckedAt = task.pos
			} else if task.pos != wreckedAt {
				t.Fatalf("wrecked mass moved from %v to %v", wreckedAt, task.pos)
			}
			if st.Observation[2] != 1 {
				t.Fatalf("wrecked flag not observed: %v", st.Observation)
			}
		}
		if st.Truncated {
			break
		}
	}
	if !task.Wrecked() {
		t.Errorf("pushing right never touched the barrier: %v", task.pos)
	}
}
