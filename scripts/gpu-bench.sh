#!/usr/bin/env bash
# The GPU run, prepared to fit a short lease on a GPU machine: build here, carry bin/mvp, run one
# command there.
#
#   scripts/gpu-bench.sh build      on a machine with Go and gcc: `make build` (bin/mvp with XLA/PJRT)
#   scripts/gpu-bench.sh discover   prints the CUDA PJRT plugin, the nvidia/*/lib folders, ptxas and the
#                                   GPU it would use; exits non-zero when the plugin is missing
#   scripts/gpu-bench.sh dry-run    discover, then print every command `run` would execute, run none
#   scripts/gpu-bench.sh run        on the GPU machine (no Go needed), in order:
#                                     1. bin/mvp bench --json at the paper's sizes on xla:cuda
#                                     2. bench/peer_jax.py on the same card (JAX_PLATFORMS=cuda)
#                                     3. bin/mvp train for TRAIN_STEPS updates per agent of TRAIN_AGENTS
#                                        on the embedded cube task (paper sizes), then its evaluation
#                                   and prints ONE JSON object last: {"gpu", "backend", "bench", "jax",
#                                   "train": [...], "errors"}; every part's own output goes to OUT/.
#
# The GPU machine needs a Python environment with the `jax-cuda13-pjrt` (or -cuda12-) wheel, whose
# jax_plugins/xla_cuda13/xla_cuda_plugin.so is the plugin, and the nvidia-* wheels that
# `jax-cuda13-plugin` pulls in (cuBLAS, cuDNN, …, under nvidia/*/lib); jax itself for the peer.
# Nothing is downloaded. Environment: PYTHON (default python3) picks that environment; PJRT_PLUGIN
# overrides the plugin file; SITE_PACKAGES (":"-separated) overrides the folders searched; BIN the
# binary (default bin/mvp); OUT the output folder (default out/gpu); BENCH_SECONDS (default 3);
# TRAIN_AGENTS (default "mvp qc"); TRAIN_STEPS (default 20000); SKIP (space-separated parts to skip:
# bench jax train).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/mvp}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-out/gpu}
BENCH_SECONDS=${BENCH_SECONDS:-3}
TRAIN_AGENTS=${TRAIN_AGENTS:-mvp qc}
TRAIN_STEPS=${TRAIN_STEPS:-20000}
TRAIN_TASK=toy:cube-task1
SKIP=${SKIP:-}

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
	GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
	echo "plugin:      ${PLUGIN:-NOT FOUND (pip install jax-cuda13-pjrt, or set PJRT_PLUGIN)}"
	echo "nvidia libs: ${NV_LIBS:-none found}"
	echo "ptxas dir:   ${PTXAS_DIR:-none found}"
	echo "gpu:         ${GPU:-none visible (nvidia-smi found no GPU)}"
	[[ -n "$PLUGIN" && -f "$PLUGIN" ]]
}

build() {
	command -v go >/dev/null || { echo "gpu-bench: building needs Go; build elsewhere and copy $BIN" >&2; exit 1; }
	make build
	"$BIN" bench --help 2>&1 | grep -q -- '--backend' || { echo "gpu-bench: $BIN has no --backend flag" >&2; exit 1; }
}

skipped() { [[ " $SKIP " == *" $1 "* ]]; }

# The commands of `run`, one per line, in order; `run` executes them, `dry-run` prints them.
commands() {
	local be="xla:$PLUGIN"
	skipped bench || echo "bench|$BIN bench --json --backend $be --act-backends $be --seconds $BENCH_SECONDS --what mvp,qc,actor,act,peak"
	skipped jax || echo "jax|cd bench && JAX_PLATFORMS=cuda BENCH_SECONDS=$BENCH_SECONDS $PYTHON peer_jax.py"
	if ! skipped train; then
		echo "data|$BIN data gen $TRAIN_TASK --episodes 300 --out $OUT/cube-task1.npz"
		local a
		for a in $TRAIN_AGENTS; do
			echo "train-$a|$BIN train --backend $be --agent $a --dataset $TRAIN_TASK --dataset-path $OUT/cube-task1.npz --out $OUT/runs/$a --offline-steps $TRAIN_STEPS --online-steps 0 --eval-every 0 --eval-episodes 50 --checkpoint-every 0 --log-every 1000 --no-progress --seed 0"
		done
	fi
}

environment() {
	export LD_LIBRARY_PATH=${NV_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	if [[ -n "$PTXAS_DIR" ]]; then export PATH=$PTXAS_DIR:$PATH; fi
	export GOMLX_NO_AUTO_INSTALL=1
}

dry_run() {
	discover || echo "gpu-bench: (dry run) no CUDA PJRT plugin: \`run\` would stop here" >&2
	PLUGIN=${PLUGIN:-/path/to/xla_cuda_plugin.so}
	echo "environment: LD_LIBRARY_PATH=${NV_LIBS:-<nvidia libs>}:… PATH=${PTXAS_DIR:-<ptxas dir>}:… GOMLX_NO_AUTO_INSTALL=1"
	local line
	while IFS= read -r line; do echo "${line%%|*}: ${line#*|}"; done < <(commands)
	echo "summary: one JSON object of the parts' last lines"
}

run() {
	[[ -x "$BIN" ]] || { echo "gpu-bench: $BIN missing: run 'scripts/gpu-bench.sh build' on a machine with Go" >&2; exit 1; }
	discover >&2 || { echo "gpu-bench: no CUDA PJRT plugin found" >&2; exit 1; }
	environment
	mkdir -p "$OUT"
	rm -rf "$OUT/runs" "$OUT"/*.out "$OUT"/*.err
	local line name cmd
	while IFS= read -r line; do
		name=${line%%|*} cmd=${line#*|}
		echo "gpu-bench: $name: $cmd" >&2
		local start=$SECONDS
		if (eval "$cmd") >"$OUT/$name.out" 2>"$OUT/$name.err"; then
			echo "gpu-bench: $name done in $((SECONDS - start)) s" >&2
		else
			echo "gpu-bench: $name FAILED after $((SECONDS - start)) s (exit $?): $(tail -n 3 "$OUT/$name.err" | tr '\n' ' ')" >&2
		fi
	done < <(commands)
	"$PYTHON" - "$OUT" "${GPU:-unknown}" "xla:$PLUGIN" <<'EOF'
import glob, json, os, sys
out, gpu, backend = sys.argv[1:4]

def last_json(name):
    try:
        lines = [l for l in open(os.path.join(out, name + ".out")).read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except OSError:
        return None

def error(name):
    return " ".join(open(os.path.join(out, name + ".err")).read().strip().splitlines()[-3:])

summary = {"gpu": gpu, "backend": backend, "errors": {}, "skipped": []}
for part in ["bench", "jax"]:
    summary[part] = last_json(part)
    if not os.path.exists(os.path.join(out, part + ".err")):
        summary["skipped"].append(part)
    elif summary[part] is None:
        summary["errors"][part] = error(part)
summary["train"] = []
for f in sorted(glob.glob(os.path.join(out, "train-*.out"))):
    name = os.path.basename(f)[:-4]
    r = last_json(name)
    if r is None:
        summary["errors"][name] = error(name)
    else:
        summary["train"].append({k: r.get(k) for k in ["agent", "backend", "steps", "seconds", "updates_per_s", "final_eval"]})
b, j = summary["bench"] or {}, summary["jax"] or {}
ratios = {}
for key in ["mvp_update_steps_per_s", "qc_update_steps_per_s"]:
    g, p = (b.get("flat") or {}).get(key), j.get(key)
    if g and p:
        ratios[key.replace("_steps_per_s", "") + "_go_over_jax"] = g / p
summary["ratios"] = ratios
print(json.dumps(summary))
EOF
}

case "${1:-}" in
build) build ;;
discover) discover ;;
dry-run) dry_run ;;
run) run ;;
"")
	if [[ ! -x "$BIN" ]]; then build; fi
	run
	;;
*) echo "usage: $0 [build|discover|dry-run|run]" >&2; exit 2 ;;
esac
