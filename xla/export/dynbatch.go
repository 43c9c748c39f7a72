package export

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// BatchAxisName is the symbolic size of the batch axis in ONNX models made by DynamicBatchONNX.
const BatchAxisName = "batch"

// DynamicBatchONNX turns an ONNX model exported at batch size 1 (axis 0 of every input and output
// has size 1) into one with a symbolic batch axis: the original graph becomes the body of an ONNX
// Scan over axis 0 of the inputs, wrapped in Unsqueeze/Squeeze, and the outputs are stacked back.
// Each row is computed by exactly the batch-1 graph, so results equal a batch-1 export row by row.
//
// This works around gomlx v0.28.2, whose ONNX backend has no lowering for the ops a dynamic axis
// produces (DynamicDimensionSize, DynamicReshape: ReduceMean and LayerNorm on a dynamic shape emit
// them). The rows run one after another, so a fixed-batch export is faster for large batches.
func DynamicBatchONNX(model []byte) ([]byte, error) {
	var out []byte
	var graph []byte
	found := false
	err := eachField(model, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		if num == 7 && typ == protowire.BytesType { // ModelProto.graph
			graph, found = value, true
			return nil
		}
		out = append(out, raw...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export: parsing ONNX model: %w", err)
	}
	if !found {
		return nil, errors.New("export: ONNX model has no graph")
	}
	outer, err := scanWrap(graph)
	if err != nil {
		return nil, err
	}
	out = protowire.AppendTag(out, 7, protowire.BytesType)
	out = protowire.AppendBytes(out, outer)
	return out, nil
}

// valueInfo is the part of an ONNX ValueInfoProto a tensor input or output needs.
type valueInfo struct {
	name     string
	elemType uint64
	dims     []int64
}

// scanWrap builds the outer graph around the batch-1 graph g.
func scanWrap(g []byte) ([]byte, error) {
	var body []byte // g without inputs and outputs
	var inputs, outputs []valueInfo
	var name string
	var nodes, rest [][]byte
	err := eachField(g, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch {
		case num == 11 && typ == protowire.BytesType: // input
			vi, err := parseValueInfo(value)
			if err != nil {
				return err
			}
			inputs = append(inputs, vi)
		case num == 12 && typ == protowire.BytesType: // output
			vi, err := parseValueInfo(value)
			if err != nil {
				return err
			}
			outputs = append(outputs, vi)
		case num == 1 && typ == protowire.BytesType: // node
			nodes = append(nodes, raw)
		case num == 2 && typ == protowire.BytesType: // name
			name = string(value)
		default:
			rest = append(rest, raw)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export: parsing ONNX graph: %w", err)
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, errors.New("export: ONNX graph needs inputs and outputs to gain a batch axis")
	}
	for _, vi := range append(append([]valueInfo{}, inputs...), outputs...) {
		if len(vi.dims) == 0 || vi.dims[0] != 1 {
			return nil, fmt.Errorf("export: %q has shape %v: a dynamic batch needs a model exported at batch size 1 (axis 0 of size 1 everywhere)", vi.name, vi.dims)
		}
	}
	const axes = "scan_axis_0"
	// Body: Unsqueeze each row to the original [1, …] input, the original nodes, Squeeze outputs.
	for _, vi := range inputs {
		body = appendBytesField(body, 1, node("Unsqueeze", []string{vi.name + "_row", axes}, []string{"scan_body_" + vi.name}, nil))
	}
	// ONNX names are unique across a graph and its subgraphs: inside the body, the original input
	// and output tensors are renamed.
	inner := func(name string) string { return "scan_body_" + name }
	rename := map[string]string{}
	for _, vi := range append(append([]valueInfo{}, inputs...), outputs...) {
		rename[vi.name] = inner(vi.name)
	}
	for _, n := range nodes {
		renamed, err := renameNodeTensors(n, rename)
		if err != nil {
			return nil, fmt.Errorf("export: parsing ONNX node: %w", err)
		}
		body = append(body, renamed...)
	}
	for _, vi := range outputs {
		body = appendBytesField(body, 1, node("Squeeze", []string{inner(vi.name), axes}, []string{vi.name + "_row"}, nil))
	}
	body = appendBytesField(body, 2, []byte(name+"_row"))
	for _, r := range rest {
		body = append(body, r...)
	}
	body = appendBytesField(body, 5, int64Tensor(axes, []int64{0}))
	for _, vi := range inputs {
		body = appendBytesField(body, 11, encodeValueInfo(vi.name+"_row", vi.elemType, vi.dims[1:], false))
	}
	for _, vi := range outputs {
		body = appendBytesField(body, 12, encodeValueInfo(vi.name+"_row", vi.elemType, vi.dims[1:], false))
	}

	var outer []byte
	var inNames, outNames []string
	for _, vi := range inputs {
		inNames = append(inNames, vi.name)
	}
	for _, vi := range outputs {
		outNames = append(outNames, vi.name)
	}
	attrs := [][]byte{
		graphAttr("body", body),
		intAttr("num_scan_inputs", int64(len(inputs))),
	}
	outer = appendBytesField(outer, 1, node("Scan", inNames, outNames, attrs))
	outer = appendBytesField(outer, 2, []byte(name))
	for _, vi := range inputs {
		outer = appendBytesField(outer, 11, encodeValueInfo(vi.name, vi.elemType, vi.dims, true))
	}
	for _, vi := range outputs {
		outer = appendBytesField(outer, 12, encodeValueInfo(vi.name, vi.elemType, vi.dims, true))
	}
	return outer, nil
}

// renameNodeTensors returns the node field raw (tag included) with its input and output tensor
// names mapped through rename.
func renameNodeTensors(raw []byte, rename map[string]string) ([]byte, error) {
	_, _, n := protowire.ConsumeTag(raw)
	content, k := protowire.ConsumeBytes(raw[n:])
	if n < 0 || k < 0 {
		return nil, errors.New("malformed node")
	}
	var out []byte
	err := eachField(content, func(num protowire.Number, typ protowire.Type, f, value []byte) error {
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			if to, ok := rename[string(value)]; ok {
				out = appendBytesField(out, num, []byte(to))
				return nil
			}
		}
		out = append(out, f...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return appendBytesField(nil, 1, out), nil
}

// eachField calls fn for every top-level field of the message b with the field's raw bytes (tag
// included) and, for length-delimited fields, its content.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, raw, value []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		var value []byte
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b[n:])
			if k < 0 {
				return protowire.ParseError(k)
			}
			value = v
		}
		if err := fn(num, typ, b[:n+m], value); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

// parseValueInfo reads name, element type and static dims of a tensor ValueInfoProto.
func parseValueInfo(b []byte) (valueInfo, error) {
	var vi valueInfo
	var typeProto []byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, _, value []byte) error {
		switch num {
		case 1:
			vi.name = string(value)
		case 2:
			typeProto = value
		}
		return nil
	})
	if err != nil {
		return vi, err
	}
	var tensorType, shape []byte
	if err := eachField(typeProto, func(num protowire.Number, _ protowire.Type, _, value []byte) error {
		if num == 1 { // TypeProto.tensor_type
			tensorType = value
		}
		return nil
	}); err != nil {
		return vi, err
	}
	if tensorType == nil {
		return vi, fmt.Errorf("%q is not a tensor", vi.name)
	}
	if err := eachField(tensorType, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch num {
		case 1: // elem_type
			v, n := protowire.ConsumeVarint(raw[protowire.SizeTag(num):])
			if n < 0 {
				return protowire.ParseError(n)
			}
			vi.elemType = v
		case 2:
			shape = value
		}
		return nil
	}); err != nil {
		return vi, err
	}
	err = eachField(shape, func(num protowire.Number, _ protowire.Type, _, dim []byte) error {
		if num != 1 {
			return nil
		}
		d := int64(-1)
		err := eachField(dim, func(num protowire.Number, typ protowire.Type, raw, _ []byte) error {
			if num == 1 && typ == protowire.VarintType {
				v, n := protowire.ConsumeVarint(raw[protowire.SizeTag(num):])
				if n < 0 {
					return protowire.ParseError(n)
				}
				d = int64(v)
			}
			return nil
		})
		vi.dims = append(vi.dims, d)
		return err
	})
	return vi, err
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// encodeValueInfo writes a tensor ValueInfoProto; with batch, axis 0 is the symbolic BatchAxisName.
func encodeValueInfo(name string, elemType uint64, dims []int64, batch bool) []byte {
	var shape []byte
	for i, d := range dims {
		var dim []byte
		if batch && i == 0 {
			dim = appendBytesField(dim, 2, []byte(BatchAxisName))
		} else {
			dim = appendVarintField(dim, 1, uint64(d))
		}
		shape = appendBytesField(shape, 1, dim)
	}
	var tensor []byte
	tensor = appendVarintField(tensor, 1, elemType)
	tensor = appendBytesField(tensor, 2, shape)
	typeProto := appendBytesField(nil, 1, tensor)
	vi := appendBytesField(nil, 1, []byte(name))
	return appendBytesField(vi, 2, typeProto)
}

func node(op string, inputs, outputs []string, attrs [][]byte) []byte {
	var b []byte
	for _, in := range inputs {
		b = appendBytesField(b, 1, []byte(in))
	}
	for _, out := range outputs {
		b = appendBytesField(b, 2, []byte(out))
	}
	b = appendBytesField(b, 4, []byte(op))
	for _, a := range attrs {
		b = appendBytesField(b, 5, a)
	}
	return b
}

// ONNX AttributeProto.type values.
const (
	attrInt   = 2
	attrGraph = 5
)

func graphAttr(name string, g []byte) []byte {
	b := appendBytesField(nil, 1, []byte(name))
	b = appendBytesField(b, 6, g)
	return appendVarintField(b, 20, attrGraph)
}

func intAttr(name string, v int64) []byte {
	b := appendBytesField(nil, 1, []byte(name))
	b = appendVarintField(b, 3, uint64(v))
	return appendVarintField(b, 20, attrInt)
}

// int64Tensor is a 1-D INT64 TensorProto initializer.
func int64Tensor(name string, values []int64) []byte {
	const onnxInt64 = 7
	b := appendVarintField(nil, 1, uint64(len(values))) // dims
	b = appendVarintField(b, 2, onnxInt64)              // data_type
	b = appendBytesField(b, 8, []byte(name))            // name
	var raw []byte
	for _, v := range values {
		raw = append(raw, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	}
	return appendBytesField(b, 9, raw) // raw_data
}
