"""Checks that `mvp bench --json` ended with a JSON object holding every headline number, each
finite and positive, both action decisions asked for (graph-free and graph), and FLOP counts
consistent with the reported rates."""

import json
import math
import sys

KEYS = ["mvp_update_steps_per_s", "qc_update_steps_per_s", "mvp_actor_update_steps_per_s",
        "fm_actor_update_steps_per_s", "act_median_ms", "act_p99_ms", "peak_rss_mib",
        "mvp_update_cpu_ms", "matmul_8192_gflops"]


def main(path):
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise SystemExit(f"{path}: last line is not a JSON object")
    d = json.loads(lines[-1])
    flat = d["flat"]
    bad = [k for k in KEYS if not (isinstance(flat.get(k), (int, float)) and math.isfinite(flat[k]) and flat[k] > 0)]
    if bad:
        raise SystemExit(f"{path}: missing or non-positive {bad}")
    if d.get("errors"):
        raise SystemExit(f"{path}: errors {d['errors']}")
    u = d["mvp_update"]
    if abs(u["flops"] * u["steps_per_s"] - u["flops_per_s"]) > 1e-6 * u["flops_per_s"]:
        raise SystemExit(f"{path}: FLOP/s {u['flops_per_s']} != FLOPs × steps/s")
    if not flat["act_p99_ms"] >= flat["act_median_ms"]:
        raise SystemExit(f"{path}: p99 below median")
    # Both decisions ran: the deployed policy's graph-free one and the graph's.
    acts = {a["backend"]: a for a in d.get("act", [])}
    if set(acts) != {"direct", "go:ops_sequential"} or not all(a["median_ms"] > 0 for a in acts.values()):
        raise SystemExit(f"{path}: act results {sorted(acts)}, want direct and go:ops_sequential")
    print(f"{path}: ok ({len(KEYS)} headline numbers)")


if __name__ == "__main__":
    main(sys.argv[1])
