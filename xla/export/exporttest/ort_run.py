"""Runs an ONNX model with onnxruntime on raw float32 inputs: the independent reference for exports.

usage: ort_run.py MODEL OUTDIR NAME=FILE:D0xD1x... ...
Writes each output as OUTDIR/<k>.bin (raw little-endian float32) and prints one JSON line with
the output names, shapes and the input names/shapes the model declares.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def main():
    model, outdir = sys.argv[1], sys.argv[2]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for arg in sys.argv[3:]:
        name, rest = arg.split("=", 1)
        path, dims = rest.rsplit(":", 1)
        shape = [int(d) for d in dims.split("x")] if dims else []
        feeds[name] = np.fromfile(path, dtype="<f4").reshape(shape)
    outs = sess.run(None, feeds)
    info = {"inputs": [[i.name, i.shape, i.type] for i in sess.get_inputs()], "outputs": []}
    for k, (meta, val) in enumerate(zip(sess.get_outputs(), outs)):
        np.ascontiguousarray(val, dtype="<f4").tofile(f"{outdir}/{k}.bin")
        info["outputs"].append([meta.name, list(val.shape), str(val.dtype)])
    info["onnxruntime"] = ort.__version__
    print(json.dumps(info))


if __name__ == "__main__":
    main()
