"""numpy references for the data benchmarks in BENCHMARKS.md.

    .venv/bin/python scripts/bench_data.py                       # sampling, below
    .venv/bin/python scripts/bench_data.py --ogbench FILE.npz    # write FILE if absent (1M-row
        cube-double-like play data), then time OGBench's load_dataset + relabel_dataset on it;
        compare with: /usr/bin/time bin/mvp data inspect --json --task 2 FILE.npz

Sampling: the reference for datasets.BenchmarkSample: QC's sequence sampling (a loop over the h steps
of a chunk, fancy indexing of the whole batch per step, discounted reward sums, min of masks,
valid = 1 - terminal of the previous step) for B = 256, h = 5 over 1M transitions of obs 37,
action 5. Prints microseconds per batch.

    .venv/bin/python scripts/bench_data.py
"""
import os
import sys
import time

import numpy as np


def ogbench_load(path):
    if not os.path.exists(path):
        r = np.random.default_rng(0)
        rows = 1000 * 1001
        term = np.zeros(rows, dtype=bool)
        term[1000::1001] = True
        np.savez_compressed(path, observations=r.normal(size=(rows, 37)).astype(np.float32),
                            actions=r.uniform(-1, 1, size=(rows, 5)).astype(np.float32), terminals=term,
                            qpos=(r.normal(scale=0.1, size=(rows, 28)) + 0.3).astype(np.float32),
                            qvel=r.normal(size=(rows, 26)).astype(np.float32))
    import gymnasium
    import ogbench  # noqa: F401
    from ogbench.relabel_utils import relabel_dataset
    from ogbench.utils import load_dataset
    env = gymnasium.make("cube-double-singletask-task2-v0")
    t = time.perf_counter()
    d = load_dataset(path, add_info=True)
    relabel_dataset("cube-double-singletask-task2-v0", env, d)
    print(f"ogbench load_dataset+relabel: {time.perf_counter() - t:.2f} s, {len(d['rewards'])} transitions, "
          f"reward sum {d['rewards'].sum()}")


if len(sys.argv) == 3 and sys.argv[1] == "--ogbench":
    ogbench_load(sys.argv[2])
    sys.exit(0)

n, obs_dim, act_dim, B, h, gamma = 1_000_000, 37, 5, 256, 5, 0.99
rng = np.random.default_rng(1)
data = dict(observations=np.zeros((n, obs_dim), np.float32), next_observations=np.zeros((n, obs_dim), np.float32),
            actions=np.zeros((n, act_dim), np.float32), rewards=np.zeros(n, np.float32),
            masks=np.ones(n, np.float32), terminals=np.zeros(n, np.float32))
data["terminals"][999::1000] = 1


def sample():
    idx = rng.integers(n - h + 1, size=B)
    rewards = np.zeros((B, h), np.float32)
    masks = np.ones((B, h), np.float32)
    terms = np.zeros((B, h), np.float32)
    valid = np.ones((B, h), np.float32)
    actions = np.zeros((B, h, act_dim), np.float32)
    nxt = np.zeros((B, h, obs_dim), np.float32)
    for i in range(h):
        cur = idx + i
        if i == 0:
            rewards[:, 0] = data["rewards"][cur]
            masks[:, 0] = data["masks"][cur]
            terms[:, 0] = data["terminals"][cur]
        else:
            rewards[:, i] = rewards[:, i - 1] + data["rewards"][cur] * gamma**i
            masks[:, i] = np.minimum(masks[:, i - 1], data["masks"][cur])
            terms[:, i] = np.maximum(terms[:, i - 1], data["terminals"][cur])
            valid[:, i] = 1 - terms[:, i - 1]
        actions[:, i] = data["actions"][cur]
        nxt[:, i] = data["next_observations"][cur]
    return data["observations"][idx], actions.reshape(B, -1), rewards[:, -1], masks[:, -1], valid, nxt[:, -1]


for _ in range(50):
    sample()
k = 2000
t = time.perf_counter()
for _ in range(k):
    sample()
print(f"numpy QC-style sample_sequence: {(time.perf_counter() - t) / k * 1e6:.1f} us/batch")
