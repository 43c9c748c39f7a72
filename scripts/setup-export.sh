#!/usr/bin/env bash
# Export area: Python packages in the project venv (.venv) that the export tests use as independent
# runtimes, and that the cgo export binary loads:
#   onnxruntime          runs exported .onnx files (the tests' reference); its wheel ships
#                        libonnxruntime.so, which the `onnx` build dlopens (ONNXRUNTIME_SHARED_LIBRARY_PATH)
#   XLA's CPU PJRT plugin (compiles and runs StableHLO on CPU) comes from scripts/setup-fast.sh
# Idempotent: a no-op when the pinned versions are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION=1.31.1
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
	.venv/bin/pip install --quiet --disable-pip-version-check "onnxruntime==$ORT_VERSION" numpy
fi
bash scripts/setup-fast.sh
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "setup-export: libonnxruntime.so not found in the onnxruntime wheel" >&2; exit 1; }
plugin=$(ls .venv/lib/python3*/site-packages/lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so 2>/dev/null | head -1)
[ -n "$plugin" ] || { echo "setup-export: pjrt_c_api_cpu_plugin.so not found in the lammps-jax-pjrt-cpu wheel" >&2; exit 1; }
echo "onnxruntime $ORT_VERSION: $lib"
echo "PJRT CPU plugin: $plugin"
