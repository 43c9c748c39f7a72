//go:build !hdf5 || !cgo

package robomimic

import (
	"fmt"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

// HDF5Supported tells whether this binary reads HDF5 files (built with -tags hdf5 and cgo).
const HDF5Supported = false

func loadHDF5(path string, o Options) (*datasets.Dataset, error) {
	return nil, fmt.Errorf("robomimic: %s is HDF5, and %s", path, noHDF5Advice(path))
}

func inspectHDF5(path string, opts plugins.DatasetOptions) (*plugins.FileInfo, error) {
	return nil, fmt.Errorf("robomimic: %s is HDF5, and %s", path, noHDF5Advice(path))
}
