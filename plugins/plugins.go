// Package plugins is the registry of environments and dataset formats, addressed by a name with a
// prefix ("toy:cube-task2", "ogbench:cube-double-play-singletask-task2-v0", "robomimic:square-mh",
// "remote:gym:Pendulum-v1"). Concrete plugins register themselves from init functions and are linked
// in with blank imports, as database/sql drivers are.
package plugins

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gomvp/gomvp/datasets"
)

// Step is what an environment returns after one action.
type Step struct {
	Observation []float32
	Reward      float64
	// Terminated: the episode ended inside the task (e.g. success); no value bootstraps past it.
	Terminated bool
	// Truncated: the time limit was reached.
	Truncated bool
	// Success is the environment's own success flag after this step.
	Success bool
}

// Env is one running environment instance. Implementations need not be safe for concurrent use.
type Env interface {
	ObservationDim() int
	ActionDim() int
	// MaxEpisodeSteps is the time limit, after which Step reports Truncated.
	MaxEpisodeSteps() int
	Reset(seed int64) (observation []float32, err error)
	Step(action []float32) (Step, error)
	Close() error
}

// EnvOptions are passed to environment factories.
type EnvOptions struct {
	Seed int64
	// Extra holds plugin-specific settings (e.g. "python" for the interpreter of the remote plugin).
	Extra map[string]string
}

// DatasetOptions are passed to dataset loaders.
type DatasetOptions struct {
	// Path overrides where the loader looks for the file; empty means the format's usual location.
	Path string
	// Validation asks for the validation split (OGBench's "-val" file) where the format has one.
	Validation bool
	Extra      map[string]string
}

// EnvFactory creates an environment; name is the part after "prefix:".
type EnvFactory func(name string, opts EnvOptions) (Env, error)

// DatasetLoader loads a dataset; name is the part after "prefix:".
type DatasetLoader func(name string, opts DatasetOptions) (*datasets.Dataset, error)

// Info describes a registered plugin for listings.
type Info struct {
	Prefix      string
	Description string
	// Names lists example or known names under this prefix.
	Names []string
}

var (
	mu      sync.RWMutex
	envs    = map[string]EnvFactory{}
	loaders = map[string]DatasetLoader{}
	infos   = map[string]Info{}
)

// RegisterEnv registers an environment factory under prefix. It panics on a duplicate prefix,
// as database/sql.Register does, since that is a programming error found at start-up.
func RegisterEnv(prefix string, f EnvFactory, info Info) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := envs[prefix]; dup {
		panic("plugins: RegisterEnv called twice for prefix " + prefix)
	}
	envs[prefix] = f
	mergeInfo(prefix, info)
}

// RegisterDataset registers a dataset loader under prefix. It panics on a duplicate prefix.
func RegisterDataset(prefix string, l DatasetLoader, info Info) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := loaders[prefix]; dup {
		panic("plugins: RegisterDataset called twice for prefix " + prefix)
	}
	loaders[prefix] = l
	mergeInfo(prefix, info)
}

func mergeInfo(prefix string, info Info) {
	old := infos[prefix]
	info.Prefix = prefix
	if info.Description == "" {
		info.Description = old.Description
	}
	info.Names = append(old.Names, info.Names...)
	infos[prefix] = info
}

// Split separates "prefix:name" into its parts.
func Split(spec string) (prefix, name string, err error) {
	prefix, name, ok := strings.Cut(spec, ":")
	if !ok || prefix == "" {
		return "", "", fmt.Errorf("plugins: %q has no prefix; want prefix:name, with prefix one of %v", spec, Prefixes())
	}
	return prefix, name, nil
}

// MakeEnv creates the environment named by spec ("prefix:name").
func MakeEnv(spec string, opts EnvOptions) (Env, error) {
	prefix, name, err := Split(spec)
	if err != nil {
		return nil, err
	}
	mu.RLock()
	f, ok := envs[prefix]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("plugins: no environment plugin %q for %q (registered: %v); is its package imported?", prefix, spec, envPrefixes())
	}
	env, err := f(name, opts)
	if err != nil {
		return nil, fmt.Errorf("plugins: making environment %q: %w", spec, err)
	}
	return env, nil
}

// LoadDataset loads the dataset named by spec ("prefix:name").
func LoadDataset(spec string, opts DatasetOptions) (*datasets.Dataset, error) {
	prefix, name, err := Split(spec)
	if err != nil {
		return nil, err
	}
	mu.RLock()
	l, ok := loaders[prefix]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("plugins: no dataset plugin %q for %q (registered: %v); is its package imported?", prefix, spec, datasetPrefixes())
	}
	d, err := l(name, opts)
	if err != nil {
		return nil, fmt.Errorf("plugins: loading dataset %q: %w", spec, err)
	}
	return d, nil
}

// List returns what is registered, sorted by prefix.
func List() []Info {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Info, 0, len(infos))
	for _, i := range infos {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Prefix < out[b].Prefix })
	return out
}

// HasEnv and HasDataset tell whether a prefix has that kind of plugin.
func HasEnv(prefix string) bool { mu.RLock(); defer mu.RUnlock(); _, ok := envs[prefix]; return ok }
func HasDataset(prefix string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := loaders[prefix]
	return ok
}

// Prefixes returns every registered prefix.
func Prefixes() []string {
	mu.RLock()
	defer mu.RUnlock()
	return sortedKeys(infos)
}

func envPrefixes() []string     { mu.RLock(); defer mu.RUnlock(); return sortedKeys(envs) }
func datasetPrefixes() []string { mu.RLock(); defer mu.RUnlock(); return sortedKeys(loaders) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
