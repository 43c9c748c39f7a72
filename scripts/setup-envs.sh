#!/usr/bin/env bash
# Python side of the environment plugins: the remote env server's simulators (gymnasium, OGBench
# with MuJoCo) and numpy, installed into the project-local .venv. Idempotent: a second run only
# checks that the packages import.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
	python3 -m venv .venv
fi
PY=.venv/bin/python
"$PY" -m pip --version >/dev/null 2>&1 || "$PY" -m ensurepip --upgrade >/dev/null
if ! "$PY" -c 'import numpy, gymnasium, mujoco, ogbench' 2>/dev/null; then
	"$PY" -m pip install --quiet --disable-pip-version-check \
		'numpy<3' 'gymnasium==1.4.0' 'mujoco==4.0.0' 'ogbench==1.2.2'
fi
"$PY" -c 'import numpy, gymnasium, mujoco, ogbench; print("envs: numpy", numpy.__version__, "gymnasium", gymnasium.__version__, "mujoco", mujoco.__version__)'
