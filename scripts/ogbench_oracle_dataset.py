#!/usr/bin/env python3
"""Writes a small OGBench play dataset locally with OGBench's own scripted oracles.

The official datasets are downloaded from a server the build machines cannot reach; this script
produces files of the same format (np.savez_compressed; observations/actions/qpos/qvel <f4,
terminals |b1, button_states <i8 where the scene has buttons; one row per step, fixed-length
trajectories whose last row is terminal) with the same recipe: the environment in data-collection
mode, the plan oracles of ogbench.manipspace.oracles following randomly drawn targets, a new
target whenever the oracle finishes. A tenth as many episodes go to the "-val" file.

    .venv/bin/python scripts/ogbench_oracle_dataset.py --env cube-double-v0 --episodes 100 \
        --out out/ogbench/cube-double-play-v0.npz

Single-task names (cube-double-play-singletask-task2-v0) use this play file and relabel it.
Nothing is rendered, so no OpenGL is needed.
"""

import argparse
import json
import os
import sys
import time


def stack_probability(env_name, rng):
    """How often a new target puts a cube on another one, by number of cubes (OGBench's recipe)."""
    for word, (lo, hi) in [("single", (0.0, 0.0)), ("double", (0.0, 0.25)), ("triple", (0.05, 0.35)),
                           ("quadruple", (0.1, 0.5))]:
        if word in env_name:
            return rng.uniform(lo, hi)
    return 0.5


def make_oracles(env_name, env, noise, smoothing):
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    kw = dict(env=env, noise=noise, noise_smoothing=smoothing)
    if env_name.startswith("cube"):
        return {"cube": CubePlanOracle(**kw)}
    if env_name.startswith("scene"):
        return {"cube": CubePlanOracle(**kw), "button": ButtonPlanOracle(**kw),
                "drawer": DrawerPlanOracle(**kw), "window": WindowPlanOracle(**kw)}
    if env_name.startswith("puzzle"):
        return {"button": ButtonPlanOracle(gripper_always_closed=True, **kw)}
    raise SystemExit(f"no oracle for {env_name!r}: want a cube-*, scene-* or puzzle-* environment")


def collect(env, oracles, env_name, episodes, rng, log_every):
    import numpy as np

    has_buttons = hasattr(env.unwrapped, "_cur_button_states")
    data = {k: [] for k in ["observations", "actions", "terminals", "qpos", "qvel"]}
    if has_buttons:
        data["button_states"] = []
    start = time.time()
    for ep in range(episodes):
        ob, info = env.reset()
        p_stack = stack_probability(env_name, rng)
        oracle = oracles[info["privileged/target_task"]]
        oracle.reset(ob, info)
        done = False
        while not done:
            action = np.clip(np.asarray(oracle.select_action(ob, info), dtype=np.float64), -1, 1)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            if oracle.done:
                target_ob, target_info = env.unwrapped.set_new_target(p_stack=p_stack)
                oracle = oracles[target_info["privileged/target_task"]]
                oracle.reset(target_ob, target_info)
            # The row holds the state the action was taken in: prev_* are from before the step.
            data["observations"].append(ob)
            data["actions"].append(action)
            data["terminals"].append(done)
            data["qpos"].append(info["prev_qpos"])
            data["qvel"].append(info["prev_qvel"])
            if has_buttons:
                data["button_states"].append(info["prev_button_states"])
            ob = next_ob
        if log_every and (ep + 1) % log_every == 0:
            print(f"{ep + 1}/{episodes} episodes, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return data


def save(path, data):
    import numpy as np

    arrays = {}
    for k, v in data.items():
        dtype = {"terminals": bool, "button_states": np.int64}.get(k, np.float32)
        arrays[k] = np.asarray(v, dtype=dtype)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)  # never leave a half-written file under the final name
    return {k: [str(a.dtype), list(a.shape)] for k, a in arrays.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="cube-double-v0", help="OGBench environment in data-collection form")
    p.add_argument("--episodes", type=int, default=100, help="training episodes")
    p.add_argument("--val-episodes", type=int, default=None, help="validation episodes (default: a tenth)")
    p.add_argument("--steps", type=int, default=1000, help="transitions per trajectory (rows = steps + 1)")
    p.add_argument("--noise", type=float, default=0.1, help="oracle action noise")
    p.add_argument("--noise-smoothing", type=float, default=0.5, help="oracle noise smoothing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output .npz (default out/ogbench/<env>-play-<version>.npz)")
    args = p.parse_args()
    if args.episodes < 1 or args.steps < 1:
        p.error("--episodes and --steps must be positive")
    val_episodes = args.episodes // 10 if args.val_episodes is None else args.val_episodes
    stem, _, version = args.env.rpartition("-")
    out = args.out or os.path.join("out", "ogbench", f"{stem}-play-{version}.npz")

    import gymnasium
    import numpy as np
    import ogbench.manipspace  # noqa: F401  (registers the environments)

    np.random.seed(args.seed)  # the oracles draw their noise from numpy's global generator
    rng = np.random.default_rng(args.seed)
    env = gymnasium.make(args.env, terminate_at_goal=False, mode="data_collection",
                         max_episode_steps=args.steps + 1)
    env.reset(seed=args.seed)
    oracles = make_oracles(args.env, env, args.noise, args.noise_smoothing)
    log_every = max(1, args.episodes // 10)
    summary = {"env": args.env, "train": out}
    summary["train_arrays"] = save(out, collect(env, oracles, args.env, args.episodes, rng, log_every))
    if val_episodes > 0:
        val = out[: -len(".npz")] + "-val.npz" if out.endswith(".npz") else out + "-val.npz"
        summary["val"] = val
        summary["val_arrays"] = save(val, collect(env, oracles, args.env, val_episodes, rng, 0))
    env.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
