package export

import (
	"strings"
	"testing"
)

// TestDynamicBatchONNXRejects: only batch-1 models can gain a batch axis, and garbage is an error.
func TestDynamicBatchONNXRejects(t *testing.T) {
	model := func(dims ...int64) []byte {
		g := appendBytesField(nil, 1, node("Relu", []string{"x"}, []string{"y"}, nil))
		g = appendBytesField(g, 11, encodeValueInfo("x", 1, dims, false))
		g = appendBytesField(g, 12, encodeValueInfo("y", 1, dims, false))
		m := appendVarintField(nil, 1, 9)
		return appendBytesField(m, 7, g)
	}
	if _, err := DynamicBatchONNX(model(1, 3)); err != nil {
		t.Errorf("batch-1 model: %v", err)
	}
	for _, tc := range []struct {
		name  string
		model []byte
		want  string
	}{
		{"batch 4", model(4, 3), `"x" has shape [4 3]: a dynamic batch needs a model exported at batch size 1`},
		{"scalar", model(), `"x" has shape []`},
		{"no graph", appendVarintField(nil, 1, 9), "no graph"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "parsing ONNX model"},
	} {
		if _, err := DynamicBatchONNX(tc.model); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
