#!/usr/bin/env bash
# Benchmarks the MVP agent on a GPU through XLA/PJRT.
#
#   scripts/gpu-bench.sh build      on a machine with Go and gcc: builds bin/mvp-xla (cgo, XLA linked in)
#   scripts/gpu-bench.sh discover   prints the CUDA PJRT plugin, the nvidia/*/lib folders and ptxas it
#                                   would use, and exits non-zero when the plugin is missing
#   scripts/gpu-bench.sh run [ARGS] on the GPU machine (no Go needed): runs
#                                   bin/mvp-xla bench --json ARGS with GOMLX_BACKEND=xla:<plugin>
#   scripts/gpu-bench.sh            build when Go is present and bin/mvp-xla is missing, then run
#
# The GPU machine needs a Python environment with the `jax-cuda13-pjrt` wheel (its
# jax_plugins/xla_cuda13/xla_cuda_plugin.so) and the nvidia-* wheels that `jax-cuda13-plugin` pulls
# in (cuBLAS, cuDNN, …, under nvidia/*/lib and nvidia/cu13/lib); nothing is downloaded here.
# Environment: PYTHON (default python3) picks that environment; PJRT_PLUGIN overrides the plugin
# file; SITE_PACKAGES (":"-separated) overrides the folders searched; BIN the binary.
# The last line of `run` is mvp bench's JSON object: record it in BENCHMARKS.md with the card name
# (the `gpu` field this script adds from nvidia-smi).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/mvp-xla}
PYTHON=${PYTHON:-python3}

site_dirs() {
	if [[ -n "${SITE_PACKAGES:-}" ]]; then
		tr ':' '\n' <<<"$SITE_PACKAGES"
		return
	fi
	"$PYTHON" - <<'EOF' 2>/dev/null || true
import site, sys, sysconfig
dirs = []
for d in site.getsitepackages() + [site.getusersitepackages(), sysconfig.get_paths()["purelib"]] + sys.path:
    if d and d.endswith("-packages") and d not in dirs:
        dirs.append(d)
print("\n".join(dirs))
EOF
}

discover() {
	PLUGIN=${PJRT_PLUGIN:-}
	NV_LIBS=""
	PTXAS_DIR=""
	local d f
	while IFS= read -r d; do
		[[ -d "$d" ]] || continue
		if [[ -z "$PLUGIN" ]]; then
			for f in "$d"/jax_plugins/xla_cuda13/xla_cuda_plugin.so "$d"/jax_plugins/xla_cuda12/xla_cuda_plugin.so; do
				if [[ -f "$f" ]]; then PLUGIN=$f; break; fi
			done
		fi
		if [[ -d "$d/nvidia" ]]; then
			while IFS= read -r f; do NV_LIBS=${NV_LIBS:+$NV_LIBS:}$f; done < <(find "$d/nvidia" -mindepth 2 -maxdepth 3 -type d -name lib | sort)
			f=$(find "$d/nvidia" -maxdepth 4 -type f -name ptxas 2>/dev/null | head -n 1)
			if [[ -n "$f" && -z "$PTXAS_DIR" ]]; then PTXAS_DIR=$(dirname "$f"); fi
		fi
	done < <(site_dirs)
	echo "plugin:      ${PLUGIN:-NOT FOUND (pip install jax-cuda13-pjrt, or set PJRT_PLUGIN)}"
	echo "nvidia libs: ${NV_LIBS:-none found}"
	echo "ptxas dir:   ${PTXAS_DIR:-none found}"
	[[ -n "$PLUGIN" && -f "$PLUGIN" ]]
}

build() {
	command -v go >/dev/null || { echo "gpu-bench: building needs Go; build elsewhere and copy $BIN" >&2; exit 1; }
	make build-xla
}

run() {
	[[ -x "$BIN" ]] || { echo "gpu-bench: $BIN missing: run 'scripts/gpu-bench.sh build' on a machine with Go" >&2; exit 1; }
	discover >&2 || { echo "gpu-bench: no CUDA PJRT plugin found" >&2; exit 1; }
	export LD_LIBRARY_PATH=${NV_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	[[ -n "$PTXAS_DIR" ]] && export PATH=$PTXAS_DIR:$PATH
	export GOMLX_NO_AUTO_INSTALL=1 GOMLX_BACKEND="xla:$PLUGIN"
	local gpu
	gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
	echo "gpu-bench: ${gpu:-unknown GPU}, backend $GOMLX_BACKEND" >&2
	local out
	out=$("$BIN" bench --json --what mvp,qc,actor,act --act-backends "xla:$PLUGIN;go:ops_sequential" "$@")
	# One JSON object last, with the card name added.
	tail -n 1 <<<"$out" | "$PYTHON" -c 'import json,sys; d=json.loads(sys.stdin.read()); d["gpu"]=sys.argv[1]; print(json.dumps(d))' "${gpu:-unknown}"
}

case "${1:-}" in
build) build ;;
discover) discover ;;
run) shift; run "$@" ;;
"")
	if [[ ! -x "$BIN" ]]; then build; fi
	run
	;;
*) echo "usage: $0 [build|discover|run [mvp bench flags]]" >&2; exit 2 ;;
esac
