package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestSummarize(t *testing.T) {
	// By hand: mean 0.5; deviations −0.3, −0.1, 0.4; sum of squares 0.26; sample variance 0.13;
	// std 0.3605551; CI95 = t(0.975, 2) · std / √3 = 4.302653 · 0.2081666 = 0.8956686.
	s := Summarize([]float64{0.2, 0.4, 0.9})
	if s.N != 3 || !near(s.Mean, 0.5) || !near(s.Std, 0.3605551) || !near(s.CI95, 0.8956686) {
		t.Errorf("Summarize(0.2, 0.4, 0.9) = %+v", s)
	}
	// Two values: std 0.0707107, CI95 = 12.706205 · 0.05 = 0.6353103.
	s = Summarize([]float64{0.5, 0.6})
	if !near(s.Mean, 0.55) || !near(s.Std, 0.0707107) || !near(s.CI95, 0.6353103) {
		t.Errorf("Summarize(0.5, 0.6) = %+v", s)
	}
	if s := Summarize([]float64{0.7}); s.N != 1 || s.Mean != 0.7 || s.Std != 0 || s.CI95 != 0 {
		t.Errorf("one value: %+v", s)
	}
	if s := Summarize(nil); s.N != 0 || s.Mean != 0 {
		t.Errorf("no value: %+v", s)
	}
}

func TestTQuantile975(t *testing.T) {
	// Reference quantiles (scipy.stats.t.ppf(0.975, df)).
	for df, want := range map[int]float64{1: 12.7062047, 4: 2.7764451, 30: 2.0422725, 31: 2.0395134, 40: 2.0210754, 100: 1.9839715, 1000: 1.9623391} {
		if got := TQuantile975(df); math.Abs(got-want) > 1e-4 {
			t.Errorf("t(0.975, %d) = %.7f, want %.7f", df, got, want)
		}
	}
	if !math.IsNaN(TQuantile975(0)) {
		t.Error("df 0 is not NaN")
	}
}

// reportFixture: tasks A, B × agents x, y × seeds 0–2, with known evaluations.
func reportFixture(t *testing.T) *SweepDir {
	t.Helper()
	spec := `name = "rep"
seeds = [0, 1, 2]
[[agents]]
name = "x"
kind = "mvp"
[[agents]]
name = "y"
kind = "qc"
[[tasks]]
name = "A"
dataset = "toy:pointmass"
[[tasks]]
name = "B"
dataset = "toy:cube-task1"
`
	s, err := Parse([]byte(spec), "rep.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := Prepare(dir, s, []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	host, _ := os.Hostname()
	// evals: step → success, in log order; "" marks a run without metrics.
	type fx struct {
		state string
		evals [][2]float64
	}
	runs := map[string]fx{
		// A/x: at step 100 the first log of seed 0 is overwritten by its resumed re-log.
		"x-A-s0": {"done", [][2]float64{{100, 0.9}, {100, 0.0}, {200, 0.2}}},
		"x-A-s1": {"done", [][2]float64{{100, 0.2}, {200, 0.4}}},
		"x-A-s2": {"done", [][2]float64{{100, 0.4}, {200, 0.9}}},
		"y-A-s0": {"done", [][2]float64{{200, 0.5}}},
		"y-A-s1": {"failed", [][2]float64{{200, 0.6}}},
		"y-A-s2": {"pending", nil},
		"x-B-s0": {"done", [][2]float64{{200, 1}}},
		"x-B-s1": {"done", [][2]float64{{200, 1}}},
		"x-B-s2": {"done", [][2]float64{{200, 1}}},
		"y-B-s0": {"done", [][2]float64{{200, 1}}},
		"y-B-s1": {"done", [][2]float64{{200, 1}}},
		"y-B-s2": {"running", [][2]float64{{100, 0.7}}},
	}
	for _, r := range d.Runs {
		f, ok := runs[r.Name]
		if !ok {
			t.Fatalf("fixture lacks run %s", r.Name)
		}
		var m strings.Builder
		for _, e := range f.evals {
			fmt.Fprintf(&m, `{"step":%d,"phase":"train","actor_loss":1}`+"\n", int(e[0]))
			fmt.Fprintf(&m, `{"step":%d,"phase":"eval","success_rate":%g,"return":-1}`+"\n", int(e[0]), e[1])
		}
		rd := RunDir(dir, r.Name)
		var rec *Record
		switch f.state {
		case "done":
			rec = &Record{State: "exited", Start: now, Heartbeat: now, Args: r.Args(rd)}
		case "failed":
			rec = &Record{State: "exited", Start: now, Heartbeat: now, ExitCode: 1, Error: "boom", Args: r.Args(rd)}
		case "running":
			rec = &Record{State: "running", Start: now, Heartbeat: now, Host: host, PID: os.Getpid(), Args: r.Args(rd)}
		}
		fakeRun(t, dir, r, rec, nil, m.String())
	}
	return d
}

func TestReport(t *testing.T) {
	d := reportFixture(t)
	rep, err := d.BuildReport(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		n, runs         int
		mean, std, ci   float64
		best, inProgres bool
	}
	check := func(c Cell, w want) {
		t.Helper()
		if c.N != w.n || c.Runs != w.runs || !near(c.Mean, w.mean) || !near(c.Std, w.std) || !near(c.CI95, w.ci) || c.Best != w.best || c.InProgress != w.inProgres {
			t.Errorf("cell %s/%s = %+v, want %+v", c.Task, c.Agent, c, w)
		}
	}
	check(rep.Table[0][0], want{3, 3, 0.5, 0.3605551, 0.8956686, false, false})
	// A/y: the failed run counts at its last evaluation (and marks the cell in progress); the
	// pending one has none.
	check(rep.Table[0][1], want{2, 3, 0.55, 0.0707107, 0.6353103, true, true})
	check(rep.Table[1][0], want{3, 3, 1, 0, 0, true, false})
	// B/y: (1 + 1 + 0.7)/3 = 0.9; deviations 0.1, 0.1, −0.2: variance 0.03, std 0.1732051,
	// CI 4.302653 · 0.1 = 0.4302653.
	check(rep.Table[1][1], want{3, 3, 0.9, 0.1732051, 0.4302653, false, true})
	// Averages over tasks: x (0.5 + 1)/2 = 0.75, y (0.55 + 0.9)/2 = 0.725.
	if a := rep.Average; !near(a[0].Mean, 0.75) || !near(a[1].Mean, 0.725) || !a[0].Best || a[1].Best || a[0].N != 2 {
		t.Errorf("average %+v", a)
	}
	// Curve A/x at step 100: 0.0 (the re-logged value), 0.2, 0.4 → mean 0.2, std 0.2,
	// CI 4.302653 · 0.2/√3 = 0.4968276.
	var ax *Curve
	for i := range rep.Curves {
		if rep.Curves[i].Task == "A" && rep.Curves[i].Agent == "x" {
			ax = &rep.Curves[i]
		}
	}
	if ax == nil || len(ax.Points) != 2 || ax.Points[0].Step != 100 || ax.Points[0].N != 3 ||
		!near(ax.Points[0].Mean, 0.2) || !near(ax.Points[0].Std, 0.2) || !near(ax.Points[0].CI95, 0.4968276) || ax.Points[1].Step != 200 {
		t.Errorf("curve A/x: %+v", ax)
	}
	for _, r := range rep.Runs {
		if r.Name == "y-B-s2" && (!r.InProgress || r.State != Running || r.EvalStep != 100 || r.Success != 0.7) {
			t.Errorf("running run: %+v", r)
		}
		if r.Name == "y-A-s2" && (r.Evaluated || r.State != Pending) {
			t.Errorf("pending run: %+v", r)
		}
	}

	md := rep.Markdown()
	for _, w := range []string{
		"| task | x | y |",
		"| A | 0.50 ± 0.36 | **0.55 ± 0.07** (2/3) † |",
		"| B | **1.00 ± 0.00** | 0.90 ± 0.17 † |",
		"| average | **0.75** | 0.73 † |",
		"† includes runs still in progress",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}

	out := filepath.Join(d.Dir, "report")
	files, err := rep.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 8 {
		t.Errorf("files %v", files)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "curves-A.svg"))
	if !strings.Contains(string(svg), "<polygon") || strings.Count(string(svg), "<polyline") != 2 {
		t.Errorf("curves-A.svg lacks a band or a line")
	}
	fig, _ := os.ReadFile(filepath.Join(out, "curves.svg"))
	if strings.Count(string(fig), "<svg") != 3 {
		t.Errorf("curves.svg should hold two panels")
	}
	// One legend below the panels; each agent has the same colour in every panel.
	if !strings.Contains(string(fig), `stroke="#ff7f0e" stroke-width="3"/><text x="`) || !strings.Contains(string(fig), `>y</text></svg>`) {
		t.Errorf("curves.svg lacks the shared legend")
	}
	if strings.Count(string(fig), `<polyline fill="none" stroke="#1f77b4"`) != 2 || strings.Count(string(fig), `<polyline fill="none" stroke="#ff7f0e"`) != 2 {
		t.Errorf("agent colours differ between panels")
	}
	var back Report
	js, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Runs) != 12 || !near(back.Table[0][0].CI95, 0.8956686) {
		t.Errorf("report.json: %v", err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "table.csv"))
	if !strings.Contains(string(csv), "A,x,3,3,0.5,0.360555,0.895669,false,false") {
		t.Errorf("table.csv:\n%s", csv)
	}
}

// TestReportBeforeAnyEvaluation: a sweep that has not evaluated anything yet still reports: every
// run pending, empty cells, empty curves.
func TestReportBeforeAnyEvaluation(t *testing.T) {
	d := localSweepDir(t)
	rep, err := d.BuildReport(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 || rep.Runs[0].State != Pending || rep.Table[0][0].N != 0 || rep.Table[0][0].Best || len(rep.Curves) != 0 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.Markdown(), "| pm | – | – |") {
		t.Errorf("markdown:\n%s", rep.Markdown())
	}
	if _, err := rep.Write(filepath.Join(d.Dir, "report")); err != nil {
		t.Fatal(err)
	}
}
