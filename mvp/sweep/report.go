package sweep

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomvp/gomvp/mvp/nb"
	"github.com/gomvp/gomvp/mvp/runlog"
)

// Stats summarises values over seeds. Std is the sample standard deviation (n − 1 in the
// denominator) and CI95 the half-width of the 95 % confidence interval of the mean,
// t(0.975, n − 1)·Std/√n; both are 0 for fewer than 2 values.
type Stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	CI95 float64 `json:"ci95"`
}

// Summarize computes Stats of vs.
func Summarize(vs []float64) Stats {
	s := Stats{N: len(vs)}
	if s.N == 0 {
		return s
	}
	for _, v := range vs {
		s.Mean += v
	}
	s.Mean /= float64(s.N)
	if s.N < 2 {
		return s
	}
	ss := 0.0
	for _, v := range vs {
		ss += (v - s.Mean) * (v - s.Mean)
	}
	s.Std = math.Sqrt(ss / float64(s.N-1))
	s.CI95 = TQuantile975(s.N-1) * s.Std / math.Sqrt(float64(s.N))
	return s
}

// t975 holds Student's t 0.975 quantiles for 1 … 30 degrees of freedom.
var t975 = [...]float64{12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
	2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
	2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407,
	2.045230, 2.042272}

// TQuantile975 is Student's t 0.975 quantile with df degrees of freedom: a table up to 30, then
// the Cornish-Fisher expansion around the normal quantile (error below 1e-4 there).
func TQuantile975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	if df <= len(t975) {
		return t975[df-1]
	}
	z, n := 1.959963984540054, float64(df)
	z3, z5, z7 := z*z*z, math.Pow(z, 5), math.Pow(z, 7)
	return z + (z3+z)/(4*n) + (5*z5+16*z3+3*z)/(96*n*n) + (3*z7+19*z5+17*z3-15*z)/(384*n*n*n)
}

// RunFinal is one run's latest evaluation.
type RunFinal struct {
	Name       string  `json:"name"`
	Agent      string  `json:"agent"`
	Task       string  `json:"task"`
	Seed       int64   `json:"seed"`
	State      string  `json:"state"`
	Step       int64   `json:"step"`
	EvalStep   int64   `json:"eval_step"`
	Success    float64 `json:"success_rate"`
	Return     float64 `json:"return"`
	Evaluated  bool    `json:"evaluated"`   // false: no evaluation yet (left out of the table)
	InProgress bool    `json:"in_progress"` // not done: reported at its latest evaluation
	Error      string  `json:"error,omitempty"`
}

// Cell is one task × agent entry of the table.
type Cell struct {
	Task  string `json:"task"`
	Agent string `json:"agent"`
	Stats
	Runs       int       `json:"runs"` // runs in the sweep; N of them have an evaluation
	Values     []float64 `json:"values"`
	InProgress bool      `json:"in_progress"`
	Best       bool      `json:"best"`
}

// CurvePoint is the success rate over seeds at one evaluation step.
type CurvePoint struct {
	Step int64 `json:"step"`
	Stats
}

// Curve is one agent's learning curve on one task.
type Curve struct {
	Task   string       `json:"task"`
	Agent  string       `json:"agent"`
	Points []CurvePoint `json:"points"`
}

// Report is the aggregate of a sweep: the Table-1 layout (rows = tasks, columns = agents, a row
// of averages over tasks), learning curves and every run's latest evaluation.
type Report struct {
	Sweep   string     `json:"sweep"`
	Tasks   []string   `json:"tasks"`
	Agents  []string   `json:"agents"`
	Table   [][]Cell   `json:"table"`   // [task][agent]
	Average []Cell     `json:"average"` // the mean over tasks of the cell means (N: tasks averaged)
	Curves  []Curve    `json:"curves"`
	Runs    []RunFinal `json:"runs"`
}

type evalPoint struct {
	step             int64
	success, return_ float64
}

// readEvals reads a run's evaluations in step order; a resumed run may log a step twice, and the
// last record of a step wins.
func readEvals(rd string) ([]evalPoint, error) {
	recs, err := runlog.ReadJSONL(filepath.Join(rd, "metrics.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	by := map[int64]evalPoint{}
	for _, r := range recs {
		if r.Phase != "eval" {
			continue
		}
		v, ok := r.Metrics["success_rate"]
		if !ok || math.IsNaN(v) {
			continue
		}
		by[r.Step] = evalPoint{step: r.Step, success: v, return_: r.Metrics["return"]}
	}
	out := make([]evalPoint, 0, len(by))
	for _, p := range by {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].step < out[j].step })
	return out, nil
}

// BuildReport aggregates the sweep directory's runs.
func (d *SweepDir) BuildReport(now time.Time) (*Report, error) {
	rep := &Report{Sweep: d.Spec.Name}
	for _, t := range d.Spec.Tasks {
		rep.Tasks = append(rep.Tasks, t.Name)
	}
	for _, a := range d.Spec.Agents {
		rep.Agents = append(rep.Agents, a.Name)
	}
	ti, ai := index(rep.Tasks), index(rep.Agents)
	rep.Table = make([][]Cell, len(rep.Tasks))
	for i, t := range rep.Tasks {
		rep.Table[i] = make([]Cell, len(rep.Agents))
		for j, a := range rep.Agents {
			rep.Table[i][j] = Cell{Task: t, Agent: a, Values: []float64{}}
		}
	}
	type key struct{ t, a int }
	curveVals := map[key]map[int64][]float64{}
	for _, r := range d.Runs {
		st, err := StateOf(d.Dir, r, now)
		if err != nil {
			return nil, err
		}
		evals, err := readEvals(RunDir(d.Dir, r.Name))
		if err != nil {
			return nil, fmt.Errorf("sweep: run %s: %w", r.Name, err)
		}
		f := RunFinal{Name: r.Name, Agent: r.Agent, Task: r.Task, Seed: r.Seed, State: st.State, Step: st.Step,
			InProgress: st.State != Done, Error: st.Error}
		i, okT := ti[r.Task]
		j, okA := ai[r.Agent]
		if !okT || !okA {
			return nil, fmt.Errorf("sweep: run %s: task %q or agent %q is not in the spec", r.Name, r.Task, r.Agent)
		}
		c := &rep.Table[i][j]
		c.Runs++
		if len(evals) > 0 {
			last := evals[len(evals)-1]
			f.Evaluated, f.EvalStep, f.Success, f.Return = true, last.step, last.success, last.return_
			c.Values = append(c.Values, last.success)
			c.InProgress = c.InProgress || f.InProgress
			k := key{i, j}
			if curveVals[k] == nil {
				curveVals[k] = map[int64][]float64{}
			}
			for _, p := range evals {
				curveVals[k][p.step] = append(curveVals[k][p.step], p.success)
			}
		}
		rep.Runs = append(rep.Runs, f)
	}
	for i := range rep.Table {
		for j := range rep.Table[i] {
			c := &rep.Table[i][j]
			c.Stats = Summarize(c.Values)
		}
		markBest(rep.Table[i])
	}
	for j, a := range rep.Agents {
		avg := Cell{Task: "average", Agent: a, Values: []float64{}}
		for i := range rep.Tasks {
			if c := rep.Table[i][j]; c.N > 0 {
				avg.Values = append(avg.Values, c.Mean)
				avg.Runs += c.Runs
				avg.InProgress = avg.InProgress || c.InProgress
			}
		}
		avg.N = len(avg.Values)
		for _, v := range avg.Values {
			avg.Mean += v / float64(avg.N)
		}
		rep.Average = append(rep.Average, avg)
	}
	markBest(rep.Average)
	for i, t := range rep.Tasks {
		for j, a := range rep.Agents {
			vals := curveVals[key{i, j}]
			if len(vals) == 0 {
				continue
			}
			cv := Curve{Task: t, Agent: a}
			for s, vs := range vals {
				cv.Points = append(cv.Points, CurvePoint{Step: s, Stats: Summarize(vs)})
			}
			sort.Slice(cv.Points, func(p, q int) bool { return cv.Points[p].Step < cv.Points[q].Step })
			rep.Curves = append(rep.Curves, cv)
		}
	}
	return rep, nil
}

func index(names []string) map[string]int {
	m := map[string]int{}
	for i, n := range names {
		m[n] = i
	}
	return m
}

// markBest marks the cells whose mean is the row's highest (ties all marked).
func markBest(row []Cell) {
	best := math.Inf(-1)
	for _, c := range row {
		if c.N > 0 {
			best = max(best, c.Mean)
		}
	}
	for k := range row {
		row[k].Best = row[k].N > 0 && row[k].Mean >= best-1e-12
	}
}

// cellText is "mean ± std" with two decimals; ** marks the row's best, † a cell with runs in
// progress, (n/m) a cell where fewer runs than the sweep's have an evaluation.
func cellText(c Cell, withStd bool) string {
	if c.N == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f", c.Mean)
	if withStd && c.N >= 2 {
		s += fmt.Sprintf(" ± %.2f", c.Std)
	}
	if c.Best {
		s = "**" + s + "**"
	}
	if c.N < c.Runs && withStd {
		s += fmt.Sprintf(" (%d/%d)", c.N, c.Runs)
	}
	if c.InProgress {
		s += " †"
	}
	return s
}

// Markdown renders the table: rows tasks, columns agents, the average row last.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| task | %s |\n|---|%s\n", strings.Join(r.Agents, " | "), strings.Repeat("---|", len(r.Agents)))
	inProgress, partial := false, false
	for i, t := range r.Tasks {
		cells := make([]string, len(r.Agents))
		for j, c := range r.Table[i] {
			cells[j] = cellText(c, true)
			inProgress = inProgress || c.InProgress
			partial = partial || (c.N < c.Runs)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", t, strings.Join(cells, " | "))
	}
	cells := make([]string, len(r.Agents))
	for j, c := range r.Average {
		cells[j] = cellText(c, false)
		if c.N > 0 && c.N < len(r.Tasks) {
			cells[j] += fmt.Sprintf(" (%d/%d tasks)", c.N, len(r.Tasks))
		}
	}
	fmt.Fprintf(&b, "| average | %s |\n", strings.Join(cells, " | "))
	b.WriteString("\nSuccess rate at each run's latest evaluation, mean ± standard deviation over seeds; **best** of each row.\n")
	if inProgress {
		b.WriteString("† includes runs still in progress, reported at their latest evaluation.\n")
	}
	if partial {
		b.WriteString("(n/m): n of the cell's m runs have an evaluation yet.\n")
	}
	return b.String()
}

// CurveSVG draws one task's learning curves: the mean success rate over seeds of each agent with
// its 95 % confidence band.
func (r *Report) CurveSVG(task string) string { return r.curvePlot(task, true).SVG() }

// curvePlot draws one task; each agent keeps its colour in every panel, with or without a legend.
func (r *Report) curvePlot(task string, legend bool) *nb.Plot {
	var maxStep int64
	for _, c := range r.Curves {
		for _, p := range c.Points {
			maxStep = max(maxStep, p.Step)
		}
	}
	unit, label := 1.0, "training steps"
	switch {
	case maxStep >= 1_000_000:
		unit, label = 1e6, "training steps (millions)"
	case maxStep >= 10_000:
		unit, label = 1e3, "training steps (thousands)"
	}
	p := nb.NewPlot(task).Labels(label, "success rate").Size(420, 300).YRange(0, 1)
	for j, a := range r.Agents {
		for _, c := range r.Curves {
			if c.Task != task || c.Agent != a {
				continue
			}
			x := make([]float64, len(c.Points))
			m, lo, hi := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
			for k, pt := range c.Points {
				x[k], m[k], lo[k], hi[k] = float64(pt.Step)/unit, pt.Mean, pt.Mean-pt.CI95, pt.Mean+pt.CI95
			}
			name := a
			if !legend {
				name = ""
			}
			p.Line(name, x, m).Color(agentColor(j)).Band(x, lo, hi)
		}
	}
	return p
}

func agentColor(j int) string { return nb.Palette[j%len(nb.Palette)] }

// FigureSVG puts every task's curves side by side, three panels a row, with one legend below
// (the paper's Figure 3).
func (r *Report) FigureSVG() string {
	const w, h, cols, legendH = 420, 300, 3, 28
	n := len(r.Tasks)
	rows := (n + cols - 1) / cols
	width, height := w*min(n, cols), h*rows+legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, width, height)
	for i, t := range r.Tasks {
		panel := r.curvePlot(t, false).SVG()
		panel = strings.Replace(panel, "<svg ", fmt.Sprintf(`<svg x="%d" y="%d" `, w*(i%cols), h*(i/cols)), 1)
		b.WriteString(panel)
	}
	x, y := 20.0, float64(h*rows)+legendH/2
	for j, a := range r.Agents {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`, x, y, x+22, y, agentColor(j))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#222">%s</text>`, x+28, y+4, html.EscapeString(a))
		x += 40 + 7.5*float64(len([]rune(a)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// Write writes table.md, report.json, runs.csv, table.csv, curves.csv, curves.svg and one
// curves-TASK.svg per task into dir, and returns the paths.
func (r *Report) Write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var files []string
	put := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		files = append(files, p)
		return nil
	}
	if err := put("table.md", []byte(r.Markdown())); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := put("report.json", append(js, '\n')); err != nil {
		return nil, err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	runs := [][]string{{"task", "agent", "seed", "run", "state", "step", "eval_step", "success_rate", "return", "in_progress"}}
	for _, x := range r.Runs {
		succ, ret := "", ""
		if x.Evaluated {
			succ, ret = f(x.Success), f(x.Return)
		}
		runs = append(runs, []string{x.Task, x.Agent, strconv.FormatInt(x.Seed, 10), x.Name, x.State,
			strconv.FormatInt(x.Step, 10), strconv.FormatInt(x.EvalStep, 10), succ, ret, strconv.FormatBool(x.InProgress)})
	}
	table := [][]string{{"task", "agent", "n", "runs", "mean", "std", "ci95", "best", "in_progress"}}
	for i := range r.Tasks {
		for _, c := range r.Table[i] {
			table = append(table, []string{c.Task, c.Agent, strconv.Itoa(c.N), strconv.Itoa(c.Runs), f(c.Mean), f(c.Std), f(c.CI95), strconv.FormatBool(c.Best), strconv.FormatBool(c.InProgress)})
		}
	}
	for _, c := range r.Average {
		table = append(table, []string{"average", c.Agent, strconv.Itoa(c.N), strconv.Itoa(c.Runs), f(c.Mean), "", "", strconv.FormatBool(c.Best), strconv.FormatBool(c.InProgress)})
	}
	curves := [][]string{{"task", "agent", "step", "n", "mean", "std", "ci95"}}
	for _, c := range r.Curves {
		for _, p := range c.Points {
			curves = append(curves, []string{c.Task, c.Agent, strconv.FormatInt(p.Step, 10), strconv.Itoa(p.N), f(p.Mean), f(p.Std), f(p.CI95)})
		}
	}
	for _, t := range []struct {
		name string
		rows [][]string
	}{{"runs.csv", runs}, {"table.csv", table}, {"curves.csv", curves}} {
		var sb strings.Builder
		w := csv.NewWriter(&sb)
		_ = w.WriteAll(t.rows)
		if err := put(t.name, []byte(sb.String())); err != nil {
			return nil, err
		}
	}
	if err := put("curves.svg", []byte(r.FigureSVG())); err != nil {
		return nil, err
	}
	for _, t := range r.Tasks {
		if err := put("curves-"+RunName("{task}", map[string]string{"task": t})+".svg", []byte(r.CurveSVG(t))); err != nil {
			return nil, err
		}
	}
	return files, nil
}
