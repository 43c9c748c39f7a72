#!/usr/bin/env python3
"""Converts a Robomimic low-dim HDF5 file (low_dim_v15.hdf5) into the .npz that the pure-Go
loader of plugins/robomimic reads, for binaries built without HDF5 support.

    .venv/bin/python plugins/robomimic/convert_robomimic.py low_dim_v15.hdf5 low_dim_v15.npz

Needs numpy and h5py. The values are stored unchanged except for the cast to float32 that the
loader applies anyway (QC casts the same way); the conventions (key order, reward - 1, mask = 1 -
done) are applied when loading, so both readers give the same dataset. Layout of the .npz:

    obs/<key>, next_obs/<key>   float32 [N, dim]  every low-dim observation key of the file
    actions                      float32 [N, act_dim]
    rewards, dones               float32 [N]
    demo_ids, demo_lengths       int64 [M]        demo_<i> index and length, in increasing i
    meta                         uint8 [bytes]    JSON: source, obs_keys, obs_dims, env_args,
                                                  total, filters (mask/<name> -> demo indices)
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np


def demo_index(name):
    if not name.startswith("demo_") or not name[5:].isdigit():
        return None
    return int(name[5:])


def convert(src, dst):
    with h5py.File(src, "r") as f:
        if "data" not in f:
            raise SystemExit(f"{src}: no 'data' group; not a robomimic dataset")
        data = f["data"]
        demos = sorted((demo_index(k), k) for k in data.keys() if demo_index(k) is not None)
        if not demos:
            raise SystemExit(f"{src}: no data/demo_<i> groups")
        first = data[demos[0][1]]
        keys = [k for k in first["obs"].keys() if first["obs"][k].ndim == 2]
        arrays = {f"{p}/{k}": [] for p in ("obs", "next_obs") for k in keys}
        arrays.update(actions=[], rewards=[], dones=[])
        ids, lengths = [], []
        for i, name in demos:
            g = data[name]
            n = g["actions"].shape[0]
            for p in ("obs", "next_obs"):
                for k in keys:
                    if k not in g[p]:
                        raise SystemExit(f"{src}: data/{name}/{p}/{k} missing (present in {demos[0][1]})")
                    a = np.asarray(g[p][k], dtype=np.float32)
                    if a.shape[0] != n:
                        raise SystemExit(f"{src}: data/{name}/{p}/{k} has {a.shape[0]} rows, actions {n}")
                    arrays[f"{p}/{k}"].append(a)
            arrays["actions"].append(np.asarray(g["actions"], dtype=np.float32))
            arrays["rewards"].append(np.asarray(g["rewards"], dtype=np.float32).reshape(n))
            arrays["dones"].append(np.asarray(g["dones"], dtype=np.float32).reshape(n))
            ids.append(i)
            lengths.append(n)
        filters = {}
        if "mask" in f:
            for k in f["mask"].keys():
                names = [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(f["mask"][k])]
                filters[k] = sorted(demo_index(x) for x in names if demo_index(x) is not None)
        env_args = data.attrs.get("env_args")
        meta = {
            "source": os.path.basename(src),
            "obs_keys": keys,
            "obs_dims": [int(arrays[f"obs/{k}"][0].shape[1]) for k in keys],
            "env_args": json.loads(env_args) if env_args is not None else None,
            "total": int(data.attrs.get("total", sum(lengths))),
            "filters": filters,
        }
    out = {k: np.concatenate(v, axis=0) for k, v in arrays.items()}
    out["demo_ids"] = np.asarray(ids, dtype=np.int64)
    out["demo_lengths"] = np.asarray(lengths, dtype=np.int64)
    out["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = dst + ".tmp.npz"
    np.savez_compressed(tmp, **out)
    os.replace(tmp, dst)
    return len(ids), sum(lengths)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="robomimic low-dim .hdf5")
    p.add_argument("dst", help="output .npz")
    a = p.parse_args()
    demos, n = convert(a.src, a.dst)
    print(f"{a.dst}: {demos} demos, {n} transitions", file=sys.stderr)


if __name__ == "__main__":
    main()
