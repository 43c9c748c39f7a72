//go:build !onnx

package export

import (
	"io"
)

// ONNXAvailable reports whether this binary can write ONNX (the cgo build with -tags onnx).
const ONNXAvailable = false

// ONNX returns ErrNoONNX in builds without the onnx tag.
func ONNX(w io.Writer, spec Spec) error { return ErrNoONNX }
