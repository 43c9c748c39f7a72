"""Writes the OGBench-format fixtures of plugins/ogbench with numpy, and the expected loaded
datasets computed by OGBench's own code (ogbench.utils.load_dataset and
ogbench.relabel_utils.relabel_dataset, with the real single-task environments).

    .venv/bin/python plugins/ogbench/testdata/make_fixtures.py

Needs numpy, and ogbench with MuJoCo (scripts/setup-envs.sh installs them) for the expected values
and goal_tables.json. The files are small synthetic play datasets: trajectories of a few rows with
the real keys, dtypes and qpos layout, cubes placed on, near (3.9 cm) and off (4.1 cm) their goals.
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# family -> (obs_dim, number of cubes, number of buttons, has drawer/window)
FAMILIES = {
    "cube-single": (28, 1, 0, False),
    "cube-double": (37, 2, 0, False),
    "scene": (40, 1, 2, True),
    "puzzle-3x3": (55, 0, 9, False),
}


def goal_table(env):
    """Goals of the five tasks, read from the environment's own task_infos."""
    u = env.unwrapped
    out = []
    for info in u.task_infos:
        if "goal_xyzs" in info:
            out.append({"cubes": info["goal_xyzs"].tolist()})
        elif "goal_button_states" in info:
            out.append({"buttons": info["goal_button_states"].tolist()})
        else:
            g = info["goal"]
            out.append({"cubes": g["block_xyzs"].tolist(), "buttons": g["button_states"].tolist(),
                        "drawer": g["drawer_pos"], "window": g["window_pos"]})
    return out


def synth(family, n_traj, rows, rng, goals):
    obs_dim, n_cubes, n_buttons, dw = FAMILIES[family]
    n = n_traj * rows
    qpos_dim = 14 + 7 * n_cubes + (n_buttons + 2 if dw else 0)
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(n, 5)).astype(np.float32)
    term = np.zeros(n, dtype=bool)
    term[rows - 1 :: rows] = True
    qpos = rng.normal(scale=0.1, size=(n, qpos_dim)).astype(np.float32)
    qvel = rng.normal(size=(n, qpos_dim - n_cubes)).astype(np.float32)
    for c in range(n_cubes):
        for i in range(n):
            g = np.array(goals[i % len(goals)]["cubes"][c])
            kind = rng.integers(4)
            d = rng.normal(size=3)
            d /= np.linalg.norm(d)
            off = {0: 0.0, 1: 0.039, 2: 0.041, 3: 0.3}[int(kind)]
            qpos[i, 14 + 7 * c : 14 + 7 * c + 3] = g + off * d
    out = dict(observations=obs, actions=act, terminals=term, qpos=qpos, qvel=qvel)
    if n_buttons:
        out["button_states"] = rng.integers(0, 2, size=(n, n_buttons)).astype(np.int64)
        # Make some rows match the goal exactly.
        for i in range(0, n, 3):
            out["button_states"][i] = goals[i % len(goals)]["buttons"]
    if dw:
        base = 14 + 7 * n_cubes + n_buttons
        for i in range(n):
            g = goals[i % len(goals)]
            qpos[i, base] = g["drawer"] + rng.choice([0.0, 0.03, 0.05])
            qpos[i, base + 1] = g["window"] + rng.choice([0.0, -0.03, -0.05])
    return out


def expected(path, env_name):
    import gymnasium
    import ogbench  # noqa: F401  (registers the environments)
    from ogbench.relabel_utils import relabel_dataset
    from ogbench.utils import load_dataset

    ds = load_dataset(path, add_info=env_name is not None)
    if env_name is not None:
        env = gymnasium.make(env_name)
        relabel_dataset(env_name, env, ds)
        env.close()
    keep = ["observations", "actions", "next_observations", "terminals", "rewards", "masks"]
    return {k: np.asarray(ds[k], dtype=np.float64).ravel().tolist() for k in keep if k in ds} | {
        "obs_dim": int(ds["observations"].shape[1]), "act_dim": int(ds["actions"].shape[1])}


def main():
    import gymnasium
    import ogbench  # noqa: F401

    rng = np.random.default_rng(0)
    tables, exp = {}, {}
    for family in FAMILIES:
        env = gymnasium.make(f"{family}-singletask-v0")
        tables[family] = goal_table(env)
        env.close()
    for family in FAMILIES:
        goals = tables[family]
        name = f"{family}-play-v0"
        for suffix, n_traj in [("", 3), ("-val", 2)]:
            if suffix and family != "cube-double":
                continue
            data = synth(family, n_traj, 6, rng, goals)
            path = os.path.join(HERE, name + suffix + ".npz")
            np.savez_compressed(path, **data)
            for task in [None, 1, 4] if family == "cube-double" and not suffix else [None]:
                env_name = f"{family}-singletask{'' if task is None else f'-task{task}'}-v0"
                exp[f"{name}{suffix}.npz|{env_name}"] = expected(path, env_name)
    # Plain np.savez (not compressed), float64 actions, float32 terminals: other dtypes load the same.
    data = synth("cube-double", 2, 5, rng, tables["cube-double"])
    data["actions"] = data["actions"].astype(np.float64)
    data["terminals"] = data["terminals"].astype(np.float32)
    path = os.path.join(HERE, "cube-double-savez-v0.npz")
    np.savez(path, **data)
    exp["cube-double-savez-v0.npz|cube-double-singletask-task3-v0"] = expected(path, "cube-double-singletask-task3-v0")

    # Files the loader must refuse with a clear message.
    bad = os.path.join(HERE, "bad")
    os.makedirs(bad, exist_ok=True)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    d["observations"][5, 7] = np.nan
    np.savez_compressed(os.path.join(bad, "nan-obs.npz"), **d)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    d["actions"] = d["actions"].astype(np.complex64)
    np.savez_compressed(os.path.join(bad, "complex-actions.npz"), **d)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    d["terminals"] = d["terminals"][:-1]
    np.savez_compressed(os.path.join(bad, "short-terminals.npz"), **d)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    d["terminals"][-1] = False
    np.savez_compressed(os.path.join(bad, "unterminated.npz"), **d)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    del d["qpos"]
    np.savez_compressed(os.path.join(bad, "no-qpos.npz"), **d)
    d = synth("cube-double", 2, 4, rng, tables["cube-double"])
    d["observations"] = rng.integers(0, 255, size=(8, 8, 8, 3)).astype(np.uint8)
    np.savez_compressed(os.path.join(HERE, "visual-cube-double-play-v0.npz"), **d)

    with open(os.path.join(HERE, "goal_tables.json"), "w") as f:
        json.dump(tables, f, indent=1, sort_keys=True)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(exp, f, sort_keys=True)


if __name__ == "__main__":
    main()
