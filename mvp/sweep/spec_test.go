package sweep

import (
	"slices"
	"strings"
	"testing"
)

const baseSpec = `name = "t"
seeds = [0, 1]
[budget]
offline-steps = 100
[flags]
batch = 16
hidden = "32,32"
[[agents]]
kind = "mvp"
flags = { batch = 32, no-progress = true }
[[agents]]
name = "qc-wide"
kind = "qc"
flags = { hidden = "64,64" }
[[tasks]]
name = "pm"
dataset = "toy:pointmass"
flags = { dataset-opt = { episodes = 20, noise = 0.5 }, batch = 8 }
[[tasks]]
dataset = "toy:cube-task1"
env = "toy:cube-task1"
[[overrides]]
agents = ["qc-wide"]
tasks = ["pm"]
flags = { lr = 1e-3, candidates = 4 }
`

func TestParseAndExpand(t *testing.T) {
	s, err := Parse([]byte(baseSpec), "dir/t.toml")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	want := []string{"mvp-pm-s0", "mvp-pm-s1", "qc-wide-pm-s0", "qc-wide-pm-s1",
		"mvp-cube-task1-s0", "mvp-cube-task1-s1", "qc-wide-cube-task1-s0", "qc-wide-cube-task1-s1"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i, r := range runs {
		if r.Index != i {
			t.Errorf("run %s has index %d, want %d", r.Name, r.Index, i)
		}
	}
	// Precedence: [flags] < task < agent < override; flags sorted; tables and booleans rendered.
	got := strings.Join(runs[0].Train, " ")
	if w := "train --agent mvp --dataset toy:pointmass --seed 0 --batch 32 --dataset-opt episodes=20 --dataset-opt noise=0.5 --hidden 32,32 --no-progress=true --offline-steps 100"; got != w {
		t.Errorf("mvp-pm-s0:\n got %s\nwant %s", got, w)
	}
	got = strings.Join(runs[3].Train, " ")
	if w := "train --agent qc --dataset toy:pointmass --seed 1 --batch 8 --candidates 4 --dataset-opt episodes=20 --dataset-opt noise=0.5 --hidden 64,64 --lr 0.001 --offline-steps 100"; got != w {
		t.Errorf("qc-wide-pm-s1:\n got %s\nwant %s", got, w)
	}
	got = strings.Join(runs[6].Train, " ")
	if w := "train --agent qc --dataset toy:cube-task1 --env toy:cube-task1 --seed 0 --batch 16 --hidden 64,64 --offline-steps 100"; got != w {
		t.Errorf("qc-wide-cube-task1-s0:\n got %s\nwant %s", got, w)
	}
	if a := runs[0].Args("/x/runs/mvp-pm-s0"); !slices.Equal(a[len(a)-2:], []string{"--out", "/x/runs/mvp-pm-s0"}) {
		t.Errorf("Args end %v", a[len(a)-2:])
	}
	if s.Name != "t" || s.Resources.CPUs != 1 {
		t.Errorf("defaults: name %q cpus %d", s.Name, s.Resources.CPUs)
	}
	if f := FlagNames(runs); !slices.Equal(f, []string{"agent", "batch", "candidates", "dataset", "dataset-opt", "env", "hidden", "lr", "no-progress", "offline-steps", "seed"}) {
		t.Errorf("FlagNames %v", f)
	}
}

// A budget field left out keeps mvp train's default (no flag); an explicit 0 is passed on, so that
// `online-steps = 0` means offline only and not the default 1M online steps.
func TestBudgetZeroIsPassedOn(t *testing.T) {
	for _, c := range []struct{ budget, want string }{
		{"offline-steps = 100", "--offline-steps 100"},
		{"offline-steps = 100\nonline-steps = 0", "--offline-steps 100 --online-steps 0"},
		{"online-steps = 0", "--online-steps 0"},
		{"", ""},
	} {
		spec := strings.Replace(baseSpec, "offline-steps = 100", c.budget, 1)
		s, err := Parse([]byte(spec), "t.toml")
		if err != nil {
			t.Fatalf("budget %q: %v", c.budget, err)
		}
		runs, err := s.Expand()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, a := range runs[6].Train {
			if strings.HasSuffix(a, "-steps") {
				got = append(got, a, runs[6].Train[i+1])
			}
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("budget %q: step flags %q, want %q", c.budget, g, c.want)
		}
	}
	if _, err := Parse([]byte(strings.Replace(baseSpec, "offline-steps = 100", "online-steps = -1", 1)), "t.toml"); err == nil || !strings.Contains(err.Error(), "budget.online-steps") {
		t.Errorf("negative budget: error %v, want one naming budget.online-steps", err)
	}
}

func TestRunName(t *testing.T) {
	vals := map[string]string{"sweep": "ivc", "agent": "mvp λ=0.5", "kind": "mvp", "task": "cube/triple", "seed": "3", "index": "7"}
	for tmpl, want := range map[string]string{
		"{agent}-{task}-s{seed}":  "mvp-0.5-cube-triple-s3",
		"{sweep}_{index:}":        "ivc_",
		"{index}.{kind}":          "7.mvp",
		"--{task}--":              "cube-triple",
		"{sweep}/{agent}/{seed}/": "ivc-mvp-0.5-3",
	} {
		if got := RunName(tmpl, vals); got != want {
			t.Errorf("RunName(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(baseSpec, old, new, 1) }
	for _, tc := range []struct{ name, spec, want string }{
		{"syntax", edit("batch = 16\n", "batch = = 16\n"), "t.toml:6:"},
		{"type", edit("seeds = [0, 1]", `seeds = "zero"`), `t.toml:2: field "seeds"`},
		{"type in table", edit("offline-steps = 100", `offline-steps = "many"`), `t.toml:4: field "budget.offline-steps"`},
		{"unknown field", edit(`kind = "qc"`, "kind = \"qc\"\nlamda = 1"), `unknown field "agents.lamda"`},
		{"unknown top-level", "nme = 1\n" + baseSpec, `unknown field "nme"`},
		{"unknown kind", edit(`kind = "qc"`, `kind = "fqll"`), `agents[1].kind: unknown agent kind "fqll"`},
		{"missing kind", edit(`kind = "qc"`, ``), `agents[1].kind: missing`},
		{"no seeds", edit("seeds = [0, 1]", "seeds = []"), "seeds: missing"},
		{"duplicate seed", edit("seeds = [0, 1]", "seeds = [0, 1, 1]"), "seeds: 1 appears twice"},
		{"missing dataset", edit(`dataset = "toy:cube-task1"`, ``), "tasks[1].dataset: missing"},
		{"bad dataset", edit(`dataset = "toy:cube-task1"`, `dataset = "cube"`), `tasks[1].dataset: "cube" is not prefix:name`},
		{"duplicate agent", edit(`name = "qc-wide"`, `name = "mvp"`), `agents[1].name: "mvp" is used twice`},
		{"reserved flag", edit("batch = 8 }", "seed = 3 }"), "tasks[0].flags.seed: set by the sweep"},
		{"bad flag value", edit("batch = 16\n", "batch = 1979-05-27\n"), "flags.batch: unsupported value"},
		{"bad list", edit("batch = 16\n", "batch = [1, true]\n"), "flags.batch: element 1"},
		{"override agent", edit(`agents = ["qc-wide"]`, `agents = ["qc"]`), `overrides[0].agents: no agent named "qc"`},
		{"override task", edit(`tasks = ["pm"]`, `tasks = ["pointmass"]`), `overrides[0].tasks: no task named "pointmass"`},
		{"placeholder", "run_name = \"{agent}-{sede}\"\n" + baseSpec, "run_name: unknown placeholder {sede}"},
		{"duplicate names", "run_name = \"{agent}-{task}\"\n" + baseSpec, `run_name: "{agent}-{task}" gives the name "mvp-pm" to runs 0 and 1`},
		{"time", baseSpec + "[resources]\ntime = \"two days\"\n", `resources.time: "two days"`},
		{"mem", baseSpec + "[resources]\nmem = \"16 GB\"\n", `resources.mem: "16 GB"`},
		{"gpus", baseSpec + "[resources]\ngpus = -1\n", "resources.gpus: -1 < 0"},
		{"extra", baseSpec + "[slurm]\nextra = [\"qos=long\"]\n", `slurm.extra[0]: "qos=long"`},
	} {
		_, err := Parse([]byte(tc.spec), "dir/t.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestPresets(t *testing.T) {
	for file, n := range map[string]int{"smoke.toml": 4, "ivc.toml": 45, "onestep.toml": 90, "table1.toml": 180,
		"evidence-embedded.toml": 30, "evidence-ivc.toml": 6, "evidence-ogbench.toml": 4} {
		s, err := ParseFile("../../sweeps/" + file)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := s.Expand()
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != n {
			t.Errorf("%s: %d runs, want %d", file, len(runs), n)
		}
	}
}
