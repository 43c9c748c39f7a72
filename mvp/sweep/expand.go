package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Run is one expanded run: `mvp train` with Args() in the directory RunDir(sweepDir).
type Run struct {
	// Index is the run's position in the expansion (tasks outermost, then agents, then seeds);
	// it is the Slurm array task id.
	Index int    `json:"index"`
	Name  string `json:"name"`
	Agent string `json:"agent"` // the agent's name (report column)
	Kind  string `json:"kind"`
	Task  string `json:"task"` // the task's name (report row)
	Seed  int64  `json:"seed"`
	// Train is the `mvp train` command line without the binary and without --out.
	Train []string `json:"train"`
}

// Args is the full argument list of the run's process: the binary's arguments, --out last.
func (r Run) Args(runDir string) []string {
	return append(slices.Clone(r.Train), "--out", runDir)
}

var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

var placeholders = []string{"sweep", "agent", "kind", "task", "seed", "index"}

func checkTemplate(t string) error {
	for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
		if !slices.Contains(placeholders, m[1]) {
			return fmt.Errorf("unknown placeholder {%s} in %q (known: {%s})", m[1], t, strings.Join(placeholders, "}, {"))
		}
	}
	if strings.ContainsAny(placeholder.ReplaceAllString(t, ""), "{}") {
		return fmt.Errorf("unbalanced braces in %q", t)
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// RunName fills the template; characters that do not belong in a directory name become '-'.
func RunName(template string, vals map[string]string) string {
	n := placeholder.ReplaceAllStringFunc(template, func(m string) string { return vals[m[1:len(m)-1]] })
	n = unsafeName.ReplaceAllString(n, "-")
	return strings.Trim(n, "-.")
}

// Expand lists the runs: for every task, every agent, every seed. Flags are merged with rising
// precedence: the budget, [flags], the task's, the agent's, then each matching override in file
// order.
func (s *Spec) Expand() ([]Run, error) {
	var runs []Run
	names := map[string]int{}
	for _, t := range s.Tasks {
		for _, a := range s.Agents {
			flags := map[string]any{}
			if s.Budget.OfflineSteps != nil {
				flags["offline-steps"] = *s.Budget.OfflineSteps
			}
			if s.Budget.OnlineSteps != nil {
				flags["online-steps"] = *s.Budget.OnlineSteps
			}
			for _, f := range []Flags{s.Flags, t.Flags, a.Flags} {
				for k, v := range f {
					flags[k] = v
				}
			}
			for _, o := range s.Overrides {
				if (len(o.Agents) == 0 || slices.Contains(o.Agents, a.Name)) && (len(o.Tasks) == 0 || slices.Contains(o.Tasks, t.Name)) {
					for k, v := range o.Flags {
						flags[k] = v
					}
				}
			}
			for _, seed := range s.Seeds {
				idx := len(runs)
				name := RunName(s.RunName, map[string]string{
					"sweep": s.Name, "agent": a.Name, "kind": a.Kind, "task": t.Name,
					"seed": strconv.FormatInt(seed, 10), "index": strconv.Itoa(idx),
				})
				if name == "" {
					return nil, fmt.Errorf("run_name: %q gives an empty name", s.RunName)
				}
				if j, dup := names[name]; dup {
					return nil, fmt.Errorf("run_name: %q gives the name %q to runs %d and %d (add {agent}, {task} or {seed})", s.RunName, name, j, idx)
				}
				names[name] = idx
				args := []string{"train", "--agent", a.Kind, "--dataset", t.Dataset}
				if t.Env != "" {
					args = append(args, "--env", t.Env)
				}
				args = append(args, "--seed", strconv.FormatInt(seed, 10))
				args = append(args, flagArgs(flags)...)
				runs = append(runs, Run{Index: idx, Name: name, Agent: a.Name, Kind: a.Kind, Task: t.Name, Seed: seed, Train: args})
			}
		}
	}
	return runs, nil
}

// flagArgs renders flags sorted by name; booleans as --name=true|false, repeated values as
// repeated flags.
func flagArgs(flags map[string]any) []string {
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		vals, isBool, _ := flagValues(flags[k]) // checked by validate
		for _, v := range vals {
			if isBool {
				out = append(out, "--"+k+"="+v)
			} else {
				out = append(out, "--"+k, v)
			}
		}
	}
	return out
}

// FlagNames lists the flags the runs use (for checking them against `mvp train`'s).
func FlagNames(runs []Run) []string {
	set := map[string]bool{}
	for _, r := range runs {
		for _, a := range r.Train[1:] {
			if strings.HasPrefix(a, "--") {
				n, _, _ := strings.Cut(a[2:], "=")
				set[n] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
