"""Prints one table of `mvp bench --json` against the JAX and PyTorch peers.

usage: compare.py RESULT_JSON... [--markdown]   (`mvp bench --json` outputs and peer outputs, any order)

Each file's last line is the JSON object its program printed. Several files of one program (the
rounds of `make bench-peers`, named NAME.<round>.json) are merged: every number becomes its median
over the rounds, and the headline ratios are also given round by round (round i of Go against
round i of the peer, run minutes apart). Ratios are Go/peer: above 1 the Go implementation is
faster for rates (steps/s, GFLOP/s); below 1 it is faster for latencies (ms).
"""

import json
import re
import statistics
import sys

ROWS = [
    # key, label, kind: "rate" (higher is better), "time" (lower is better), "info" (no ratio)
    ("mvp_update_cpu_ms", "MVP update (B=256, N=32): CPU ms/step", "time"),
    ("mvp_update_steps_per_s", "MVP update: wall steps/s", "rate"),
    ("qc_update_cpu_ms", "QC update (10-step flow, N=32): CPU ms/step", "time"),
    ("qc_update_steps_per_s", "QC update: wall steps/s", "rate"),
    ("mvp_actor_update_cpu_ms", "MVP generator update only (JVP + IVC + Adam): CPU ms", "time"),
    ("fm_actor_update_cpu_ms", "flow-matching generator update only: CPU ms", "time"),
    ("mvp_over_fm_cpu", "MVP / flow-matching generator update (CPU)", "info"),
    ("mvp_lambda0_over_fm_cpu", "MVP λ=0 (L_MF + JVP) / flow-matching (CPU)", "info"),
    ("act_cpu_ms", "action decision, batch 1, N=32: CPU ms", "time"),
    ("act_median_ms", "action decision: wall median ms", "time"),
    ("act_p99_ms", "action decision: wall p99 ms", "time"),
    ("mvp_update_gflops_per_core", "MVP update GFLOP per CPU-second (matmul FLOPs)", "rate"),
    ("matmul_8192_gflops", "matmul 8192×512×512 wall GFLOP/s", "rate"),
    ("matmul_32_gflops", "matmul 32×512×512 wall GFLOP/s", "rate"),
    ("peak_rss_mib", "peak RSS MiB (whole process)", "time"),
    ("loadavg1", "1-min load average during the run (2 cores)", "info"),
]

# Rows whose Go/peer ratio is also printed round by round.
HEADLINE = ("mvp_update_cpu_ms", "mvp_update_steps_per_s", "act_cpu_ms", "act_median_ms")


def round_of(path):
    m = re.search(r"\.(\d+)\.json$", path)
    return int(m.group(1)) if m else 0


def merge(results):
    """results: [(round, result)] of one program → one result whose numbers are medians over the
    rounds, with the headline numbers of each round kept under "per_round" (by round)."""
    results = sorted(results, key=lambda rr: rr[0])
    rounds = [flat(r) for _, r in results]
    merged = dict(rounds[0])
    for key in set().union(*rounds):
        vals = [f.get(key) for f in rounds]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            merged[key] = statistics.median(vals)
    merged["rounds"] = len(rounds)
    merged["per_round"] = {k: {rnd: flat(r).get(k) for rnd, r in results} for k in HEADLINE}
    first = results[0][1]
    if "flat" in first:
        return dict(first, flat=merged)
    return merged


def last_json(path):
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise SystemExit(f"compare.py: {path} has no JSON line (did the benchmark fail?)")
    return json.loads(lines[-1])


def flat(obj):
    """The Go result keeps its headline numbers under "flat"; the peers print them at top level.
    The peers' achieved GFLOP/s is derived from the Go-side FLOP count of the same update."""
    return obj.get("flat", obj)


def fmt(v):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"


def label_of(obj):
    if "flat" in obj:
        b = obj.get("backend", "?")
        names = {"xla:cpu": "XLA-CPU", "xla:cuda": "XLA-CUDA"}
        return "Go " + names.get(b, "XLA " + b[4:] if b.startswith("xla:") else b)
    if obj.get("peer") == "jax":
        return f"JAX {obj.get('version', '')} jit"
    return f"PyTorch {obj.get('version', '').split('+')[0]} eager"


def main(argv):
    markdown = "--markdown" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) < 2:
        raise SystemExit(__doc__)
    groups = {}
    for p in paths:
        r = last_json(p)
        groups.setdefault(label_of(r), []).append((round_of(p), r))
    raws = [merge(rs) for rs in groups.values()]
    gos = [r for r in raws if "flat" in r]
    peers = [r for r in raws if "flat" not in r]
    if not gos or not peers:
        raise SystemExit("compare.py: need at least one `mvp bench --json` result and one peer result")
    flops = next(((g.get("mvp_update") or {}).get("flops") for g in gos if g.get("mvp_update")), None)
    for r in gos + peers:
        f = flat(r)
        if flops and f.get("mvp_update_cpu_ms"):
            f["mvp_update_gflops_per_core"] = flops / (f["mvp_update_cpu_ms"] / 1e3) / 1e9
        for key, num in (("mvp_over_fm_cpu", "mvp_actor_update_cpu_ms"),
                         ("mvp_lambda0_over_fm_cpu", "mvp_lambda0_actor_update_cpu_ms")):
            if f.get(num) and f.get("fm_actor_update_cpu_ms"):
                f[key] = f[num] / f["fm_actor_update_cpu_ms"]

    cols = [(label_of(r), flat(r)) for r in gos + peers]
    ratio_cols = [(f"{label_of(g)} / {label_of(p).split()[0]}", flat(g), p) for g in gos for p in peers]
    header = [""] + [c[0] for c in cols] + [r[0] for r in ratio_cols]
    rows = []
    for key, label, kind in ROWS:
        row = [label] + [fmt(c[1].get(key)) for c in cols]
        for _, g, p in ratio_cols:
            gv, pv = g.get(key), p.get(key)
            row.append(fmt(gv / pv) if (gv is not None and pv and kind != "info") else "–")
        rows.append(row)
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(r, widths)))
        print(line(header))
        print("-" * len(line(header)))
        for r in rows:
            print(line(r))
    for g in gos:
        print(f"\n{label_of(g)}: action decision on {flat(g).get('act_backend')}.", end="")
    rounds = max(flat(r)["rounds"] for r in raws)
    if rounds > 1:
        print(f"\nEach number is the median of {rounds} rounds (programs run in turn, round after round). "
              "Go/peer ratio round by round:", end="")
        for label, g, p in ratio_cols:
            if g["rounds"] < 2 or p["rounds"] < 2:
                continue
            parts = []
            for key in HEADLINE:
                gr, pr = g["per_round"][key], p["per_round"][key]
                rs = [fmt(gr[i] / pr[i]) for i in sorted(gr) if gr[i] is not None and pr.get(i)]
                parts.append(f"{key} {' '.join(rs)}")
            print(f"\n  {label}: " + "; ".join(parts), end="")
    print("\nRatios Go/peer: for rates (steps/s, GFLOP/s) above 1 means Go is faster; for times (ms, MiB) below 1.")
    print("CPU ms = process CPU time (user + system, all threads) per call: on a shared machine it is far")
    print("steadier than wall time, which includes waiting for the cores.")
    g0 = gos[0]
    if flops:
        act = (g0.get("act") or [{}])[0]
        print(f"FLOPs (matmuls; elementwise ops excluded): MVP update {flops / 1e9:.1f} GFLOP, "
              f"QC update {(g0.get('qc_update') or {}).get('flops', 0) / 1e9:.1f} GFLOP, "
              f"action decision {act.get('flops', 0) / 1e6:.0f} MFLOP.")
    cpu = (g0.get("peak") or {}).get("cpu")
    if cpu:
        per_core = cpu["flops"] / cpu["cores"]
        fr = ", ".join(f"{label_of(r)} {100 * flat(r).get('mvp_update_gflops_per_core', 0) * 1e9 / per_core:.0f}%"
                       for r in gos + peers)
        print(f"CPU peak {cpu['flops'] / 1e9:.0f} GFLOP/s = {cpu['cores']} cores × {cpu['clock_ghz']:.2f} GHz × "
              f"{cpu['fma_units_assumed']} FMA units (assumed) × {cpu['fp32_lanes']} fp32 lanes × 2. "
              f"MVP update, GFLOP per CPU-second as a share of one core's peak: {fr}.")
    print(json.dumps({label_of(r): flat(r) for r in gos + peers}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
