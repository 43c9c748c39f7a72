package robomimic

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gomvp/gomvp/plugins"
	"github.com/gomvp/gomvp/plugins/npzfile"
)

// rawRewardEnv stands in for the robosuite server: it replays a fixed sequence of raw rewards.
type rawRewardEnv struct {
	rewards []float32
	t       int
}

func (e *rawRewardEnv) ObservationDim() int            { return 1 }
func (e *rawRewardEnv) ActionDim() int                 { return 1 }
func (e *rawRewardEnv) MaxEpisodeSteps() int           { return len(e.rewards) }
func (e *rawRewardEnv) Reset(int64) ([]float32, error) { e.t = 0; return []float32{0}, nil }
func (e *rawRewardEnv) Close() error                   { return nil }
func (e *rawRewardEnv) Step([]float32) (plugins.Step, error) {
	if e.t >= len(e.rewards) {
		return plugins.Step{}, fmt.Errorf("stepped past the end")
	}
	r := e.rewards[e.t]
	e.t++
	return plugins.Step{Observation: []float32{float32(e.t)}, Reward: float64(r), Success: r == 1, Terminated: r == 1}, nil
}

// gotPython is the python option the fake simulator last received.
var gotPython string

// replayed is what the fake simulator plays back, keyed by task; tests set it before MakeEnv.
var replayed = map[string][]float32{}

func init() {
	// The robomimic environments reach robosuite through the registry; this test binary links no
	// remote plugin, so a stand-in takes its prefix.
	plugins.RegisterEnv("remote", func(name string, opts plugins.EnvOptions) (plugins.Env, error) {
		task, ok := strings.CutPrefix(name, "robomimic:")
		if !ok || replayed[task] == nil {
			return nil, fmt.Errorf("fake simulator has no %q", name)
		}
		if opts.Extra["python"] != "" {
			gotPython = opts.Extra["python"]
		}
		return &rawRewardEnv{rewards: replayed[task]}, nil
	}, plugins.Info{Options: []string{"python"}})
}

// Online rewards must be on the dataset's scale: replaying a demo's raw robosuite rewards through
// the environment gives exactly the rewards the dataset holds for that demo.
func TestOnlineRewardsMatchTheDataset(t *testing.T) {
	f, err := npzfile.Open("testdata/square-small.npz")
	if err != nil {
		t.Fatal(err)
	}
	demos, obsDim, actDim, err := readNPZ(f, Options{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(demos, func(a, b int) bool { return demos[a].id < demos[b].id })
	ds, err := build("square", demos, obsDim, actDim)
	if err != nil {
		t.Fatal(err)
	}
	// A demo that ends in success, so that both raw reward values occur.
	row := 0
	var raw []float32
	for _, m := range demos {
		if m.rewards[m.length-1] == 1 && m.rewards[0] == 0 {
			raw = m.rewards[:m.length]
			break
		}
		row += m.length
	}
	if raw == nil {
		t.Fatal("no demo with raw rewards 0 … 1 in testdata/square-small.npz")
	}
	replayed["square"] = raw
	for _, name := range []string{"robomimic:square-mh", "robomimic:square"} {
		env, err := plugins.MakeEnv(name, plugins.EnvOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.Reset(0)
		for i := range raw {
			st, err := env.Step([]float32{0})
			if err != nil {
				t.Fatal(err)
			}
			if want := float64(ds.Rewards[row+i]); st.Reward != want {
				t.Fatalf("%s step %d: raw reward %v became %v online, the dataset has %v", name, i, raw[i], st.Reward, want)
			}
			if st.Reward != -1 && st.Reward != 0 {
				t.Fatalf("%s step %d: reward %v is not in {−1, 0}", name, i, st.Reward)
			}
		}
	}
	if _, err := plugins.MakeEnv("robomimic:transport-mh", plugins.EnvOptions{}); err == nil || !strings.Contains(err.Error(), "want lift, can or square") {
		t.Errorf("unknown task: %v", err)
	}
}

// The robomimic environments take the simulator plugin's options and pass them on; other keys are
// refused before anything starts.
func TestEnvForwardsSimulatorOptions(t *testing.T) {
	replayed["lift"] = []float32{0, 1}
	if _, err := plugins.MakeEnv("robomimic:lift-mh", plugins.EnvOptions{Extra: map[string]string{"python": "/opt/rs/bin/python"}}); err != nil {
		t.Fatal(err)
	}
	if gotPython != "/opt/rs/bin/python" {
		t.Errorf("the simulator got python=%q, want /opt/rs/bin/python", gotPython)
	}
	err := plugins.CheckOptions(plugins.Environment, "robomimic:lift", map[string]string{"pyton": "x"})
	if err == nil || !strings.Contains(err.Error(), `"pyton"`) || !strings.Contains(err.Error(), "takes python") {
		t.Errorf("misspelt option: %v", err)
	}
}
