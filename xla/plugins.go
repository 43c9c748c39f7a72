package xla

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PJRTPluginPathEnv lists directories (or plugin files), ":"-separated, searched first for PJRT plugins.
const PJRTPluginPathEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// PluginLocations are the places FindPJRTPlugin searches, in order.
type PluginLocations struct {
	// LibraryPath: the entries of $PJRT_PLUGIN_LIBRARY_PATH, directories or plugin files.
	LibraryPath []string
	// LibDirs: go-xla's install directories (~/.local/lib/go-xla, /usr/local/lib/go-xla) and
	// $LD_LIBRARY_PATH.
	LibDirs []string
	// SitePackages: Python site-packages directories, searched for the CUDA plugin that the
	// jax-cuda12-pjrt / jax-cuda13-pjrt wheels install (jax_plugins/xla_cuda1X/xla_cuda_plugin.so),
	// and for pjrt_c_api_<name>_plugin.so one level down (wheels shipping a plugin file).
	SitePackages []string
	// moreSitePackages, if set, lists further site-packages directories; FindPJRTPlugin calls it
	// only when nothing else holds the plugin (it asks the Python interpreters, a process each).
	moreSitePackages func() []string
}

// DefaultPluginLocations reads the locations from the environment and the Python installations
// found on this machine: $VIRTUAL_ENV, $CONDA_PREFIX, the .venv of the working directory or its
// nearest parent that has one, the .venv of the repository the running binary was built in
// (<repo>/bin/mvp → <repo>/.venv), pyenv and the system's python3.* directories, then, only if none
// of these holds the plugin, the site dirs python3 itself reports.
func DefaultPluginLocations() PluginLocations {
	var loc PluginLocations
	loc.LibraryPath = splitPath(os.Getenv(PJRTPluginPathEnv))
	home, _ := os.UserHomeDir()
	if home != "" {
		loc.LibDirs = append(loc.LibDirs, filepath.Join(home, ".local/lib/go-xla"))
	}
	loc.LibDirs = append(loc.LibDirs, "/usr/local/lib/go-xla")
	loc.LibDirs = append(loc.LibDirs, splitPath(os.Getenv("LD_LIBRARY_PATH"))...)
	loc.SitePackages = siteDirs(knownSiteDirs(home))
	known := loc.SitePackages
	loc.moreSitePackages = func() []string {
		seen := map[string]bool{}
		for _, d := range known {
			seen[d] = true
		}
		var more []string
		for _, d := range siteDirs(interpreterSiteDirs()) {
			if !seen[d] {
				more = append(more, d)
			}
		}
		return more
	}
	return loc
}

func splitPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// interpreterSiteDirs asks python3 (and /usr/bin/python3 when it is another interpreter) for
// its site-packages directories.
func interpreterSiteDirs() []string {
	var dirs []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pythons := []string{"python3"}
	if p, err := exec.LookPath("python3"); err != nil || !sameFile(p, "/usr/bin/python3") {
		pythons = append(pythons, "/usr/bin/python3")
	}
	for _, py := range pythons {
		out, err := exec.CommandContext(ctx, py, "-c",
			"import site, sys; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))").Output()
		if err == nil {
			dirs = append(dirs, strings.Fields(string(out))...)
		}
	}
	return dirs
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// knownSiteDirs lists the site-packages directories of the environments named above, without
// running any interpreter.
func knownSiteDirs(home string) []string {
	var candidates []string
	prefixes := []string{os.Getenv("VIRTUAL_ENV"), os.Getenv("CONDA_PREFIX")}
	// The project's venv in the working directory or the nearest parent that has one (a notebook
	// runs in notebooks/, a test in its package directory).
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isDir(filepath.Join(dir, ".venv")) {
				prefixes = append(prefixes, filepath.Join(dir, ".venv"))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	// The project's venv beside a binary built in the repository (bin/mvp → .venv), wherever it runs.
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			prefixes = append(prefixes, filepath.Join(filepath.Dir(exe), "..", ".venv"))
		}
	}
	for _, prefix := range prefixes {
		if prefix != "" {
			candidates = append(candidates, globAll(filepath.Join(prefix, "lib/python3*/site-packages"))...)
		}
	}
	patterns := []string{
		"/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/local/lib/python3*/dist-packages", "/opt/conda/lib/python3*/site-packages",
	}
	if home != "" {
		patterns = append(patterns, filepath.Join(home, ".local/lib/python3*/site-packages"),
			filepath.Join(home, ".pyenv/versions/*/lib/python3*/site-packages"),
			filepath.Join(home, "miniconda3/lib/python3*/site-packages"), filepath.Join(home, "anaconda3/lib/python3*/site-packages"))
	}
	for _, p := range patterns {
		candidates = append(candidates, globAll(p)...)
	}
	return candidates
}

// siteDirs keeps the existing directories of candidates, absolute, without duplicates.
func siteDirs(candidates []string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, d := range candidates {
		abs, err := filepath.Abs(d)
		if err != nil || seen[abs] {
			continue
		}
		seen[abs] = true
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			dirs = append(dirs, abs)
		}
	}
	return dirs
}

func globAll(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// FindPJRTPlugin returns the absolute path of the PJRT plugin for name ("cpu", "cuda", "cuda12",
// "cuda13", or any name go-xla uses: pjrt_c_api_<name>_plugin.so), or of name itself if it is a
// path. It searches loc in order: LibraryPath, LibDirs, then, for CUDA, the Python site-packages.
// The error lists every place it looked.
func FindPJRTPlugin(name string, loc PluginLocations) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) || strings.HasSuffix(name, ".so") {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", fmt.Errorf("xla: PJRT plugin path %q: %w", name, err)
		}
		if !isFile(abs) {
			return "", fmt.Errorf("xla: PJRT plugin %s: no such file", abs)
		}
		return abs, nil
	}
	isCUDA := strings.HasPrefix(name, "cuda")
	// File names in a library directory, most specific first.
	fileNames := []string{"pjrt_c_api_" + name + "_plugin.so"}
	var jaxDirs []string // jax_plugins/<dir>/xla_cuda_plugin.so in site-packages.
	switch name {
	case "cuda":
		jaxDirs = []string{"xla_cuda13", "xla_cuda12"}
	case "cuda12", "cuda13":
		jaxDirs = []string{"xla_" + name}
		fileNames = append(fileNames, "pjrt_c_api_cuda_plugin.so")
	}
	var looked []string
	check := func(path string) bool {
		looked = append(looked, path)
		return isFile(path)
	}
	for _, entry := range loc.LibraryPath {
		if !isDir(entry) {
			// An entry may name the plugin file itself.
			if check(entry) && (pluginMatches(entry, fileNames) || isCUDA && filepath.Base(entry) == "xla_cuda_plugin.so") {
				return filepath.Abs(entry)
			}
			continue
		}
		if p, ok := searchDir(entry, name, fileNames, check); ok {
			return filepath.Abs(p)
		}
		if isCUDA && check(filepath.Join(entry, "xla_cuda_plugin.so")) {
			return filepath.Abs(filepath.Join(entry, "xla_cuda_plugin.so"))
		}
	}
	for _, dir := range loc.LibDirs {
		if p, ok := searchDir(dir, name, fileNames, check); ok {
			return filepath.Abs(p)
		}
	}
	// In site-packages: a jax CUDA wheel's plugin, or a plugin file in any wheel's package
	// directory (e.g. a CPU plugin).
	searchSites := func(sites []string) (string, bool) {
		for _, site := range sites {
			for _, d := range jaxDirs {
				if p := filepath.Join(site, "jax_plugins", d, "xla_cuda_plugin.so"); check(p) {
					return p, true
				}
			}
			pattern := filepath.Join(site, "*", "pjrt_c_api_"+name+"_plugin.so")
			looked = append(looked, pattern)
			if m := globAll(pattern); len(m) > 0 {
				return m[0], true
			}
		}
		return "", false
	}
	if p, ok := searchSites(loc.SitePackages); ok {
		return filepath.Abs(p)
	}
	if loc.moreSitePackages != nil {
		if p, ok := searchSites(loc.moreSitePackages()); ok {
			return filepath.Abs(p)
		}
	}
	hint := "set " + PJRTPluginPathEnv + " to the directory holding pjrt_c_api_" + name + "_plugin.so, or use xla:/abs/path/plugin.so"
	if isCUDA {
		hint += ", or pip install jax-cuda12-pjrt (or jax-cuda13-pjrt) into a Python environment"
	}
	if len(looked) == 0 {
		return "", fmt.Errorf("xla: no PJRT plugin %q: no search location exists (%s is unset, no go-xla or Python directories found); %s",
			name, PJRTPluginPathEnv, hint)
	}
	return "", fmt.Errorf("xla: no PJRT plugin %q (nothing is downloaded); looked for:\n  %s\n%s",
		name, strings.Join(looked, "\n  "), hint)
}

// searchDir looks in dir for the exact file names, then for versioned ones
// (pjrt_c_api_<name>_v<version>_plugin.so, as go-xla installs them).
func searchDir(dir, name string, fileNames []string, check func(string) bool) (string, bool) {
	if !isDir(dir) {
		return "", false
	}
	for _, f := range fileNames {
		if p := filepath.Join(dir, f); check(p) {
			return p, true
		}
	}
	if m := globAll(filepath.Join(dir, "pjrt_c_api_"+name+"_v*_plugin.so")); len(m) > 0 {
		return m[len(m)-1], true // The newest by name order.
	}
	return "", false
}

func pluginMatches(path string, fileNames []string) bool {
	base := filepath.Base(path)
	for _, f := range fileNames {
		if base == f {
			return true
		}
	}
	return strings.HasPrefix(base, "pjrt_c_api_") && strings.HasSuffix(base, "_plugin.so")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// prepareCUDAEnv points XLA at the CUDA tools (ptxas, libdevice) of the NVIDIA wheels next to a
// plugin that came from a jax wheel, unless XLA_FLAGS already says where they are.
func prepareCUDAEnv(pluginPath string) {
	if filepath.Base(pluginPath) != "xla_cuda_plugin.so" || strings.Contains(os.Getenv("XLA_FLAGS"), "xla_gpu_cuda_data_dir") {
		return
	}
	site := filepath.Dir(filepath.Dir(filepath.Dir(pluginPath))) // site-packages/jax_plugins/xla_cudaNN/…
	for _, d := range []string{"nvidia/cu13", "nvidia/cuda_nvcc"} {
		if dir := filepath.Join(site, d); isDir(dir) {
			flags := strings.TrimSpace(os.Getenv("XLA_FLAGS") + " --xla_gpu_cuda_data_dir=" + dir)
			_ = os.Setenv("XLA_FLAGS", flags)
			if bin := filepath.Join(dir, "bin"); isDir(bin) {
				_ = os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			}
			return
		}
	}
}
