#!/usr/bin/env bash
# Installs what the dataset loaders and their tests need: numpy and h5py in the project-local
# virtual environment .venv (for the fixture and converter scripts), and Debian's libhdf5-dev for
# the cgo HDF5 reader of the robomimic plugin (built with -tags hdf5). Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
	python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import numpy, h5py' 2>/dev/null; then
	.venv/bin/python -m pip install --quiet --disable-pip-version-check 'numpy>=1.24' 'h5py>=3.8'
fi

if ! { dpkg -s libhdf5-dev >/dev/null 2>&1 && dpkg -s pkg-config >/dev/null 2>&1; }; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libhdf5-dev pkg-config gcc libc6-dev >/dev/null
fi
go mod download codeberg.org/sbinet/npyio gonum.org/v1/hdf5
