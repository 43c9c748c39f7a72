package export

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ONNXRuntimeEnv names the libonnxruntime.so the onnx backend loads.
const ONNXRuntimeEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// FindONNXRuntime returns the libonnxruntime.so to use: $ONNXRUNTIME_SHARED_LIBRARY_PATH if set
// (it must exist), else the one inside the onnxruntime wheel of the project venv (.venv in the
// working directory or a parent, as scripts/setup-export.sh installs it). gomlx would otherwise
// download one from the internet; a missing library is an error instead.
func FindONNXRuntime() (string, error) {
	if p := os.Getenv(ONNXRuntimeEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("export: $%s: %w", ONNXRuntimeEnv, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err == nil {
		for {
			matches, _ := filepath.Glob(filepath.Join(dir, ".venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*"))
			if len(matches) > 0 {
				sort.Strings(matches)
				return matches[len(matches)-1], nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("export: libonnxruntime.so not found: set $%s to a libonnxruntime.so ≥ 1.26 "+
		"(the onnxruntime PyPI wheel ships one under onnxruntime/capi/; scripts/setup-export.sh installs it into .venv)", ONNXRuntimeEnv)
}
