"""Environment server of gomvp's remote plugin.

Reads one JSON request per line on stdin and answers one JSON object per line on stdout, as
described in PROTOCOL.md next to this file. Needs only the standard library and, for each kind of
environment, the library that provides it: gymnasium ("gym:<id>"), ogbench ("ogbench:<name>"),
robosuite ("robomimic:<task>").
"""

import json
import math
import os
import sys
import traceback

PROTOCOL_VERSION = 1


def _flat(x):
    """Flattens an observation (array, nested list or dict of arrays, in key order) to floats."""
    import numpy as np

    if isinstance(x, dict):
        return np.concatenate([_flat(x[k]) for k in sorted(x)]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).ravel()


class GymEnv:
    """A gymnasium environment; OGBench environments are gymnasium environments too."""

    def __init__(self, env, kind):
        import gymnasium as gym
        import numpy as np

        self.env = env
        self.kind = kind
        space = env.action_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"action space {space} is not a Box; only continuous actions are supported")
        self.act_low = np.asarray(space.low, dtype=np.float64).ravel()
        self.act_high = np.asarray(space.high, dtype=np.float64).ravel()
        self.act_dim = int(self.act_low.size)
        self.obs_space = env.observation_space
        self.max_steps = int(env.spec.max_episode_steps) if env.spec and env.spec.max_episode_steps else 0
        self.obs_dim = None

    def _obs(self, obs):
        import gymnasium as gym

        if isinstance(self.obs_space, gym.spaces.Dict):
            return gym.spaces.flatten(self.obs_space, obs).astype("float64")
        return _flat(obs)

    def reset(self, seed):
        obs, _ = self.env.reset(seed=seed)
        return self._obs(obs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        success = bool(info.get("success", info.get("is_success", False)))
        return self._obs(obs), float(reward), bool(terminated), bool(truncated), success

    def close(self):
        self.env.close()


ROBOMIMIC_TASKS = {
    # task: (robosuite environment, evaluation horizon used by QC)
    "lift": ("Lift", 300),
    "can": ("PickPlaceCan", 300),
    "square": ("NutAssemblySquare", 400),
}
ROBOMIMIC_KEYS = ["robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"]


class RobosuiteEnv:
    """A robosuite environment with robomimic's low-dimensional observation (QC's key order)."""

    def __init__(self, task, kwargs):
        import numpy as np
        import robosuite

        if task not in ROBOMIMIC_TASKS:
            raise ValueError(f"unknown robomimic task {task!r}; known: {sorted(ROBOMIMIC_TASKS)}")
        env_name, horizon = ROBOMIMIC_TASKS[task]
        try:
            from robosuite.controllers import load_controller_config

            controller = load_controller_config(default_controller="OSC_POSE")
        except ImportError:  # robosuite >= 1.5
            from robosuite.controllers import load_composite_controller_config

            controller = load_composite_controller_config(controller="BASIC")
        args = dict(
            env_name=env_name, robots="Panda", controller_configs=controller, has_renderer=False,
            has_offscreen_renderer=False, use_camera_obs=False, use_object_obs=True, reward_shaping=False,
            control_freq=20, horizon=horizon, ignore_done=True,
        )
        args.update(kwargs)
        self.env = robosuite.make(**args)
        low, high = self.env.action_spec
        self.act_low, self.act_high = np.asarray(low, float), np.asarray(high, float)
        self.act_dim = int(self.act_low.size)
        self.max_steps = horizon
        self.t = 0

    def _obs(self, obs):
        import numpy as np

        keys = [k if k in obs else "object-state" for k in ROBOMIMIC_KEYS]
        return np.concatenate([np.asarray(obs[k], dtype=np.float64).ravel() for k in keys])

    def reset(self, seed):
        import numpy as np

        if seed is not None:
            np.random.seed(seed % (2**32))
        self.t = 0
        return self._obs(self.env.reset())

    def step(self, action):
        obs, reward, _, _ = self.env.step(action)
        self.t += 1
        success = bool(self.env._check_success())
        return self._obs(obs), float(reward), success, self.t >= self.max_steps and not success, success

    def close(self):
        self.env.close()


def make(name, kwargs):
    kind, _, rest = name.partition(":")
    if not rest:
        raise ValueError(f"environment {name!r} has no kind; want gym:<id>, ogbench:<name> or robomimic:<task>")
    if kind == "gym":
        import gymnasium as gym

        return GymEnv(gym.make(rest, **kwargs), kind)
    if kind == "ogbench":
        import ogbench

        return GymEnv(ogbench.make_env_and_datasets(rest, env_only=True, **kwargs), kind)
    if kind == "robomimic":
        return RobosuiteEnv(rest, kwargs)
    raise ValueError(f"unknown environment kind {kind!r} in {name!r}; want gym, ogbench or robomimic")


def finite_list(x, what):
    out = [float(v) for v in x]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError(f"{what}[{i}] is {v}")
    return out


def serve(inp, out):
    env = None
    rescale = False
    for line in inp:
        line = line.strip()
        if not line:
            continue
        reply = {}
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request is not a JSON object")
            cmd = req.get("cmd")
            if cmd == "make":
                if env is not None:
                    raise ValueError("make called twice")
                env = make(req["name"], req.get("kwargs") or {})
                rescale = bool(req.get("rescale_actions", False))
                obs = env.reset(req.get("seed"))
                env.obs_dim = int(obs.size)
                reply = dict(obs_dim=env.obs_dim, act_dim=env.act_dim, max_episode_steps=env.max_steps,
                             act_low=finite_or_none(env.act_low), act_high=finite_or_none(env.act_high),
                             protocol=PROTOCOL_VERSION)
            elif cmd in ("reset", "step"):
                if env is None:
                    raise ValueError(f"{cmd} before make")
                if cmd == "reset":
                    reply["obs"] = finite_list(env.reset(req.get("seed")), "observation")
                else:
                    import numpy as np

                    a = np.asarray(req["action"], dtype=np.float64)
                    if a.shape != (env.act_dim,):
                        raise ValueError(f"action has shape {list(a.shape)}, want [{env.act_dim}]")
                    if rescale:
                        a = env.act_low + (np.clip(a, -1, 1) + 1) / 2 * (env.act_high - env.act_low)
                    obs, r, term, trunc, success = env.step(a.astype(np.float32))
                    reply.update(obs=finite_list(obs, "observation"), reward=finite_list([r], "reward")[0],
                                 terminated=term, truncated=trunc, success=success)
            elif cmd == "close":
                if env is not None:
                    env.close()
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            else:
                raise ValueError(f"unknown cmd {cmd!r}")
            reply["ok"] = True
        except Exception as e:  # reported to the client, which decides what is fatal
            reply = {"ok": False, "error": describe(e), "traceback": traceback.format_exc()}
        out.write(json.dumps(reply, allow_nan=False) + "\n")
        out.flush()


def describe(e):
    """One line for the client: the exception, and where it was raised when it has no message
    (a bare assert deep inside a simulator says nothing by itself)."""
    msg = f"{type(e).__name__}: {e}"
    if not str(e):
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            msg += f"(raised at {tb[-1].filename}:{tb[-1].lineno}: {tb[-1].line})"
    return msg


def finite_or_none(x):
    return [float(v) if math.isfinite(v) else None for v in x]


def main():
    # The protocol owns the original stdout; everything else that prints (simulators, C libraries,
    # warnings) goes to stderr, so that it cannot corrupt the replies.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, out)


if __name__ == "__main__":
    main()
