package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/plugins"
	"github.com/gomvp/gomvp/xla"
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

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad width %q in %q", p, s)
		}
		out = append(out, n)
	}
	return out, nil
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
	keep := fs.Int("keep", def.Keep, "checkpoints to keep")
	horizon := fs.Int("horizon", 0, "chunk length h (0: the agent's default, 5; BFN 1)")
	candidates := fs.Int("candidates", 0, "best-of-N candidates (0: the agent's default, 32; BFN 4)")
	batch := fs.Int("batch", 256, "batch size")
	lr := fs.Float64("lr", 3e-4, "Adam learning rate")
	hidden := fs.String("hidden", "512,512,512,512", "hidden widths of the actor and the critic")
	criticHidden := fs.String("critic-hidden", "", "hidden widths of the critic (default: --hidden)")
	critics := fs.Int("critics", 2, "critic ensemble size")
	gamma := fs.Float64("gamma", 0.99, "discount γ")
	tau := fs.Float64("tau", 0.005, "Polyak rate τ of the target critic")
	noProgress := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	policyTarget := fs.String("policy-target", mvp.PolicyTargetBatch, "what the generator imitates: "+mvp.PolicyTargetBatch+
		" (the batch's actions) or "+mvp.PolicyTargetBestOfN+" (the critic's best of N fresh candidates and the batch action)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataSpec == "" || *out == "" {
		fs.Usage()
		return fmt.Errorf("--dataset and --out are required")
	}
	if *envSpec == "" {
		*envSpec = *dataSpec
	}
	widths, err := parseInts(*hidden)
	if err != nil {
		return fmt.Errorf("--hidden: %w", err)
	}
	criticWidths := widths
	if *criticHidden != "" {
		if criticWidths, err = parseInts(*criticHidden); err != nil {
			return fmt.Errorf("--critic-hidden: %w", err)
		}
	}
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
	if *policyTarget != mvp.PolicyTargetBatch {
		ac.PolicyTarget = *policyTarget
	}
	ac.ActorHidden, ac.Critic.Hidden = widths, criticWidths
	ac.Critic.Ensemble, ac.Critic.Gamma, ac.Critic.Tau = *critics, *gamma, *tau
	cfg := mvp.DefaultTrainConfig(ac)
	cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps, cfg.UTD = *offline, *online, *startSteps, *utd
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.EvalEnvs, cfg.LogEvery = *evalEvery, *evalEpisodes, *evalEnvs, *logEvery
	cfg.CheckpointEvery, cfg.Keep, cfg.Seed, cfg.Out, cfg.Progress = *ckptEvery, *keep, *seed, *out, !*noProgress

	backend, err := xla.Default()
	if err != nil {
		return err
	}
	makeEnv := func(i int) (plugins.Env, error) {
		return plugins.MakeEnv(*envSpec, plugins.EnvOptions{Seed: *seed, Extra: envOpt})
	}
	tr, err := mvp.NewTrainer(backend, cfg, data, makeEnv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(sum)
}
