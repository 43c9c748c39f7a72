package toy

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomvp/gomvp/plugins"
)

func init() {
	plugins.RegisterDemoWriter(Prefix, writeDemos, plugins.Info{Options: DemoOptionKeys})
}

// writeDemos is the toy plugin's demonstration writer (`mvp data gen toy:<task>`): the task's
// scripted demonstrator, configured from opts.Extra as the dataset loader is, written in OGBench's
// npz format with a validation file of a tenth as many other episodes next to it.
func writeDemos(name string, opts plugins.DemoOptions) (map[string]any, error) {
	cfg, err := DemoConfigFromExtra(opts.Extra)
	if err != nil {
		return nil, err
	}
	if opts.Out == "" {
		return nil, fmt.Errorf("toy: no output file")
	}
	task, err := New(name) // an unknown task fails before anything is written
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return nil, err
	}
	demos, err := Generate(name, cfg)
	if err != nil {
		return nil, err
	}
	if err := demos.WriteNPZ(opts.Out); err != nil {
		return nil, err
	}
	ds, err := demos.Dataset()
	if err != nil {
		return nil, err
	}
	valPath := ValidationPath(opts.Out)
	val, err := Generate(name, cfg.Validation())
	if err != nil {
		return nil, err
	}
	if err := val.WriteNPZ(valPath); err != nil {
		return nil, err
	}
	summary := map[string]any{
		"task": demos.Task, "out": opts.Out, "val": valPath, "val_episodes": len(val.Successes),
		"episodes": len(demos.Successes), "rows": demos.Rows(),
		"transitions": ds.Len(), "obs_dim": demos.ObsDim, "act_dim": demos.ActDim,
		"demo_success_rate": demos.SuccessRate(),
	}
	if opts.GIF != "" {
		f, err := os.Create(opts.GIF)
		if err != nil {
			return nil, err
		}
		episodeSeed := cfg.Seed * 1_000_003
		res, err := RenderEpisodeGIF(f, task, episodeSeed, DemoPolicy(task, cfg, episodeSeed), 256, 5)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", opts.GIF, err)
		}
		summary["gif"] = opts.GIF
		summary["gif_episode_success"] = res.Success
	}
	return summary, nil
}
