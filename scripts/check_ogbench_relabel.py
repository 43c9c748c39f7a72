#!/usr/bin/env python3
"""Cross-checks `mvp data inspect FILE -task N --json` against OGBench's own loader and single-task
relabelling. Usage: check_ogbench_relabel.py FILE.npz SINGLETASK_ENV_NAME INSPECT.json"""
import json
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import ogbench  # noqa: E402
import ogbench.utils  # noqa: E402
from ogbench.relabel_utils import relabel_dataset  # noqa: E402

path, name, inspect_path = sys.argv[1:4]
with open(inspect_path) as f:
    got = json.loads(f.read().strip().splitlines()[-1])
env = ogbench.make_env_and_datasets(name, env_only=True)
d = ogbench.utils.load_dataset(path, add_info=True)
relabel_dataset(name, env, d)
values, counts = np.unique(d["rewards"], return_counts=True)
want = {"transitions": len(d["rewards"]), "trajectories": int(d["terminals"].sum()),
        "reward_values": {f"{v:g}": int(c) for v, c in zip(values, counts)},
        "mask_zeros": int((d["masks"] == 0).sum())}
for k, w in want.items():
    if got.get(k) != w:
        sys.exit(f"{path}: {k}: mvp data inspect says {got.get(k)}, OGBench says {w}")
print("mvp data inspect agrees with OGBench's loader and relabelling:", json.dumps(want))
