// Package plugins is the registry of environments and dataset formats, addressed by a name with a
// prefix ("toy:cube-task2", "ogbench:cube-double-play-singletask-task2-v0", "robomimic:square-mh",
// "remote:gym:Pendulum-v1"). Concrete plugins register themselves from init functions and are linked
// in with blank imports, as database/sql drivers are.
package plugins

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
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

// DemoOptions are passed to demonstration writers.
type DemoOptions struct {
	// Out is the dataset file to write; the writer puts its validation split next to it.
	Out string
	// GIF, if set, is where the first demonstration is rendered as an animated GIF.
	GIF string
	// Extra holds plugin-specific settings (e.g. "episodes", "noise").
	Extra map[string]string
}

// DemoWriter records scripted demonstrations of the task name (the part after "prefix:") into the
// files of opts, in a format the same plugin's DatasetLoader reads, and returns a JSON-marshalable
// summary of what it wrote.
type DemoWriter func(name string, opts DemoOptions) (summary map[string]any, err error)

// Info describes a registered plugin for listings.
type Info struct {
	Prefix      string
	Description string
	// Names lists example or known names under this prefix.
	Names []string
	// Options are the keys of EnvOptions.Extra (in RegisterEnv's Info) or DatasetOptions.Extra
	// (in RegisterDataset's) that the plugin reads; any other key is refused by MakeEnv,
	// LoadDataset and CheckOptions, so that a misspelt option is an error rather than ignored.
	Options []string
	// OptionsOf names the environment prefix whose environments this one wraps (RegisterEnv's Info
	// only): their options are accepted too and are the wrapper's to pass on.
	OptionsOf string
}

var (
	mu      sync.RWMutex
	envs    = map[string]EnvFactory{}
	loaders = map[string]DatasetLoader{}
	infos   = map[string]Info{}
	writers = map[string]DemoWriter{}
	// envOpts, datasetOpts and demoOpts are the option keys each prefix accepts.
	envOpts     = map[string][]string{}
	envOptsOf   = map[string]string{} // prefix → the wrapped prefix (Info.OptionsOf)
	datasetOpts = map[string][]string{}
	demoOpts    = map[string][]string{}
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
	envOpts[prefix] = append([]string(nil), info.Options...)
	if info.OptionsOf != "" {
		envOptsOf[prefix] = info.OptionsOf
	}
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
	datasetOpts[prefix] = append([]string(nil), info.Options...)
	mergeInfo(prefix, info)
}

// RegisterDemoWriter registers a demonstration writer under prefix. It panics on a duplicate prefix.
func RegisterDemoWriter(prefix string, w DemoWriter, info Info) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := writers[prefix]; dup {
		panic("plugins: RegisterDemoWriter called twice for prefix " + prefix)
	}
	writers[prefix] = w
	demoOpts[prefix] = append([]string(nil), info.Options...)
	mergeInfo(prefix, info)
}

// WriteDemos records the demonstrations of the task named by spec ("prefix:name") as opts says.
func WriteDemos(spec string, opts DemoOptions) (map[string]any, error) {
	prefix, name, err := Split(spec)
	if err != nil {
		return nil, err
	}
	if err := CheckOptions(Demonstrations, spec, opts.Extra); err != nil {
		return nil, err
	}
	mu.RLock()
	w := writers[prefix]
	mu.RUnlock()
	summary, err := w(name, opts)
	if err != nil {
		return nil, fmt.Errorf("plugins: writing demonstrations of %q: %w", spec, err)
	}
	return summary, nil
}

func mergeInfo(prefix string, info Info) {
	old := infos[prefix]
	info.Prefix = prefix
	if info.Description == "" {
		info.Description = old.Description
	}
	info.Names = append(old.Names, info.Names...)
	info.Options, info.OptionsOf = nil, "" // per kind of plugin: see EnvOptionKeys and DatasetOptionKeys
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
	if err := CheckOptions(Environment, spec, opts.Extra); err != nil {
		return nil, err
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
	if err := CheckOptions(Dataset, spec, opts.Extra); err != nil {
		return nil, err
	}
	d, err := l(name, opts)
	if err != nil {
		return nil, fmt.Errorf("plugins: loading dataset %q: %w", spec, err)
	}
	return d, nil
}

// Kind is the kind of plugin an option or a name is for.
type Kind string

const (
	Environment    Kind = "environment"
	Dataset        Kind = "dataset"
	Demonstrations Kind = "demonstration"
)

// OptionKeys returns the option keys that the kind of plugin registered for spec's prefix reads
// (sorted), and whether such a plugin is registered.
func OptionKeys(kind Kind, spec string) ([]string, bool) {
	prefix, _, _ := strings.Cut(spec, ":")
	mu.RLock()
	defer mu.RUnlock()
	var keys []string
	var ok bool
	switch kind {
	case Environment:
		_, ok = envs[prefix]
		keys = append(slices.Clone(envOpts[prefix]), envOpts[envOptsOf[prefix]]...)
	case Dataset:
		_, ok = loaders[prefix]
		keys = datasetOpts[prefix]
	case Demonstrations:
		_, ok = writers[prefix]
		keys = demoOpts[prefix]
	}
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	return keys, ok
}

// CheckOptions tells whether spec names a registered plugin of that kind and every key of extra
// is one it reads; it does no work of the plugin, so a command can check its options before it
// loads anything.
func CheckOptions(kind Kind, spec string, extra map[string]string) error {
	prefix, _, err := Split(spec)
	if err != nil {
		return err
	}
	keys, ok := OptionKeys(kind, spec)
	if !ok {
		mu.RLock()
		have := map[Kind][]string{Environment: sortedKeys(envs), Dataset: sortedKeys(loaders), Demonstrations: sortedKeys(writers)}[kind]
		mu.RUnlock()
		return fmt.Errorf("plugins: no %s plugin %q for %q (registered: %v); is its package imported?", kind, prefix, spec, have)
	}
	var bad []string
	for k := range extra {
		if !slices.Contains(keys, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	takes := "takes no options"
	if len(keys) > 0 {
		takes = "takes " + strings.Join(keys, ", ")
	}
	return fmt.Errorf("plugins: unknown %s option %s for %s (the %s plugin %s)", kind, strings.Join(quoteAll(bad), ", "), spec, prefix, takes)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
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

// HasDemoWriter tells whether a prefix can write demonstrations.
func HasDemoWriter(prefix string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := writers[prefix]
	return ok
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
