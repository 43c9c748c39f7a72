#!/usr/bin/env bash
# Export area: onnxruntime (Python) in the project venv. Its wheel ships libonnxruntime.so, which the
# cgo `onnx` build (make build-export, make test-export) dlopens through ONNXRUNTIME_SHARED_LIBRARY_PATH,
# and the Python package runs exported .onnx files as the independent reference in the tests.
# Idempotent: a no-op when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION=1.31.1
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
	.venv/bin/pip install --quiet --disable-pip-version-check "onnxruntime==$ORT_VERSION" numpy
fi
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "setup-export: libonnxruntime.so not found in the onnxruntime wheel" >&2; exit 1; }
echo "onnxruntime $ORT_VERSION: $lib"
