#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian machine with Go: nothing here is cached
# that cannot be rebuilt. Idempotent; each area of the project adds its own scripts/setup-*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
go version
go mod download
for s in scripts/setup-*.sh; do
	[ -e "$s" ] || continue
	echo "== $s"
	bash "$s"
done
