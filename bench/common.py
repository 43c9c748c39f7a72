"""Shared sizes and timing helpers of the JAX and PyTorch peers of `mvp bench`.

The peers compute what the Go agent computes (mvp/agent.go, mvp/mvp.go, mvp/critic.go) at the
paper's sizes (method.md §3), so that `make bench-peers` compares the same work:

  actor u_θ(a, t, r, s): MLP on [a, t, r, s] (25+1+1+46 = 73) → 4×512 exact GELU → 25
  flow v_θ(a, t, s):     MLP on [a, t, s] (72) → 4×512 exact GELU → 25
  critic Q_i(s, a), i < 2: MLP on [s, a] (71) → 4×(Dense → GELU → LayerNorm ε=1e-6) → 1

  MVP update: L_MF with a forward-mode JVP along (v, 1, 0) plus L_IVC (λ = 1), Adam on the actor;
    TD target with a* = best-of-32 one-step candidates at s' scored by the online critic mean,
    y = R + γ^h·mask·mean_i Q'_i(s', a*); critic loss Σ_i mean(valid_h·(Q_i − y)²), Adam, Polyak τ.
  QC update: flow-matching loss and the same critic update, candidates by 10 Euler steps.
  Action decision: batch 1, 32 one-step candidates, online critic mean, argmax.

Each peer prints one JSON object as its last line with the same keys as `mvp bench --json`.
"""

import json
import os
import platform
import statistics
import time

OBS = 46
ACT = 5
H = 5
CHUNK = ACT * H  # 25
HIDDEN = [512, 512, 512, 512]
BATCH = 256
N = 32
ENSEMBLE = 2
GAMMA = 0.99
TAU = 0.005
LR = 3e-4
LN_EPS = 1e-6
QC_STEPS = 10
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))


def time_loop(fn, seconds=SECONDS, min_iters=3, warmup=2):
    """Calls fn() warmup times untimed, then repeatedly for about `seconds` (at least min_iters).
    Returns the per-call durations in seconds (a Times list, with the CPU time per call)."""
    for _ in range(warmup):
        fn()
    times = Times()
    start, cpu0 = time.perf_counter(), time.process_time()
    while len(times) < min_iters or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.cpu_ms = (time.process_time() - cpu0) / len(times) * 1e3
    return times


class Times(list):
    """Per-call wall durations (s); cpu_ms is the process CPU time per call, all threads."""
    cpu_ms = 0.0


def summarize_rate(times):
    """steps/s from the median step time (robust to a stray slow step)."""
    return 1.0 / statistics.median(times)


def percentile(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def loadavg1():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def emit(result):
    result.setdefault("machine", platform.processor() or platform.machine())
    result.setdefault("threads", THREADS)
    print(json.dumps(result, sort_keys=True))
