"""Independent check of a toy dataset written by Go: numpy reads the OGBench-format npz, applies
OGBench's standard loading and single-task relabelling itself, and compares with the transitions
Go derived (stored in a second npz). Usage: check_npz.py demos.npz expected.npz goal_x goal_y goal_z
(cube; qpos columns 5-7) or check_npz.py demos.npz expected.npz pointmass. Prints one JSON line."""
import json
import sys

import numpy as np

demos = np.load(sys.argv[1])
want = np.load(sys.argv[2])
assert demos["observations"].dtype == np.float32, demos["observations"].dtype
assert demos["actions"].dtype == np.float32
assert demos["terminals"].dtype == np.bool_, demos["terminals"].dtype
assert demos["qpos"].dtype == np.float32
obs, act, term, qpos = demos["observations"], demos["actions"], demos["terminals"], demos["qpos"]
n = len(obs)
assert act.shape[0] == n and term.shape == (n,) and qpos.shape[0] == n
assert np.all(np.abs(act) <= 1), "actions outside [-1, 1]"

# OGBench's non-compact loading: drop each trajectory's last row, next observation = next row.
keep = ~term
idx = np.nonzero(keep)[0]
next_obs = obs[idx + 1]
terminals = term[idx + 1].astype(np.float32)
if sys.argv[3] == "pointmass":
    d = np.linalg.norm(qpos[idx, 0:2] - np.array([0.8, 0.0]), axis=-1)
    success = d <= 0.1
else:
    goal = np.array([float(x) for x in sys.argv[3:6]])
    success = np.linalg.norm(qpos[idx, 5:8] - goal, axis=-1) <= 0.04
rewards = success.astype(np.float32) - 1.0
masks = 1.0 - success.astype(np.float32)

for key, got in [("observations", obs[idx]), ("actions", act[idx]), ("next_observations", next_obs),
                 ("rewards", rewards), ("masks", masks), ("terminals", terminals)]:
    w = want[key]
    assert w.shape == got.shape, (key, w.shape, got.shape)
    assert np.array_equal(w, got), (key, np.argwhere(w != got)[:5])
print(json.dumps({"rows": n, "transitions": int(len(idx)), "trajectories": int(term.sum()),
                  "successes": int(success.sum())}))
