package xla

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// touch creates an empty file (and its directories) under root.
func touch(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindPJRTPlugin(t *testing.T) {
	root := t.TempDir()
	envDir := filepath.Join(root, "env")
	libDir := filepath.Join(root, "lib")
	site12 := filepath.Join(root, "venv12/lib/python3.11/site-packages")
	site13 := filepath.Join(root, "venv13/lib/python3.12/site-packages")
	cpuInEnv := touch(t, envDir, "pjrt_c_api_cpu_plugin.so")
	cpuInLib := touch(t, libDir, "pjrt_c_api_cpu_plugin.so")
	versioned := touch(t, libDir, "pjrt_c_api_tpu_v0.1.2_plugin.so")
	cuda12 := touch(t, site12, "jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	cuda13 := touch(t, site13, "jax_plugins/xla_cuda13/xla_cuda_plugin.so")
	explicit := touch(t, root, "custom/my_plugin.so")
	cpuWheel := touch(t, site12, "some_pjrt_cpu_wheel/pjrt_c_api_cpu_plugin.so")
	_ = os.MkdirAll(filepath.Join(root, "empty"), 0o755)

	cases := []struct {
		name string
		loc  PluginLocations
		want string
	}{
		{"cpu", PluginLocations{LibraryPath: []string{envDir}, LibDirs: []string{libDir}}, cpuInEnv},
		{"cpu", PluginLocations{LibraryPath: []string{filepath.Join(root, "empty")}, LibDirs: []string{libDir}}, cpuInLib},
		{"cpu", PluginLocations{LibraryPath: []string{cpuInLib}}, cpuInLib}, // An entry naming the file.
		{"tpu", PluginLocations{LibDirs: []string{libDir}}, versioned},
		{"cuda", PluginLocations{LibDirs: []string{libDir}, SitePackages: []string{site12}}, cuda12},
		{"cuda", PluginLocations{SitePackages: []string{site12, site13}}, cuda12}, // First site dir wins.
		{"cuda13", PluginLocations{SitePackages: []string{site12, site13}}, cuda13},
		{"cuda", PluginLocations{LibraryPath: []string{filepath.Dir(cuda13)}, SitePackages: []string{site12}}, cuda13},
		{explicit, PluginLocations{}, explicit},
		{"cpu", PluginLocations{LibDirs: []string{envDir + "-missing"}, SitePackages: []string{site12}}, cpuWheel},
	}
	for _, tc := range cases {
		got, err := FindPJRTPlugin(tc.name, tc.loc)
		if err != nil {
			t.Errorf("FindPJRTPlugin(%q, %+v): %v", tc.name, tc.loc, err)
			continue
		}
		if got != tc.want {
			t.Errorf("FindPJRTPlugin(%q, %+v) = %s, want %s", tc.name, tc.loc, got, tc.want)
		}
	}

	// Not found: the error lists where it looked, and says nothing was downloaded.
	loc := PluginLocations{LibraryPath: []string{envDir}, LibDirs: []string{libDir}, SitePackages: []string{filepath.Join(root, "empty")}}
	_, err := FindPJRTPlugin("cuda12", loc)
	if err == nil {
		t.Fatal("found a cuda12 plugin in directories without one")
	}
	for _, want := range []string{
		filepath.Join(envDir, "pjrt_c_api_cuda12_plugin.so"),
		filepath.Join(libDir, "pjrt_c_api_cuda_plugin.so"),
		filepath.Join(root, "empty", "jax_plugins/xla_cuda12/xla_cuda_plugin.so"),
		"jax-cuda12-pjrt", PJRTPluginPathEnv, "nothing is downloaded",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if _, err := FindPJRTPlugin(filepath.Join(root, "missing.so"), loc); err == nil || !strings.Contains(err.Error(), "missing.so") {
		t.Errorf("explicit missing path: want an error naming it, got %v", err)
	}
}

func TestDefaultPluginLocations(t *testing.T) {
	root := t.TempDir()
	t.Setenv(PJRTPluginPathEnv, "/a:/b:")
	venv := filepath.Join(root, "venv")
	site := filepath.Join(venv, "lib/python3.11/site-packages")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIRTUAL_ENV", venv)
	loc := DefaultPluginLocations()
	if len(loc.LibraryPath) != 2 || loc.LibraryPath[0] != "/a" || loc.LibraryPath[1] != "/b" {
		t.Errorf("LibraryPath = %v, want [/a /b]", loc.LibraryPath)
	}
	found := false
	for _, d := range loc.SitePackages {
		found = found || d == site
	}
	if !found {
		t.Errorf("site-packages of $VIRTUAL_ENV (%s) not among %v", site, loc.SitePackages)
	}
}

// A CUDA plugin from a jax wheel gets XLA_FLAGS (and PATH, for ptxas) pointed at the CUDA tools of
// the NVIDIA wheels beside it; an existing setting is kept.
func TestPrepareCUDAEnv(t *testing.T) {
	site := t.TempDir()
	plugin := touch(t, site, "jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	touch(t, site, "nvidia/cuda_nvcc/bin/ptxas")
	t.Setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
	t.Setenv("PATH", "/usr/bin")
	prepareCUDAEnv(plugin)
	want := "--xla_dump_to=/tmp/x --xla_gpu_cuda_data_dir=" + filepath.Join(site, "nvidia/cuda_nvcc")
	if got := os.Getenv("XLA_FLAGS"); got != want {
		t.Errorf("XLA_FLAGS = %q, want %q", got, want)
	}
	if got := os.Getenv("PATH"); !strings.HasPrefix(got, filepath.Join(site, "nvidia/cuda_nvcc/bin")+":") {
		t.Errorf("PATH = %q does not start with the wheel's bin directory", got)
	}
	t.Setenv("XLA_FLAGS", "--xla_gpu_cuda_data_dir=/opt/cuda")
	prepareCUDAEnv(plugin)
	if got := os.Getenv("XLA_FLAGS"); got != "--xla_gpu_cuda_data_dir=/opt/cuda" {
		t.Errorf("an explicit --xla_gpu_cuda_data_dir was overridden: %q", got)
	}
}

// The project's .venv is found from any directory below the one holding it (notebooks/, a package).
func TestDefaultPluginLocationsParentVenv(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, ".venv/lib/python3.12/site-packages")
	sub := filepath.Join(root, "notebooks/deeper")
	for _, d := range []string{site, sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(sub)
	t.Setenv("VIRTUAL_ENV", "")
	loc := DefaultPluginLocations()
	found := false
	for _, d := range loc.SitePackages {
		found = found || d == site
	}
	if !found {
		t.Errorf("site-packages of %s/.venv not among %v", root, loc.SitePackages)
	}
}

// The Python interpreters (a process each) are asked for their site-packages only when no other
// location holds the plugin, and the plugin is then found in what they report.
func TestInterpretersAskedOnlyWhenNeeded(t *testing.T) {
	root := t.TempDir()
	known := filepath.Join(root, "venv/lib/python3.11/site-packages")
	fromPython := filepath.Join(root, "python/lib/python3.11/site-packages")
	empty := filepath.Join(root, "empty/lib/python3.11/site-packages")
	_ = os.MkdirAll(empty, 0o755)
	inKnown := touch(t, known, "wheel/pjrt_c_api_cpu_plugin.so")
	inPython := touch(t, fromPython, "wheel/pjrt_c_api_tpu_plugin.so")
	calls := 0
	ask := func() []string { calls++; return []string{fromPython} }
	for _, c := range []struct {
		plugin string
		sites  []string
		want   string
		calls  int
	}{
		{"cpu", []string{known}, inKnown, 0},
		{"tpu", []string{known, empty}, inPython, 1},
		{"tpu", nil, inPython, 1},
		{"gpu", []string{empty}, "", 1},
	} {
		calls = 0
		got, err := FindPJRTPlugin(c.plugin, PluginLocations{SitePackages: c.sites, moreSitePackages: ask})
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), fromPython) {
				t.Errorf("%s in %v: got %q, %v; want an error listing %s", c.plugin, c.sites, got, err, fromPython)
			}
		} else if err != nil || got != c.want {
			t.Errorf("%s in %v: got %q, %v; want %s", c.plugin, c.sites, got, err, c.want)
		}
		if calls != c.calls {
			t.Errorf("%s in %v: interpreters asked %d times, want %d", c.plugin, c.sites, calls, c.calls)
		}
	}
}
