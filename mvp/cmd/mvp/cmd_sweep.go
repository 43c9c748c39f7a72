package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gomvp/gomvp/mvp/sweep"
)

func init() {
	register(&command{name: "sweep", summary: "run, track and report a study (spec file → runs; local or Slurm)", run: runSweep})
}

const sweepUsage = `usage:
  mvp sweep run SPEC --out DIR [--executor local|slurm] [--workers N] [--dry-run] [--json]
  mvp sweep status DIR [--json]
  mvp sweep report DIR [--report-dir D] [--json]
  mvp sweep task [--job J] RUN_DIR -- train ARGS…   (the body of each Slurm array task)

A spec (sweeps/*.toml) expands into agent × task × seed runs, each 'mvp train … --out DIR/runs/NAME'.
Running again skips finished runs and resumes interrupted ones from their checkpoints.`

func runSweep(args []string) error {
	err := sweepCommand(args)
	if err != nil && strings.HasPrefix(err.Error(), "sweep: ") {
		return fmt.Errorf("mvp %w", err) // "mvp sweep: …", not "mvp sweep: sweep: …"
	}
	return err
}

func sweepCommand(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, sweepUsage)
		if len(args) == 0 {
			return fmt.Errorf("mvp sweep: missing subcommand (run, status, report)")
		}
		return nil
	}
	switch args[0] {
	case "run":
		return sweepRun(args[1:])
	case "status":
		return sweepStatus(args[1:])
	case "report":
		return sweepReport(args[1:])
	case "task":
		return sweepTask(args[1:])
	}
	return fmt.Errorf("mvp sweep: unknown subcommand %q (run, status, report)", args[0])
}

// parseInterleaved parses flags that may come before or after the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func selfExe() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("mvp sweep: locating this binary: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

func printJSONLine(v any) error { return json.NewEncoder(os.Stdout).Encode(v) }

var usageFlag = regexp.MustCompile(`(?m)^\s+-([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// usageFlags reads the flag names out of a flag package usage text.
func usageFlags(usage string) map[string]bool {
	known := map[string]bool{}
	for _, m := range usageFlag.FindAllStringSubmatch(usage, -1) {
		known[m[1]] = true
	}
	return known
}

// checkTrainFlags refuses flags that `mvp train` of binary exe does not have, before any run
// starts (a typo would otherwise fail every array task).
func checkTrainFlags(exe string, runs []sweep.Run) error {
	out, _ := exec.Command(exe, "train", "-h").CombinedOutput() // -h exits non-zero
	known := usageFlags(string(out))
	if len(known) == 0 {
		return fmt.Errorf("mvp sweep: could not read the flags of %s train", exe)
	}
	for _, f := range sweep.FlagNames(runs) {
		if !known[f] {
			return fmt.Errorf("mvp sweep: the spec sets --%s, which `%s train` does not have", f, exe)
		}
	}
	return nil
}

func sweepRun(args []string) error {
	fs := flag.NewFlagSet("sweep run", flag.ContinueOnError)
	out := fs.String("out", "", "sweep directory (runs/, logs/, report/); an existing sweep there is continued")
	executor := fs.String("executor", "local", "local (worker pool on this machine) or slurm (one job array via sbatch)")
	workers := fs.Int("workers", 0, "local: runs at once (0: the spec's local.workers, else one per GPU, else 1)")
	dryRun := fs.Bool("dry-run", false, "print what would run (slurm: the batch script) and change nothing")
	asJSON := fs.Bool("json", false, "end with one JSON line")
	binary := fs.String("binary", "", "slurm: the mvp binary on the compute nodes (default: the spec's slurm.binary, else this binary)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return fmt.Errorf("mvp sweep run: want one SPEC and --out DIR")
	}
	if *executor != "local" && *executor != "slurm" {
		return fmt.Errorf("mvp sweep run: --executor %q: want local or slurm", *executor)
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("mvp sweep run: %w", err)
	}
	spec, err := sweep.Parse(text, pos[0])
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	exe, err := selfExe()
	if err != nil {
		return err
	}
	runs, err := spec.Expand()
	if err != nil {
		return err
	}
	if err := checkTrainFlags(exe, runs); err != nil {
		return err
	}
	var d *sweep.SweepDir
	if *dryRun {
		d = &sweep.SweepDir{Dir: dir, Spec: spec, Runs: runs}
	} else if d, err = sweep.Prepare(dir, spec, text); err != nil {
		return err
	}
	summary := map[string]any{"sweep": spec.Name, "dir": dir, "executor": *executor, "dry_run": *dryRun}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var results []sweep.RunResult
	var runErr error
	switch *executor {
	case "slurm":
		s := sweep.Slurm{Exe: *binary}
		if s.Exe == "" && spec.Slurm.Binary == "" {
			s.Exe = exe
		}
		res, err := s.Submit(ctx, d, *dryRun)
		if err != nil {
			return err
		}
		results = res.Results
		summary["job"], summary["array"] = res.Job, res.Array
		if *dryRun {
			fmt.Print(res.Script)
		} else {
			summary["script"] = res.Script
			if res.Array == "" {
				fmt.Fprintf(os.Stderr, "sweep %s: nothing to submit (every run is done, running or queued)\n", spec.Name)
			} else {
				fmt.Fprintf(os.Stderr, "sweep %s: submitted job %s, array %s (%s)\n", spec.Name, res.Job, res.Array, res.Script)
			}
		}
	case "local":
		if *dryRun {
			for _, r := range runs {
				st, err := sweep.StateOf(dir, r, time.Now())
				if err != nil {
					return err
				}
				res := sweep.RunResult{Name: r.Name, State: st.State, Action: "skipped"}
				if st.State != sweep.Done && st.State != sweep.Running {
					res.Action = "would run"
					rd := sweep.RunDir(dir, r.Name)
					fmt.Println(sweep.ShellJoin(append([]string{exe}, r.Args(rd)...)))
				}
				results = append(results, res)
			}
			break
		}
		results, runErr = sweep.Local{Exe: exe, Workers: *workers, Log: os.Stderr}.Run(ctx, d)
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Action]++
	}
	summary["runs"], summary["counts"] = results, counts
	if runErr != nil {
		summary["error"] = runErr.Error()
	}
	if *asJSON {
		if err := printJSONLine(summary); err != nil {
			return err
		}
	} else if !*dryRun || *executor == "local" {
		states := map[string]int{}
		for _, r := range results {
			states[r.State]++
		}
		fmt.Fprintf(os.Stderr, "sweep %s: %d runs; %v; states %v (mvp sweep status %s)\n", spec.Name, len(results), counts, states, dir)
	}
	return runErr
}

func sweepStatus(args []string) error {
	fs := flag.NewFlagSet("sweep status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "end with one JSON line")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("mvp sweep status: want one sweep directory")
	}
	d, err := sweep.Open(pos[0])
	if err != nil {
		return err
	}
	sts, err := d.Statuses(time.Now())
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, s := range sts {
		counts[s.State]++
	}
	if *asJSON {
		return printJSONLine(map[string]any{"sweep": d.Spec.Name, "dir": d.Dir, "runs": sts, "counts": counts})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tSTEP\tSUCCESS\tNOTE")
	for _, s := range sts {
		succ := "-"
		if s.Success != nil {
			succ = fmt.Sprintf("%.2f @%d", *s.Success, s.EvalStep)
		}
		note := s.Note
		if s.Error != "" {
			note = s.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, s.Step, succ, note)
	}
	tw.Flush()
	fmt.Printf("%d runs: %d done, %d running, %d pending, %d failed\n", len(sts), counts[sweep.Done], counts[sweep.Running], counts[sweep.Pending], counts[sweep.Failed])
	return nil
}

func sweepReport(args []string) error {
	fs := flag.NewFlagSet("sweep report", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "end with one JSON line")
	repDir := fs.String("report-dir", "", "write the report files here (default DIR/report)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("mvp sweep report: want one sweep directory")
	}
	d, err := sweep.Open(pos[0])
	if err != nil {
		return err
	}
	rep, err := d.BuildReport(time.Now())
	if err != nil {
		return err
	}
	if *repDir == "" {
		*repDir = filepath.Join(d.Dir, "report")
	}
	files, err := rep.Write(*repDir)
	if err != nil {
		return err
	}
	fmt.Print(rep.Markdown())
	fmt.Fprintf(os.Stderr, "report files: %s\n", strings.Join(files, " "))
	if !*asJSON {
		return nil
	}
	type runLine struct {
		Name       string   `json:"name"`
		State      string   `json:"state"`
		Step       int64    `json:"step"`
		Success    *float64 `json:"success_rate"`
		InProgress bool     `json:"in_progress"`
	}
	var runs []runLine
	for _, r := range rep.Runs {
		l := runLine{Name: r.Name, State: r.State, Step: r.Step, InProgress: r.InProgress}
		if r.Evaluated {
			v := r.Success
			l.Success = &v
		}
		runs = append(runs, l)
	}
	return printJSONLine(map[string]any{"sweep": rep.Sweep, "dir": d.Dir, "files": files, "tasks": rep.Tasks,
		"agents": rep.Agents, "table": rep.Table, "average": rep.Average, "runs": runs})
}

// sweepTask runs one run under its status record; Slurm's batch script execs it.
func sweepTask(args []string) error {
	fs := flag.NewFlagSet("sweep task", flag.ContinueOnError)
	job := fs.String("job", "", "the Slurm job and array task, recorded in the run's status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 3 || rest[1] != "--" {
		return fmt.Errorf("mvp sweep task: want RUN_DIR -- train ARGS…")
	}
	runDir, trainArgs := rest[0], rest[2:]
	if trainArgs[0] != "train" {
		return fmt.Errorf("mvp sweep task: runs only `mvp train`, got %q", trainArgs[0])
	}
	exe, err := selfExe()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := sweep.Process{Exe: exe, RunDir: runDir, Args: trainArgs, Job: *job, Grace: 20 * time.Second}
	code, err := p.Run(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return errors.New("mvp sweep task: " + runDir + ": mvp train exited with status " + fmt.Sprint(code) + " (see " + filepath.Join(runDir, sweep.StderrFile) + ")")
	}
	return nil
}
