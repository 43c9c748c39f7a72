package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindONNXRuntime(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(ONNXRuntimeEnv, "")
	if _, err := FindONNXRuntime(); err == nil || !strings.Contains(err.Error(), "scripts/setup-export.sh") {
		t.Errorf("no library anywhere: got %v, want an error saying how to install one", err)
	}
	// The wheel inside a project venv above the working directory is found.
	lib := filepath.Join(dir, ".venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1")
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if got, err := FindONNXRuntime(); err != nil || got != lib {
		t.Errorf("venv library: got %q, %v; want %q", got, err, lib)
	}
	// The environment variable wins, and must name an existing file.
	t.Setenv(ONNXRuntimeEnv, filepath.Join(dir, "missing.so"))
	if _, err := FindONNXRuntime(); err == nil || !strings.Contains(err.Error(), "missing.so") {
		t.Errorf("missing $%s file: got %v", ONNXRuntimeEnv, err)
	}
}
