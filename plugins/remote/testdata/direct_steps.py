"""Steps per second of environments stepped directly in Python, the reference for the remote
plugin's overhead and the toy tasks' speed. Usage: direct_steps.py [seconds]. Prints one JSON line."""
import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0


def rate(env, action):
    env.reset(seed=0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, term, trunc, _ = env.step(action)
        n += 1
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - start)


out = {}
import gymnasium as gym

out["gym:Pendulum-v1"] = rate(gym.make("Pendulum-v1"), np.array([0.5], dtype=np.float32))
import ogbench

env = ogbench.make_env_and_datasets("cube-single-play-singletask-task2-v0", env_only=True)
out["ogbench:cube-single-play-singletask-task2-v0"] = rate(env, np.zeros(5, dtype=np.float32))
print(json.dumps({k: round(v, 1) for k, v in out.items()}))
