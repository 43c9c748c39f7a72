package xla

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
)

// Where a backend choice came from.
const (
	SourceFlag = "flag"           // an explicit request (a --backend flag, a config field)
	SourceEnv  = "$GOMLX_BACKEND" // the environment variable GoMLX itself reads
	SourceAuto = "auto"           // discovery: CUDA with a GPU > XLA's CPU plugin > go
)

// Choice is a backend together with what chose it.
type Choice struct {
	Backend compute.Backend
	// Name is the short, stable name recorded in runs and JSON results: "xla:cuda", "xla:cpu",
	// "xla:<plugin file>" for other plugins, or the go backend's config ("go:ops_sequential").
	Name string
	// Config reproduces the choice exactly when passed to NewBackend (plugins as absolute paths).
	Config string
	// Source is SourceFlag, SourceEnv or SourceAuto.
	Source string
	// Skipped says, for automatic discovery, why each faster candidate was not taken.
	Skipped []string
}

// String is the one line a command prints on stderr about its backend.
func (c *Choice) String() string {
	s := "backend " + c.Name
	if c.Config != c.Name {
		s += " (" + c.Config + ")"
	}
	switch c.Source {
	case SourceAuto:
		s += ", found automatically"
		if len(c.Skipped) > 0 {
			s += "; skipped: " + strings.Join(c.Skipped, "; ")
		}
	case SourceEnv:
		s += ", from " + SourceEnv
	}
	return s
}

// Select resolves a backend: requested (a --backend flag) if not empty, else $GOMLX_BACKEND, else
// the fastest one found (see Discover). An explicit request that cannot be honoured is an error
// naming what is missing: it never falls back to another backend.
func Select(requested string) (*Choice, error) {
	source := SourceFlag
	if requested == "" {
		requested, source = os.Getenv(compute.ConfigEnvVar), SourceEnv
	}
	if requested == "" || requested == "auto" {
		return Discover(DefaultPluginLocations(), GPUVisible())
	}
	b, config, err := newBackendConfig(requested)
	if err != nil {
		if source == SourceEnv {
			return nil, fmt.Errorf("%w (from $%s)", err, compute.ConfigEnvVar)
		}
		return nil, err
	}
	return &Choice{Backend: b, Name: shortName(config), Config: config, Source: source}, nil
}

// Discover picks the fastest usable backend: XLA with a CUDA PJRT plugin when gpu is true, then
// XLA with its CPU plugin, then the go backend (DefaultGoConfig), which always works. Candidates
// that are found but fail to load are reported in Choice.Skipped, never silently.
func Discover(loc PluginLocations, gpu bool) (*Choice, error) {
	var skipped []string
	try := func(plugin string) *Choice {
		if !xlaLinked { // no search: it could only find a plugin this binary cannot load
			skipped = append(skipped, "xla:"+plugin+": this binary has no XLA (pure-Go build; `make build` with gcc adds it)")
			return nil
		}
		path, err := FindPJRTPlugin(plugin, loc)
		if err != nil {
			skipped = append(skipped, "xla:"+plugin+": no plugin found")
			return nil
		}
		b, config, err := openPlugin(path, "")
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("xla:%s: %s failed to load: %v", plugin, path, err))
			return nil
		}
		return &Choice{Backend: b, Name: shortName(config), Config: config, Source: SourceAuto}
	}
	if gpu {
		if c := try("cuda"); c != nil {
			c.Skipped = skipped
			return c, nil
		}
	} else {
		skipped = append(skipped, "xla:cuda: no GPU visible")
	}
	if c := try("cpu"); c != nil {
		c.Skipped = skipped
		return c, nil
	}
	b, config, err := newBackendConfig(DefaultGoConfig)
	if err != nil {
		return nil, err
	}
	return &Choice{Backend: b, Name: config, Config: config, Source: SourceAuto, Skipped: skipped}, nil
}

// GPUVisible reports whether an NVIDIA GPU is visible to this process: a device node or a driver
// entry exists, and CUDA_VISIBLE_DEVICES does not hide every device.
func GPUVisible() bool {
	if v, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES"); ok && (strings.TrimSpace(v) == "" || strings.TrimSpace(v) == "-1") {
		return false
	}
	if m, _ := filepath.Glob("/dev/nvidia[0-9]*"); len(m) > 0 {
		return true
	}
	m, _ := filepath.Glob("/proc/driver/nvidia/gpus/*")
	return len(m) > 0
}

// shortName names a backend config for logs and results: PJRT plugins by their platform.
func shortName(config string) string {
	path, ok := strings.CutPrefix(config, "xla:")
	if !ok {
		return config
	}
	path, _, _ = strings.Cut(path, ",")
	base := filepath.Base(path)
	switch {
	case base == "xla_cuda_plugin.so" || strings.HasPrefix(base, "pjrt_c_api_cuda"):
		return "xla:cuda"
	case strings.HasPrefix(base, "pjrt_c_api_") && strings.HasSuffix(base, "_plugin.so"):
		name := strings.TrimSuffix(strings.TrimPrefix(base, "pjrt_c_api_"), "_plugin.so")
		name, _, _ = strings.Cut(name, "_v") // versioned files: pjrt_c_api_cpu_v0.54_plugin.so
		return "xla:" + name
	}
	return "xla:" + path
}
