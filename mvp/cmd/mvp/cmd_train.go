package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/policy"
	"github.com/gomvp/gomvp/plugins"
)

func init() {
	register(&command{name: "train", summary: "train an agent offline then online; resumes from --out's last checkpoint", run: runTrain})
}

// kvFlag collects repeated key=value options.
type kvFlag map[string]string

func (f kvFlag) String() string { return fmt.Sprint(map[string]string(f)) }
func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", s)
	}
	f[k] = v
	return nil
}

// checkEnv checks the environment of a run: the one given with --env and --env-opt, or, when the
// run needs one (online steps, evaluation), the dataset's.
func checkEnv(spec string, opts map[string]string, given, needed bool) error {
	if !given && !needed {
		return nil
	}
	if _, ok := plugins.OptionKeys(plugins.Environment, spec); !ok && !given {
		prefix, _, _ := strings.Cut(spec, ":")
		return fmt.Errorf("--env: the dataset's plugin %q has no environment; give --env (e.g. remote:%s) or run with --online-steps 0 --eval-episodes 0", prefix, spec)
	}
	return checkPluginOptions("env-opt", plugins.Environment, spec, opts)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	kind := fs.String("agent", mvp.KindMVP, "agent: "+strings.Join(mvp.Kinds, ", "))
	dataSpec := fs.String("dataset", "", "dataset prefix:name (e.g. toy:cube-task1, ogbench:cube-double-play-singletask-task2-v0)")
	dataPath := fs.String("dataset-path", "", "read the dataset from this file instead of the plugin's default location")
	dataOpt := kvFlag{}
	fs.Var(dataOpt, "dataset-opt", "plugin option key=value for the dataset (repeatable), e.g. episodes=500")
	envSpec := fs.String("env", "", "environment prefix:name for evaluation and online steps (default: --dataset)")
	envOpt := kvFlag{}
	fs.Var(envOpt, "env-opt", "plugin option key=value for the environment (repeatable)")
	out := fs.String("out", "", "run directory (checkpoints, logs); an existing run there is resumed")
	// Agent flags show the mvp row of the kind table; a flag left unset keeps the chosen kind's value.
	ds, _ := mvp.DefaultSpec(mvp.KindMVP, 0, 0)
	def := mvp.DefaultTrainConfig(ds)
	offline := fs.Int("offline-steps", def.OfflineSteps, "offline updates")
	online := fs.Int("online-steps", def.OnlineSteps, "online environment steps")
	startSteps := fs.Int("start-steps", def.StartSteps, "online environment steps before updates start")
	utd := fs.Int("utd", def.UTD, "updates per online environment step")
	seed := fs.Int64("seed", 0, "seed of everything (on resume: the run's; a different one is an error)")
	evalEvery := fs.Int("eval-every", def.EvalEvery, "evaluate every this many updates (0: only at the end)")
	evalEpisodes := fs.Int("eval-episodes", def.EvalEpisodes, "episodes per evaluation")
	evalEnvs := fs.Int("eval-envs", def.EvalEnvs, "parallel evaluation environments")
	logEvery := fs.Int("log-every", def.LogEvery, "log averaged training metrics every this many updates")
	ckptEvery := fs.Int("checkpoint-every", def.CheckpointEvery, "checkpoint every this many updates (0: only at the end)")
	keep := fs.Int("keep", def.Keep, "checkpoints to keep (0: all)")
	horizon := fs.Int("horizon", ds.Horizon, "chunk length h (default: the agent kind's; BFN 1)")
	candidates := fs.Int("candidates", ds.Candidates, "best-of-N candidates (default: the agent kind's; BFN 4, BC 1)")
	batch := fs.Int("batch", ds.BatchSize, "batch size")
	lr := fs.Float64("lr", ds.LearningRate, "Adam learning rate")
	hidden := fs.String("hidden", joinInts(ds.Generator.Hidden), "hidden widths of the actor and the critic")
	criticHidden := fs.String("critic-hidden", "", "hidden widths of the critic (default: --hidden, else the agent kind's)")
	critics := fs.Int("critics", ds.Critic.Ensemble, "critic ensemble size")
	gamma := fs.Float64("gamma", ds.Critic.Gamma, "discount γ")
	tau := fs.Float64("tau", ds.Critic.Tau, "Polyak rate τ of the target critic")
	lambda := fs.Float64("lambda", ds.Generator.Lambda, "weight λ of the IVC term, ≥ 0 (mean-flow generators; mvp-lambda0 is mvp with λ = 0)")
	policyTarget := fs.String("policy-target", mvp.PolicyTargetBatch, "what the generator imitates: "+mvp.PolicyTargetBatch+
		" (the batch's actions) or "+mvp.PolicyTargetBestOfN+" (the critic's best of N fresh candidates and the batch action)")
	initFlag := fs.String("init", mvp.InitHe, "weight initialiser of every network: "+mvp.InitHe+" (GoMLX's, normal with variance 2/fan_in) or "+
		mvp.InitGlorotUniform+" (QC's default_init)")
	alpha := fs.Float64("alpha", 100, "FQL's distillation weight α, ≥ 0 (fql, qc-fql)")
	sampleSteps := fs.Int("sample-steps", ds.Generator.Steps, "generation steps k (default: the agent kind's; mvp 1, qc/bfn 10)")
	allowChange := fs.String("allow-change", "", "on resume, accept these changed settings (comma-separated): "+strings.ReplaceAll(strings.Join(mvp.ResumeChangeable, ","), "_", "-"))
	noProgress := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	backendFlag := addBackendFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Everything that can be checked without data is checked before the dataset loads.
	if *dataSpec == "" || *out == "" {
		return usagef("--dataset and --out are required")
	}
	envGiven := *envSpec != "" || len(envOpt) > 0
	if *envSpec == "" {
		*envSpec = *dataSpec
	}
	widths, err := parseWidths("hidden", *hidden)
	if err != nil {
		return err
	}
	var criticWidths []int
	if *criticHidden != "" {
		if criticWidths, err = parseWidths("critic-hidden", *criticHidden); err != nil {
			return err
		}
	}
	if err := checkFlags(checkKind(*kind),
		atLeast("offline-steps", *offline, 0), atLeast("online-steps", *online, 0),
		atLeast("start-steps", *startSteps, 0), atLeast("utd", *utd, 1),
		atLeast("eval-every", *evalEvery, 0), atLeast("eval-episodes", *evalEpisodes, 0),
		atLeast("eval-envs", *evalEnvs, 1), atLeast("log-every", *logEvery, 1),
		atLeast("checkpoint-every", *ckptEvery, 0), atLeast("keep", *keep, 0),
		atLeast("horizon", *horizon, 1), atLeast("candidates", *candidates, 1),
		atLeast("sample-steps", *sampleSteps, 1),
		atLeast("batch", *batch, 1), positive("lr", *lr), atLeast("critics", *critics, 1),
		inRange("gamma", *gamma, 0, 1, true), inRange("tau", *tau, 0, 1, false),
		oneOf("policy-target", *policyTarget, mvp.PolicyTargetBatch, mvp.PolicyTargetBestOfN),
		oneOf("init", *initFlag, mvp.InitHe, mvp.InitGlorotUniform),
		checkPluginOptions("dataset-opt", plugins.Dataset, *dataSpec, dataOpt),
		checkEnv(*envSpec, envOpt, envGiven, *online > 0 || *evalEpisodes > 0),
	); err != nil {
		return err
	}
	spec, err := mvp.DefaultSpec(*kind, 0, 0)
	if err != nil {
		return usagef("--agent: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["hidden"] {
		spec.Generator.Hidden, spec.Critic.Hidden = widths, widths
	}
	if set["lambda"] {
		if !(*lambda >= 0) || math.IsInf(*lambda, 0) {
			return usagef("--lambda %g: must be a finite value ≥ 0", *lambda)
		}
		if spec.Generator.Type != policy.MeanFlow {
			return usagef("--lambda: agent %q has no IVC term (its generator is %s)", spec.Kind, spec.Generator.Type)
		}
		spec.Generator.Lambda = *lambda
	}
	if set["critic-hidden"] {
		spec.Critic.Hidden = criticWidths
	}
	if set["alpha"] {
		if !(*alpha >= 0) || math.IsInf(*alpha, 0) {
			return usagef("--alpha %g: must be a finite value ≥ 0", *alpha)
		}
		if spec.Generator.Type != mvp.GeneratorFQL {
			return usagef("--alpha: agent %q has no distillation term (its generator is %s)", spec.Kind, spec.Generator.Type)
		}
		spec.Generator.FQL.Alpha = *alpha
	}
	if *initFlag != mvp.InitHe { // the default stays "" in the spec, as in runs written before the option
		spec.Generator.Init, spec.Critic.Init = *initFlag, *initFlag
	}
	if *policyTarget == mvp.PolicyTargetBestOfN {
		if !spec.UseCritic {
			return usagef("--policy-target %s: agent %q has no critic to select with", *policyTarget, spec.Kind)
		}
		spec.PolicyTarget = *policyTarget
	}
	if set["candidates"] && !spec.UseCritic && *candidates != spec.Candidates {
		return usagef("--candidates: agent %q has no critic to choose among candidates", spec.Kind)
	}
	for name, apply := range map[string]func(){
		"horizon": func() { spec.Horizon = *horizon }, "candidates": func() { spec.Candidates = *candidates },
		"batch": func() { spec.BatchSize = *batch }, "lr": func() { spec.LearningRate = *lr },
		"critics": func() { spec.Critic.Ensemble = *critics }, "gamma": func() { spec.Critic.Gamma = *gamma },
		"tau": func() { spec.Critic.Tau = *tau }, "sample-steps": func() { spec.Generator.Steps = *sampleSteps },
	} {
		if set[name] {
			apply()
		}
	}
	choice, err := openBackend("train", *backendFlag)
	if err != nil {
		return err
	}
	ctx, release, err := onInterrupt("train", "stopping after the current update (online: the current episode), then writing a checkpoint")
	if err != nil {
		return err
	}
	defer release()
	data, err := plugins.LoadDataset(*dataSpec, plugins.DatasetOptions{Path: *dataPath, Extra: dataOpt})
	if err != nil {
		return err
	}
	spec.ObsDim, spec.ActDim = data.ObsDim, data.ActDim
	cfg := mvp.DefaultTrainConfig(spec)
	cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps, cfg.UTD = *offline, *online, *startSteps, *utd
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.EvalEnvs, cfg.LogEvery = *evalEvery, *evalEpisodes, *evalEnvs, *logEvery
	cfg.CheckpointEvery, cfg.Keep, cfg.Seed, cfg.Out, cfg.Progress = *ckptEvery, *keep, *seed, *out, !*noProgress
	cfg.Backend = choice.Name
	if *allowChange != "" {
		cfg.AllowChange = strings.Split(*allowChange, ",")
	}
	if !set["seed"] {
		cfg.AllowChange = append(cfg.AllowChange, "seed") // a resumed run keeps its own seed
	}
	var tr *mvp.Trainer
	makeEnv := func(i int) (plugins.Env, error) {
		// The trainer's seed: on resume, the run's own.
		return plugins.MakeEnv(*envSpec, plugins.EnvOptions{Seed: tr.Config.Seed, Extra: envOpt})
	}
	tr, err = mvp.NewTrainer(choice.Backend, cfg, data, makeEnv)
	if err != nil {
		return err
	}
	sum, err := tr.Run(ctx)
	var stopped *mvp.InterruptedError
	if errors.As(err, &stopped) {
		if stopped.Checkpoint != "" {
			return fmt.Errorf("%w during %s at step %d (%d environment steps), saved in checkpoint %s; run the same command to resume",
				errInterrupted, stopped.During, stopped.Step, stopped.EnvSteps, stopped.Checkpoint)
		}
		return fmt.Errorf("%w before any update; nothing to save", errInterrupted)
	}
	if err != nil {
		if ctx.Err() != nil { // a stop that went wrong is still a stop, and says why
			return fmt.Errorf("%w: %w", errInterrupted, err)
		}
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(sum)
}
