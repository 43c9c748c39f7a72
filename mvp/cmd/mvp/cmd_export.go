package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomvp/gomvp/mvp"
	"github.com/gomvp/gomvp/mvp/deploy"
	"github.com/gomvp/gomvp/xla/export"
)

func init() {
	register(&command{name: "export", summary: "export a trained policy's action function (onnx, gomlx, stablehlo)", run: runExport})
}

const exportUsage = `usage: mvp export --checkpoint PATH --format onnx|gomlx|stablehlo --out PATH [flags]

Exports the action function observation → action chunk (N one-step candidates from the noise
input, critic scoring and argmax inside), with no training code:

  gomlx      a policy directory (policy.json + weights.bin) for the Go package mvp/deploy
  onnx       an ONNX model, weights embedded; inputs obs [B, obs_dim] and noise [B, N, h·act_dim],
             output action [B, h·act_dim]; static batch B (--batch), or --batch 0 for a symbolic
             batch axis (the batch-1 graph scanned over the rows)
  stablehlo  the StableHLO MLIR module XLA compiles for the same function (needs a PJRT plugin)

--checkpoint is a run directory (its checkpoints/ folder), a checkpoint folder or .gmvp file (the
newest valid one is used), or a policy directory written by --format gomlx.
onnx and stablehlo need the cgo binary that make build gives when gcc is installed.

flags:
`

func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), exportUsage); fs.PrintDefaults() }
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint directory or file, or policy directory")
	format := fs.String("format", "", "onnx, gomlx or stablehlo")
	out := fs.String("out", "", "output file (onnx, stablehlo) or directory (gomlx)")
	batch := fs.Int("batch", 1, "static batch size of the onnx/stablehlo graph; 0 (onnx only): a symbolic batch axis")
	plugin := fs.String("plugin", "cpu", "PJRT plugin for stablehlo: a name found in PJRT_PLUGIN_LIBRARY_PATH, or an absolute path to the .so")
	backendFlag := fs.String("backend", "", "for --format stablehlo: xla:cpu, xla:cuda or xla:/path/plugin.so, the PJRT plugin that compiles the graph (same as --plugin)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *ckpt == "":
		return usagef("--checkpoint is required")
	case *out == "":
		return usagef("--out is required")
	case *batch < 0 || *batch == 0 && *format != "onnx":
		return usagef("--batch %d: must be at least 1 (0, a dynamic batch axis, is for --format onnx only)", *batch)
	}
	switch *format {
	case "gomlx":
	case "onnx":
		if !export.ONNXAvailable {
			return fmt.Errorf("--format onnx: %w", export.ErrNoONNX)
		}
	case "stablehlo":
		if !export.StableHLOAvailable {
			return fmt.Errorf("--format stablehlo: %w", export.ErrNoStableHLO)
		}
	case "":
		return errors.New("--format is required: onnx, gomlx or stablehlo")
	default:
		return fmt.Errorf("--format %q is not onnx, gomlx or stablehlo", *format)
	}
	if *backendFlag != "" {
		p, ok := strings.CutPrefix(*backendFlag, "xla:")
		if !ok || *format != "stablehlo" {
			return usagef("--backend %q: export compiles graphs only for --format stablehlo, with an XLA plugin (xla:cpu, xla:cuda, xla:/path/plugin.so)", *backendFlag)
		}
		*plugin = p
	}
	policy, source, err := loadPolicy(*ckpt)
	if err != nil {
		return err
	}

	size := int64(0)
	switch *format {
	case "gomlx":
		if err := policy.Save(*out); err != nil {
			return err
		}
		for _, f := range []string{deploy.ConfigFile, deploy.WeightsFile} {
			if st, err := os.Stat(filepath.Join(*out, f)); err == nil {
				size += st.Size()
			}
		}
	case "onnx", "stablehlo":
		var buf bytes.Buffer
		if *format == "onnx" {
			err = policy.WriteONNX(&buf, *batch)
		} else {
			err = policy.WriteStableHLO(&buf, *batch, *plugin)
		}
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
			return err
		}
		size = int64(buf.Len())
	}
	c := policy.Config
	fmt.Fprintf(os.Stderr, "exported %s (%s, N=%d, h=%d) from %s to %s\n", c.Kind, *format, c.Candidates, c.Horizon, source, *out)
	res := map[string]any{
		"format": *format, "out": *out, "source": source, "bytes": size, "kind": c.Kind,
		"obs_dim": c.ObsDim, "chunk_dim": c.ChunkDim(), "candidates": c.Candidates,
	}
	if *format != "gomlx" {
		var b any = *batch
		if *batch == 0 {
			b = export.BatchAxisName
		}
		res["batch"] = b
		res["inputs"] = map[string][]any{deploy.InputObs: {b, c.ObsDim}, deploy.InputNoise: {b, c.Candidates, c.ChunkDim()}}
		res["output"] = map[string][]any{deploy.OutputAct: {b, c.ChunkDim()}}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// loadPolicy reads a policy directory, a checkpoint file, or the newest valid checkpoint of a run
// or checkpoint directory.
func loadPolicy(path string) (*deploy.Policy, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("--checkpoint: %w", err)
	}
	if !st.IsDir() {
		ck, err := mvp.ReadCheckpoint(path)
		if err != nil {
			return nil, "", err
		}
		p, err := mvp.PolicyFromCheckpoint(ck)
		return p, ck.Path, err
	}
	if _, err := os.Stat(filepath.Join(path, deploy.ConfigFile)); err == nil {
		p, err := deploy.Load(path)
		return p, path, err
	}
	dir := path
	if sub := filepath.Join(path, "checkpoints"); isDir(sub) {
		dir = sub
	}
	ck, err := mvp.LatestCheckpoint(dir)
	if err != nil {
		return nil, "", err
	}
	if ck == nil {
		return nil, "", fmt.Errorf("--checkpoint %s: no checkpoint (ckpt-*.gmvp) or %s found", path, deploy.ConfigFile)
	}
	p, err := mvp.PolicyFromCheckpoint(ck)
	return p, ck.Path, err
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func writeFileAtomic(path string, data []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
