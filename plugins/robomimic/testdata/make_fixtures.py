"""Writes Robomimic-layout HDF5 fixtures with h5py, their .npz conversions, and expected.json with
the dataset QC's loader would build (numpy: keys concatenated in QC's order, float32, reward - 1,
mask = 1 - done; terminal = done, and 1 on the last step of every demo).

    .venv/bin/python plugins/robomimic/testdata/make_fixtures.py             # the small fixtures
    .venv/bin/python plugins/robomimic/testdata/make_fixtures.py --demos 300 --out /tmp/square-mh.hdf5

The second form writes a full-size file (300 demos of 100-200 steps, like square MH) that is not
committed; `make data-check` inspects one.
"""
import argparse
import json
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
QC_KEYS = ["robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"]
DIMS = {"robot0_eef_pos": 3, "robot0_eef_quat": 4, "robot0_gripper_qpos": 2, "object": 14, "robot0_joint_pos": 7}


def write(path, lengths, rng, indices=None, open_end=()):
    """open_end: demo indices whose last done is 0 (a demo cut before success)."""
    indices = list(range(len(lengths))) if indices is None else indices
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = int(sum(lengths))
        data.attrs["env_args"] = json.dumps({"env_name": "NutAssemblySquare", "type": 1,
                                             "env_kwargs": {"control_freq": 20, "horizon": 400}})
        for i, n in zip(indices, lengths):
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = n
            for p in ("obs", "next_obs"):
                o = g.create_group(p)
                for k, d in DIMS.items():
                    o.create_dataset(k, data=rng.normal(size=(n, d)))
                o.create_dataset("agentview_image", data=rng.integers(0, 255, size=(n, 4, 4, 3), dtype=np.uint8))
            g.create_dataset("actions", data=np.clip(rng.normal(scale=0.5, size=(n, 7)), -1, 1))
            rewards = np.zeros(n)
            dones = np.zeros(n, dtype=np.int64)
            if i not in open_end:
                rewards[-1] = 1
                dones[-1] = 1
            g.create_dataset("rewards", data=rewards)
            g.create_dataset("dones", data=dones)
            g.create_dataset("states", data=rng.normal(size=(n, 45)))
        m = f.create_group("mask")
        names = [f"demo_{i}" for i in indices]
        m.create_dataset("train", data=np.array(names[: max(1, len(names) * 9 // 10)], dtype="S"))
        m.create_dataset("valid", data=np.array(names[max(1, len(names) * 9 // 10):], dtype="S"))


def expected(path, keys=QC_KEYS, only=None):
    """QC's robomimic get_dataset, in numpy."""
    with h5py.File(path, "r") as f:
        demos = list(f["data"].keys())
        demos = [demos[i] for i in np.argsort([int(d[5:]) for d in demos])]
        if only is not None:
            allowed = {x.decode() if isinstance(x, bytes) else x for x in f["mask"][only][()]}
            demos = [d for d in demos if d in allowed]
        cols = {k: [] for k in ["observations", "next_observations", "actions", "rewards", "masks", "terminals"]}
        for d in demos:
            g = f["data"][d]
            obs = np.concatenate([np.asarray(g["obs"][k]) for k in keys], axis=-1)
            nxt = np.concatenate([np.asarray(g["next_obs"][k]) for k in keys], axis=-1)
            dones = np.asarray(g["dones"]).astype(np.float32)
            term = dones.copy()
            term[-1] = 1
            cols["observations"].append(obs.astype(np.float32))
            cols["next_observations"].append(nxt.astype(np.float32))
            cols["actions"].append(np.asarray(g["actions"]).astype(np.float32))
            cols["rewards"].append(np.asarray(g["rewards"]).astype(np.float32) - 1.0)
            cols["masks"].append(1.0 - dones)
            cols["terminals"].append(term)
    out = {k: np.concatenate(v).astype(np.float64).ravel().tolist() for k, v in cols.items()}
    out["obs_dim"] = int(sum(DIMS[k] for k in keys))
    out["demos"] = len(demos)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--demos", type=int, default=0)
    p.add_argument("--out", default="")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.demos:
        write(a.out, list(rng.integers(100, 201, size=a.demos)), rng)
        return
    small = os.path.join(HERE, "square-small.hdf5")
    # demo_10 sorts after demo_2 only when sorted by index; demo_1 ends without done.
    write(small, [7, 5, 9, 4, 6], rng, indices=[0, 1, 2, 10, 3], open_end=(1,))
    conv = os.path.join(os.path.dirname(HERE), "convert_robomimic.py")
    subprocess.run([sys.executable, conv, small, os.path.join(HERE, "square-small.npz")], check=True)
    exp = {"all": expected(small), "valid": expected(small, only="valid"),
           "joint": expected(small, keys=["robot0_joint_pos", "object"])}
    # Damaged files.
    bad = os.path.join(HERE, "bad")
    os.makedirs(bad, exist_ok=True)
    write(os.path.join(bad, "nan.hdf5"), [3, 4], rng)
    with h5py.File(os.path.join(bad, "nan.hdf5"), "a") as f:
        f["data/demo_1/obs/object"][2, 5] = np.nan
    subprocess.run([sys.executable, conv, os.path.join(bad, "nan.hdf5"), os.path.join(bad, "nan.npz")], check=True)
    write(os.path.join(bad, "missing-key.hdf5"), [3, 4], rng)
    with h5py.File(os.path.join(bad, "missing-key.hdf5"), "a") as f:
        del f["data/demo_0/next_obs/object"]
    write(os.path.join(bad, "short-rewards.hdf5"), [3, 4], rng)
    with h5py.File(os.path.join(bad, "short-rewards.hdf5"), "a") as f:
        del f["data/demo_1/rewards"]
        f["data/demo_1"].create_dataset("rewards", data=np.zeros(3))
    write(os.path.join(bad, "string-actions.hdf5"), [3, 4], rng)
    with h5py.File(os.path.join(bad, "string-actions.hdf5"), "a") as f:
        del f["data/demo_0/actions"]
        f["data/demo_0"].create_dataset("actions", data=np.array([b"abc"] * 3))
    # Filters stored as variable-length strings (h5py's default for Python str).
    vlen = os.path.join(HERE, "vlen-mask.hdf5")
    write(vlen, [3, 4, 5], rng)
    with h5py.File(vlen, "a") as f:
        del f["mask/valid"]
        f["mask"].create_dataset("valid", data=["demo_2", "demo_0"], dtype=h5py.string_dtype())
    exp["vlen_valid"] = expected(vlen, only="valid")
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(exp, f)


if __name__ == "__main__":
    main()
