#!/usr/bin/env bash
# `make build` and `make test-xla-cgo` compile go-xla with cgo: they need a C compiler (no XLA
# library at build time; PJRT plugins are only loaded at run time).
set -euo pipefail
if ! command -v gcc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev
	else
		sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends gcc libc6-dev
	fi
fi
gcc --version | head -n 1
