#!/usr/bin/env bash
# The smoke sweep through a real single-node Slurm cluster, then through the local executor
# (make sweep-smoke). Slurm: submit the job array, cancel one array task once it has written a
# checkpoint, resume with `mvp sweep run` (only that run is submitted again, and it continues from
# its checkpoint), wait, and check that the report holds every run as done. Local: the same sweep,
# then once more to check that finished runs are skipped. The cluster is stopped on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MVP=${MVP:-bin/mvp}
SPEC=${SPEC:-sweeps/smoke.toml}
OUT=${SWEEP_OUT:-out/sweep-smoke}
export SLURM_STATE=${SLURM_STATE:-/tmp/gomvp-slurm}
export SLURM_CONF=$SLURM_STATE/slurm.conf
start=$(date +%s)
trap 'scripts/slurm-down.sh' EXIT
# Two CPUs on the node and two per task: one run at a time on a 2-core machine.
SLURM_CPUS=${SLURM_CPUS:-2} scripts/slurm-up.sh
rm -rf "$OUT"
mkdir -p "$OUT"

# every_run_done REPORT_JSON_LINE_FILE: the report's last line holds every run, all done.
every_run_done() {
	python3 - "$1" "$2" <<'PY'
import json, sys
rep = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
want = int(sys.argv[2])
runs = rep["runs"]
bad = [r["name"] + ":" + r["state"] for r in runs if r["state"] != "done" or r["in_progress"] or r["success_rate"] is None]
if len(runs) != want or bad:
    sys.exit(f"report: {len(runs)} runs (want {want}), not done: {bad}")
print(f"report: all {want} runs done; table {[[round(c['mean'], 3) for c in row] for row in rep['table']]}")
PY
}
nruns=$("$MVP" sweep run "$SPEC" --out "$OUT/slurm" --executor slurm --dry-run --json | tail -n 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')

echo "== slurm: submit $nruns runs"
"$MVP" sweep run "$SPEC" --out "$OUT/slurm" --executor slurm --json | tail -n 1 > "$OUT/submit1.json"
job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' "$OUT/submit1.json")
echo "job array $job"

# Cancel the first array task that is running and has a checkpoint.
victim=
for _ in $(seq 600); do
	for t in $(squeue -h -t R -o %i -j "$job" 2>/dev/null); do
		name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])]["name"])' "$OUT/slurm/runs.json" "${t#*_}")
		if ls "$OUT/slurm/runs/$name/checkpoints/"*.gmvp >/dev/null 2>&1; then victim=$t; break 2; fi
	done
	sleep 0.5
done
[ -n "$victim" ] || { echo "no running array task reached a checkpoint" >&2; exit 1; }
echo "== slurm: scancel $victim ($name) mid-run"
scancel "$victim"
for _ in $(seq 120); do
	squeue -h -j "$victim" 2>/dev/null | grep -q . || break
	sleep 0.5
done
"$MVP" sweep status "$OUT/slurm"
"$MVP" sweep status "$OUT/slurm" --json | tail -n 1 | python3 -c '
import json, sys
st = {r["name"]: r for r in json.load(sys.stdin)["runs"]}
r = st[sys.argv[1]]
assert r["state"] == "failed" and "interrupted" in r["error"], r
' "$name"

echo "== slurm: resume with mvp sweep run"
"$MVP" sweep run "$SPEC" --out "$OUT/slurm" --executor slurm --json | tail -n 1 > "$OUT/submit2.json"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sub = [r["name"] for r in s["runs"] if r["action"] == "submitted"]
assert sub == [sys.argv[2]], f"resubmitted {sub}, want only {sys.argv[2]}"
print("resubmitted", sub, "as job", s["job"], "array", s["array"])
' "$OUT/submit2.json" "$name"
for i in $(seq 720); do
	[ -z "$(squeue -h 2>/dev/null)" ] && break
	[ "$i" = 720 ] && { echo "slurm jobs still queued after 6 minutes" >&2; squeue; exit 1; }
	sleep 0.5
done
"$MVP" sweep status "$OUT/slurm"
grep -q '"resumed_from":[1-9]' "$OUT/slurm/runs/$name/train.out" || { echo "$name did not resume from a checkpoint" >&2; exit 1; }
echo "$name resumed: $(grep -o '"resumed_from":[0-9]*' "$OUT/slurm/runs/$name/train.out")"
"$MVP" sweep report "$OUT/slurm" --json > "$OUT/report-slurm.json"
every_run_done "$OUT/report-slurm.json" "$nruns"

echo "== local executor"
"$MVP" sweep run "$SPEC" --out "$OUT/local" --executor local --json | tail -n 1 > "$OUT/local1.json"
"$MVP" sweep report "$OUT/local" --json > "$OUT/report-local.json"
every_run_done "$OUT/report-local.json" "$nruns"
"$MVP" sweep run "$SPEC" --out "$OUT/local" --executor local --json | tail -n 1 |
	python3 -c 'import json,sys; s = json.load(sys.stdin); assert s["counts"] == {"skipped": int(sys.argv[1])}, s["counts"]; print("second local run: all", sys.argv[1], "skipped")' "$nruns"
echo "sweep smoke took $(($(date +%s) - start)) s"
