// Package sweep runs studies: a spec file (TOML) names agents, tasks, seeds, flag overrides, a
// budget and resources; it expands into runs (agent × task × seed), each of which is one
// `mvp train … --out DIR/runs/NAME` command. Executors run them on this machine (a bounded worker
// pool) or as one Slurm job array; both are idempotent: finished runs are skipped and interrupted
// ones resume from their checkpoints, because `mvp train` resumes by itself. Status reads the run
// directories; the report aggregates their evaluations into the paper's Table-1 layout and
// learning curves with 95 % confidence bands.
package sweep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/gomvp/gomvp/mvp"
)

// Spec is a parsed sweep file. Field names are the TOML keys.
type Spec struct {
	// Name of the sweep (Slurm job name, report title). Default: the file name without extension.
	Name string `toml:"name"`
	// RunName is the template of run names; placeholders {sweep}, {agent}, {kind}, {task}, {seed},
	// {index}. Default "{agent}-{task}-s{seed}". Characters other than letters, digits, '.', '_'
	// and '-' become '-'.
	RunName string  `toml:"run_name"`
	Seeds   []int64 `toml:"seeds"`
	// Budget is the number of updates and environment steps of every run (--offline-steps,
	// --online-steps); a field left out keeps `mvp train`'s default, the paper's 1M + 1M, and an
	// explicit 0 is passed on (online-steps = 0: offline only).
	Budget Budget `toml:"budget"`
	// Flags are given to every run (lowest precedence, see Flags).
	Flags     Flags       `toml:"flags"`
	Agents    []Agent     `toml:"agents"`
	Tasks     []Task      `toml:"tasks"`
	Overrides []Override  `toml:"overrides"`
	Resources Resources   `toml:"resources"`
	Slurm     SlurmConfig `toml:"slurm"`
	Local     LocalConfig `toml:"local"`

	// Path is the file the spec was read from ("" when parsed from bytes).
	Path string `toml:"-"`
}

// Budget of every run.
type Budget struct {
	OfflineSteps *int64 `toml:"offline-steps"`
	OnlineSteps  *int64 `toml:"online-steps"`
}

// Agent is one column of the report: an agent kind with its flags.
type Agent struct {
	// Name labels the column and appears in run names; default: Kind.
	Name string `toml:"name"`
	// Kind is one of mvp.Kinds (`mvp train --agent`).
	Kind  string `toml:"kind"`
	Flags Flags  `toml:"flags"`
}

// Task is one row of the report: a dataset and the environment it is evaluated in.
type Task struct {
	Name    string `toml:"name"`
	Dataset string `toml:"dataset"`
	// Env for evaluation and online steps; default: the dataset's (as `mvp train`).
	Env   string `toml:"env"`
	Flags Flags  `toml:"flags"`
}

// Override sets flags of the runs of some agents on some tasks (both empty: every run).
type Override struct {
	Agents []string `toml:"agents"`
	Tasks  []string `toml:"tasks"`
	Flags  Flags    `toml:"flags"`
}

// Resources of one run (one Slurm array task).
type Resources struct {
	CPUs      int    `toml:"cpus"`      // --cpus-per-task; default 1
	GPUs      int    `toml:"gpus"`      // --gres=gpu:N; default 0
	Mem       string `toml:"mem"`       // --mem, e.g. "16G"; default: the cluster's
	Time      string `toml:"time"`      // --time, e.g. "2-00:00:00"; default: the partition's
	Partition string `toml:"partition"` // --partition
	Account   string `toml:"account"`   // --account
}

// SlurmConfig holds what only the Slurm executor uses.
type SlurmConfig struct {
	// MaxParallel limits how many array tasks run at once (--array=…%N); 0: no limit.
	MaxParallel int `toml:"max_parallel"`
	// Extra sbatch options, one per element, e.g. ["--qos=long", "--constraint=a100"].
	Extra []string `toml:"extra"`
	// Setup lines run before each task (module load …, source venv).
	Setup []string `toml:"setup"`
	// Binary is the mvp executable on the compute nodes; default: the submitting binary's path.
	Binary string `toml:"binary"`
}

// LocalConfig holds what only the local executor uses.
type LocalConfig struct {
	// Workers is the number of runs at once; 0: one per GPU, or 1 without GPUs.
	Workers int `toml:"workers"`
}

// Flags maps `mvp train` flag names (without dashes) to values: a string, number or boolean, a
// list (the flag is repeated) or a table (a repeated key=value flag such as dataset-opt). They are
// not checked against `mvp train`'s flags here, so a spec needs no change when flags are added;
// the command line checks them before anything is started.
type Flags map[string]any

// reserved flags are set by the sweep itself from the agent, task, seed and run directory.
var reserved = []string{"agent", "dataset", "env", "seed", "out"}

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var flagName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ParseFile reads and validates a spec file.
func ParseFile(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	s, err := Parse(b, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Parse reads and validates a spec; name is the file name used in errors and for the default
// sweep name.
func Parse(data []byte, name string) (*Spec, error) {
	where := name
	if where == "" {
		where = "spec"
	}
	var s Spec
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg = fmt.Sprintf("field %q: %s", pe.LastKey, msg)
			}
			return nil, fmt.Errorf("sweep: %s:%d: %s", where, pe.Position.Line, msg)
		}
		// Type mismatches come as plain errors that carry the line and key in their text.
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("sweep: %s:%s: field %q: %s", where, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("sweep: %s: %w", where, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			if !underFlags(k) {
				keys = append(keys, k.String())
			}
		}
		if len(keys) > 0 {
			return nil, fmt.Errorf("sweep: %s: unknown field %q", where, keys[0])
		}
	}
	s.Path = name
	if s.Name == "" && name != "" {
		s.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", where, err)
	}
	return &s, nil
}

// underFlags tells whether an undecoded key lies inside a flags table (whose values are decoded
// as `any`, so nested tables of a repeated key=value flag are legitimately left to us).
func underFlags(k toml.Key) bool {
	return slices.Contains(k, "flags")
}

// validate checks every field and fills defaults; errors name the field.
func (s *Spec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("name: missing")
	}
	if s.RunName == "" {
		s.RunName = "{agent}-{task}-s{seed}"
	}
	if err := checkTemplate(s.RunName); err != nil {
		return fmt.Errorf("run_name: %w", err)
	}
	if len(s.Seeds) == 0 {
		return fmt.Errorf("seeds: missing (a list such as [0, 1, 2, 3, 4])")
	}
	seen := map[int64]bool{}
	for _, sd := range s.Seeds {
		if seen[sd] {
			return fmt.Errorf("seeds: %d appears twice", sd)
		}
		seen[sd] = true
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"offline-steps", s.Budget.OfflineSteps}, {"online-steps", s.Budget.OnlineSteps}} {
		if f.v != nil && *f.v < 0 {
			return fmt.Errorf("budget.%s: %d steps, want ≥ 0", f.name, *f.v)
		}
	}
	if err := checkFlags("flags", s.Flags); err != nil {
		return err
	}
	if len(s.Agents) == 0 {
		return fmt.Errorf("agents: missing (one [[agents]] table per method)")
	}
	agents := map[string]bool{}
	for i := range s.Agents {
		a := &s.Agents[i]
		field := fmt.Sprintf("agents[%d]", i)
		if a.Kind == "" {
			return fmt.Errorf("%s.kind: missing (one of %s)", field, strings.Join(mvp.Kinds, ", "))
		}
		if !slices.Contains(mvp.Kinds, a.Kind) {
			return fmt.Errorf("%s.kind: unknown agent kind %q (kinds: %s)", field, a.Kind, strings.Join(mvp.Kinds, ", "))
		}
		if a.Name == "" {
			a.Name = a.Kind
		}
		if agents[a.Name] {
			return fmt.Errorf("%s.name: %q is used twice", field, a.Name)
		}
		agents[a.Name] = true
		if err := checkFlags(field+".flags", a.Flags); err != nil {
			return err
		}
	}
	if len(s.Tasks) == 0 {
		return fmt.Errorf("tasks: missing (one [[tasks]] table per dataset)")
	}
	tasks := map[string]bool{}
	for i := range s.Tasks {
		t := &s.Tasks[i]
		field := fmt.Sprintf("tasks[%d]", i)
		if t.Dataset == "" {
			return fmt.Errorf("%s.dataset: missing (prefix:name, e.g. toy:cube-task1)", field)
		}
		if !strings.Contains(t.Dataset, ":") {
			return fmt.Errorf("%s.dataset: %q is not prefix:name", field, t.Dataset)
		}
		if t.Env != "" && !strings.Contains(t.Env, ":") {
			return fmt.Errorf("%s.env: %q is not prefix:name", field, t.Env)
		}
		if t.Name == "" {
			t.Name = t.Dataset[strings.LastIndex(t.Dataset, ":")+1:]
		}
		if tasks[t.Name] {
			return fmt.Errorf("%s.name: %q is used twice", field, t.Name)
		}
		tasks[t.Name] = true
		if err := checkFlags(field+".flags", t.Flags); err != nil {
			return err
		}
	}
	for i, o := range s.Overrides {
		field := fmt.Sprintf("overrides[%d]", i)
		for _, a := range o.Agents {
			if !agents[a] {
				return fmt.Errorf("%s.agents: no agent named %q", field, a)
			}
		}
		for _, t := range o.Tasks {
			if !tasks[t] {
				return fmt.Errorf("%s.tasks: no task named %q", field, t)
			}
		}
		if len(o.Flags) == 0 {
			return fmt.Errorf("%s.flags: missing", field)
		}
		if err := checkFlags(field+".flags", o.Flags); err != nil {
			return err
		}
	}
	r := &s.Resources
	if r.CPUs < 0 {
		return fmt.Errorf("resources.cpus: %d < 0", r.CPUs)
	}
	if r.CPUs == 0 {
		r.CPUs = 1
	}
	if r.GPUs < 0 {
		return fmt.Errorf("resources.gpus: %d < 0", r.GPUs)
	}
	if r.Mem != "" && !memRE.MatchString(r.Mem) {
		return fmt.Errorf("resources.mem: %q is not a Slurm size such as 16G or 4000M", r.Mem)
	}
	if r.Time != "" && !timeRE.MatchString(r.Time) {
		return fmt.Errorf("resources.time: %q is not a Slurm time such as 48:00:00 or 2-00:00:00", r.Time)
	}
	for _, v := range []struct{ f, v string }{{"resources.partition", r.Partition}, {"resources.account", r.Account}} {
		if strings.ContainsAny(v.v, " \t\n'\"") {
			return fmt.Errorf("%s: %q has spaces or quotes", v.f, v.v)
		}
	}
	if s.Slurm.MaxParallel < 0 {
		return fmt.Errorf("slurm.max_parallel: %d < 0", s.Slurm.MaxParallel)
	}
	for i, e := range s.Slurm.Extra {
		if !strings.HasPrefix(e, "-") || strings.ContainsAny(e, "\n") {
			return fmt.Errorf("slurm.extra[%d]: %q is not one sbatch option", i, e)
		}
	}
	if s.Local.Workers < 0 {
		return fmt.Errorf("local.workers: %d < 0", s.Local.Workers)
	}
	// Expanding catches duplicate run names (a template without {seed}, say).
	_, err := s.Expand()
	return err
}

var (
	memRE  = regexp.MustCompile(`^[0-9]+[KMGT]?$`)
	timeRE = regexp.MustCompile(`^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$`)
)

// checkFlags checks names and value types of a flags table.
func checkFlags(field string, f Flags) error {
	for k, v := range f {
		if !flagName.MatchString(k) {
			return fmt.Errorf("%s.%s: not a flag name", field, k)
		}
		if slices.Contains(reserved, k) {
			return fmt.Errorf("%s.%s: set by the sweep (from the agent, task, seed and run directory); not a flag here", field, k)
		}
		if _, _, err := flagValues(v); err != nil {
			return fmt.Errorf("%s.%s: %w", field, k, err)
		}
	}
	return nil
}

// flagValues turns a TOML value into the values of a (possibly repeated) flag.
func flagValues(v any) (vals []string, isBool bool, err error) {
	switch x := v.(type) {
	case string:
		return []string{x}, false, nil
	case int64:
		return []string{strconv.FormatInt(x, 10)}, false, nil
	case float64:
		return []string{strconv.FormatFloat(x, 'g', -1, 64)}, false, nil
	case bool:
		return []string{strconv.FormatBool(x)}, true, nil
	case []any:
		for i, e := range x {
			vs, b, err := flagValues(e)
			if err != nil || b || len(vs) != 1 {
				if err == nil {
					err = fmt.Errorf("element %d: want a string or number", i)
				}
				return nil, false, err
			}
			vals = append(vals, vs[0])
		}
		return vals, false, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vs, _, err := flagValues(x[k])
			if err != nil || len(vs) != 1 {
				if err == nil {
					err = fmt.Errorf("want a single value")
				}
				return nil, false, fmt.Errorf("key %s: %w", k, err)
			}
			vals = append(vals, k+"="+vs[0])
		}
		return vals, false, nil
	}
	return nil, false, fmt.Errorf("unsupported value %v of type %T (want a string, number, boolean, list or table)", v, v)
}
