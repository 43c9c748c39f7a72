#!/usr/bin/env bash
# Makes bin/mvp fast on this machine: installs XLA's CPU compiler (the PJRT plugin
# pjrt_c_api_cpu_plugin.so of the lammps-jax-pjrt-cpu wheel, ~200 MB, built from jaxlib's XLA) into
# the project's ./.venv, where bin/mvp finds it by itself (xla.Discover). Nothing else is installed:
# the wheel goes in without its jax dependency, since only the .so is used.
#
# `make demo` and `make notebooks` run this first. Without python3 + venv/pip (or without a network
# to PyPI) it prints one notice and exits 0: bin/mvp then runs on the pure-Go backend.
# Idempotent: a no-op when the pinned version is installed. SETUP_FAST=0 skips it.
set -uo pipefail
cd "$(dirname "$0")/.."
PJRT_CPU_VERSION=0.11.2

notice() { echo "setup-fast: $*; bin/mvp will use the pure-Go backend (slower; scripts/setup-fast.sh installs XLA's CPU plugin)" >&2; exit 0; }

[ "${SETUP_FAST:-1}" != 0 ] || exit 0
if compgen -G ".venv/lib/python3*/site-packages/lammps_jax_pjrt_cpu-$PJRT_CPU_VERSION.dist-info" >/dev/null &&
	compgen -G ".venv/lib/python3*/site-packages/lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so" >/dev/null; then
	exit 0
fi
command -v python3 >/dev/null 2>&1 || notice "no python3"
if [ ! -x .venv/bin/python ]; then
	python3 -m venv .venv >/dev/null 2>&1 || notice "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
echo "setup-fast: installing XLA's CPU plugin (lammps-jax-pjrt-cpu $PJRT_CPU_VERSION, ~200 MB) into .venv" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "lammps-jax-pjrt-cpu==$PJRT_CPU_VERSION" ||
	notice "pip could not install lammps-jax-pjrt-cpu==$PJRT_CPU_VERSION"
ls .venv/lib/python3*/site-packages/lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so >/dev/null 2>&1 ||
	notice "the wheel holds no pjrt_c_api_cpu_plugin.so"
