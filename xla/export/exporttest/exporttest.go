// Package exporttest runs exported models with independent runtimes in tests: ONNX files with the
// onnxruntime Python package of the project venv (scripts/setup-export.sh installs it).
package exporttest

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed ort_run.py
var ortRunPy []byte

// Input is one named float32 input, row-major.
type Input struct {
	Name string
	Data []float32
	Dims []int
}

// Output is one model output as onnxruntime returned it.
type Output struct {
	Name  string
	Dims  []int
	DType string
	Data  []float32
}

// Python returns the interpreter of the project venv (.venv in the working directory or a
// parent), or an error saying how to create it.
func Python() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".venv", "bin", "python")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("exporttest: no .venv/bin/python above the working directory: run scripts/setup-export.sh")
		}
		dir = parent
	}
}

// Result is what onnxruntime reported for one run.
type Result struct {
	Outputs []Output
	// Inputs are the model's declared inputs: name, shape (a number or a symbolic name per axis)
	// and type, as onnxruntime reads them.
	Inputs  [][]any
	Version string
}

// RunONNX runs model with onnxruntime (CPU, one thread) on inputs.
func RunONNX(model string, inputs ...Input) (*Result, error) {
	outs, info, err := runONNX(model, inputs...)
	if err != nil {
		return nil, err
	}
	return &Result{Outputs: outs, Inputs: info.Inputs, Version: info.ONNXRuntime}, nil
}

type runInfo struct {
	Outputs     [][]json.RawMessage `json:"outputs"`
	Inputs      [][]any             `json:"inputs"`
	ONNXRuntime string              `json:"onnxruntime"`
}

func runONNX(model string, inputs ...Input) (outs []Output, info runInfo, err error) {
	py, err := Python()
	if err != nil {
		return nil, info, err
	}
	tmp, err := os.MkdirTemp("", "ort_run")
	if err != nil {
		return nil, info, err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "ort_run.py")
	if err := os.WriteFile(script, ortRunPy, 0o644); err != nil {
		return nil, info, err
	}
	args := []string{script, model, tmp}
	for i, in := range inputs {
		path := filepath.Join(tmp, fmt.Sprintf("in%d.bin", i))
		if err := writeF32(path, in.Data); err != nil {
			return nil, info, err
		}
		dims := make([]string, len(in.Dims))
		for j, d := range in.Dims {
			dims[j] = fmt.Sprint(d)
		}
		args = append(args, fmt.Sprintf("%s=%s:%s", in.Name, path, strings.Join(dims, "x")))
	}
	cmd := exec.Command(py, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, info, fmt.Errorf("exporttest: onnxruntime on %s: %w\n%s", model, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, &info); err != nil {
		return nil, info, fmt.Errorf("exporttest: parsing %q: %w", stdout, err)
	}
	for k, o := range info.Outputs {
		var out Output
		if err := json.Unmarshal(o[0], &out.Name); err != nil {
			return nil, info, err
		}
		if err := json.Unmarshal(o[1], &out.Dims); err != nil {
			return nil, info, err
		}
		if err := json.Unmarshal(o[2], &out.DType); err != nil {
			return nil, info, err
		}
		if out.Data, err = readF32(filepath.Join(tmp, fmt.Sprintf("%d.bin", k))); err != nil {
			return nil, info, err
		}
		outs = append(outs, out)
	}
	return outs, info, nil
}

func writeF32(path string, data []float32) error {
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}

func readF32(path string) ([]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// MaxAbsDiff returns max_i |a_i − b_i| (+Inf if the lengths differ or a value is NaN).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}
