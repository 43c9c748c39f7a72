package plugins

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/gomvp/gomvp/datasets"
)

// ArrayInfo describes one stored array of a data file.
type ArrayInfo struct {
	Key   string `json:"key"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

// FileInfo describes a data file, for `mvp data inspect`.
type FileInfo struct {
	Path   string         `json:"path"`
	Format string         `json:"format"`
	Arrays []ArrayInfo    `json:"arrays"`
	Attrs  map[string]any `json:"attrs,omitempty"`
	// Notes say how the file was interpreted (e.g. which task relabelled the rewards).
	Notes []string `json:"notes,omitempty"`
	// Dataset is the file loaded with its format's standard conventions; nil when the file has no
	// rewards and none could be derived.
	Dataset *datasets.Dataset `json:"-"`
	// Trajectories and Transitions are counted from the file even when Dataset is nil.
	Trajectories int `json:"trajectories"`
	Transitions  int `json:"transitions"`
	// ObsDim and ActDim are the dimensions as loaded (0 when unknown).
	ObsDim int `json:"obs_dim,omitempty"`
	ActDim int `json:"act_dim,omitempty"`
}

// Inspector reads data files of one format.
type Inspector struct {
	// Format names the format, e.g. "ogbench-npz".
	Format string
	// Match tells, from the path and the first bytes of the file, whether Inspect reads it.
	Match func(path string, head []byte) bool
	// Inspect describes the file; opts carries format-specific choices (e.g. Extra["task"]).
	Inspect func(path string, opts DatasetOptions) (*FileInfo, error)
	// Priority orders the inspectors that match the same file: higher first.
	Priority int
}

var inspectors []Inspector

// RegisterInspector adds an inspector for a file format. It panics on a duplicate format name.
func RegisterInspector(in Inspector) {
	mu.Lock()
	defer mu.Unlock()
	for _, o := range inspectors {
		if o.Format == in.Format {
			panic("plugins: RegisterInspector called twice for format " + in.Format)
		}
	}
	inspectors = append(inspectors, in)
	sort.SliceStable(inspectors, func(a, b int) bool { return inspectors[a].Priority > inspectors[b].Priority })
}

// InspectFile describes the data file at path with the first registered inspector that matches it.
func InspectFile(path string, opts DatasetOptions) (*FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	mu.RLock()
	ins := append([]Inspector(nil), inspectors...)
	mu.RUnlock()
	var formats []string
	for _, in := range ins {
		formats = append(formats, in.Format)
		if in.Match(path, head) {
			return in.Inspect(path, opts)
		}
	}
	return nil, fmt.Errorf("%s: no registered format reads this file (formats: %v); is its plugin imported?", path, formats)
}
