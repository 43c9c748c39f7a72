//go:build !onnx

package export

import (
	"errors"
	"io"
)

// ONNXAvailable reports whether this binary can write ONNX (the cgo build with -tags onnx).
const ONNXAvailable = false

// ErrNoONNX is returned by ONNX in builds without the onnx tag.
var ErrNoONNX = errors.New("export: ONNX export needs the onnxruntime backend, which this build leaves out: " +
	"build with cgo and -tags onnx (make build-export → bin/mvp-export) and point ONNXRUNTIME_SHARED_LIBRARY_PATH at libonnxruntime.so ≥ 1.26")

// ONNX returns ErrNoONNX in builds without the onnx tag.
func ONNX(w io.Writer, spec Spec) error { return ErrNoONNX }
