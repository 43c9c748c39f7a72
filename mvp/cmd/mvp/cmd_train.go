package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gomvp/gomvp/mvp"
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
	def := mvp.DefaultTrainConfig(mvp.DefaultAgentConfig(mvp.KindMVP, 1, 1))
	offline := fs.Int("offline-steps", def.OfflineSteps, "offline updates")
	online := fs.Int("online-steps", def.OnlineSteps, "online environment steps")
	startSteps := fs.Int("start-steps", def.StartSteps, "online environment steps before updates start")
	utd := fs.Int("utd", def.UTD, "updates per online environment step")
	seed := fs.Int64("seed", 0, "seed of everything")
	evalEvery := fs.Int("eval-every", def.EvalEvery, "evaluate every this many updates (0: only at the end)")
	evalEpisodes := fs.Int("eval-episodes", def.EvalEpisodes, "episodes per evaluation")
	evalEnvs := fs.Int("eval-envs", def.EvalEnvs, "parallel evaluation environments")
	logEvery := fs.Int("log-every", def.LogEvery, "log averaged training metrics every this many updates")
	ckptEvery := fs.Int("checkpoint-every", def.CheckpointEvery, "checkpoint every this many updates (0: only at the end)")
	keep := fs.Int("keep", def.Keep, "checkpoints to keep (0: all)")
	horizon := fs.Int("horizon", 0, "chunk length h (0: the agent's default, 5; BFN 1)")
	candidates := fs.Int("candidates", 0, "best-of-N candidates (0: the agent's default, 32; BFN 4)")
	batch := fs.Int("batch", 256, "batch size")
	lr := fs.Float64("lr", 3e-4, "Adam learning rate")
	hidden := fs.String("hidden", "512,512,512,512", "hidden widths of the actor and the critic")
	critics := fs.Int("critics", 2, "critic ensemble size")
	gamma := fs.Float64("gamma", 0.99, "discount γ")
	tau := fs.Float64("tau", 0.005, "Polyak rate τ of the target critic")
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
	if err := checkFlags(checkKind(*kind),
		atLeast("offline-steps", *offline, 0), atLeast("online-steps", *online, 0),
		atLeast("start-steps", *startSteps, 0), atLeast("utd", *utd, 1),
		atLeast("eval-every", *evalEvery, 0), atLeast("eval-episodes", *evalEpisodes, 0),
		atLeast("eval-envs", *evalEnvs, 1), atLeast("log-every", *logEvery, 1),
		atLeast("checkpoint-every", *ckptEvery, 0), atLeast("keep", *keep, 0),
		atLeast("horizon", *horizon, 0), atLeast("candidates", *candidates, 0),
		atLeast("batch", *batch, 1), positive("lr", *lr), atLeast("critics", *critics, 1),
		inRange("gamma", *gamma, 0, 1, true), inRange("tau", *tau, 0, 1, false),
		checkPluginOptions("dataset-opt", plugins.Dataset, *dataSpec, dataOpt),
		checkEnv(*envSpec, envOpt, envGiven, *online > 0 || *evalEpisodes > 0),
	); err != nil {
		return err
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
	ac := mvp.DefaultAgentConfig(*kind, data.ObsDim, data.ActDim)
	if *horizon > 0 {
		ac.Horizon = *horizon
	}
	if *candidates > 0 && ac.UseCritic {
		ac.Candidates = *candidates
	}
	ac.BatchSize, ac.LearningRate = *batch, *lr
	ac.ActorHidden, ac.Critic.Hidden = widths, widths
	ac.Critic.Ensemble, ac.Critic.Gamma, ac.Critic.Tau = *critics, *gamma, *tau
	cfg := mvp.DefaultTrainConfig(ac)
	cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps, cfg.UTD = *offline, *online, *startSteps, *utd
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.EvalEnvs, cfg.LogEvery = *evalEvery, *evalEpisodes, *evalEnvs, *logEvery
	cfg.CheckpointEvery, cfg.Keep, cfg.Seed, cfg.Out, cfg.Progress = *ckptEvery, *keep, *seed, *out, !*noProgress

	cfg.Backend = choice.Name
	makeEnv := func(i int) (plugins.Env, error) {
		return plugins.MakeEnv(*envSpec, plugins.EnvOptions{Seed: *seed, Extra: envOpt})
	}
	tr, err := mvp.NewTrainer(choice.Backend, cfg, data, makeEnv)
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
