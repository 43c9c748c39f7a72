# Environments: the embedded toy tasks, the remote (Python) environment plugin, OGBench data.
#
#   make test-realenv   remote envs against real gymnasium and OGBench servers; the OGBench oracle
#                       dataset script on 3 short episodes, read back by OGBench's own loader, and
#                       `mvp data inspect -task 2` checked against OGBench's relabelling
#   make ogbench-data   100 episodes of cube-double play with OGBench's oracles (about 10 minutes)
#                       into $(OGBENCH_OUT) (OGBENCH_ENV, OGBENCH_EPISODES, OGBENCH_OUT override)
#   make bench-envs     steps per second: toy tasks (one core), remote Pendulum, Python direct
#
# The Python side (.venv with numpy, gymnasium, mujoco, ogbench) comes from scripts/setup-envs.sh.

ENVS_PYTHON      ?= .venv/bin/python
OGBENCH_ENV      ?= cube-double-v0
OGBENCH_EPISODES ?= 100
OGBENCH_OUT      ?= out/ogbench/$(subst -v0,-play-v0,$(OGBENCH_ENV)).npz
REALENV_OUT      := out/test-realenv

.PHONY: test-realenv ogbench-data bench-envs envs-setup
CI_TARGETS += test-realenv

envs-setup:
	bash scripts/setup-envs.sh

test-realenv:
	test -x $(ENVS_PYTHON) || { echo "no $(ENVS_PYTHON): run scripts/setup-envs.sh" >&2; exit 1; }
	$(PURE) MVP_PYTHON=$(abspath $(ENVS_PYTHON)) $(GO) test -tags $(GOTAGS),realenv -count=1 -timeout 20m -v -run 'Gym|OGBench' ./plugins/remote/
	rm -rf $(REALENV_OUT) && mkdir -p $(REALENV_OUT)
	$(ENVS_PYTHON) scripts/ogbench_oracle_dataset.py --env cube-double-v0 --episodes 3 --val-episodes 1 --steps 300 \
		--out $(REALENV_OUT)/cube-double-play-v0.npz
	$(ENVS_PYTHON) -c 'import sys, numpy as np, ogbench.utils as u; \
		d = u.load_dataset(sys.argv[1]); n = len(d["observations"]); \
		assert n == 900 and d["observations"].shape[1] == 37 and d["terminals"].sum() == 3, (n, d["terminals"].sum()); \
		assert np.isfinite(d["observations"]).all() and np.abs(d["actions"]).max() <= 1; \
		moved = np.abs(np.diff(np.load(sys.argv[1])["qpos"][:, 14:17], axis=0)).sum(); \
		assert moved > 0.05, f"the oracle never moved the first cube ({moved:.3f} m)"; \
		print("ogbench.utils.load_dataset:", n, "transitions of", d["observations"].shape[1], "dims, 3 trajectories; first cube moved", round(moved, 2), "m")' \
		$(REALENV_OUT)/cube-double-play-v0.npz
	$(MAKE) build
	$(BIN)/mvp data inspect $(REALENV_OUT)/cube-double-play-v0.npz -task 2 --json > $(REALENV_OUT)/inspect.json
	$(ENVS_PYTHON) scripts/check_ogbench_relabel.py $(REALENV_OUT)/cube-double-play-v0.npz \
		cube-double-play-singletask-task2-v0 $(REALENV_OUT)/inspect.json

ogbench-data:
	test -x $(ENVS_PYTHON) || { echo "no $(ENVS_PYTHON): run scripts/setup-envs.sh" >&2; exit 1; }
	$(ENVS_PYTHON) scripts/ogbench_oracle_dataset.py --env $(OGBENCH_ENV) --episodes $(OGBENCH_EPISODES) --out $(OGBENCH_OUT)

# Toy steps on one core; the remote plugin's step through the protocol; the same Python
# environments stepped directly (the reference for both).
bench-envs:
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -bench 'Step' -benchtime 1000000x -cpu 1 ./plugins/toy/
	test -x $(ENVS_PYTHON) || { echo "no $(ENVS_PYTHON): run scripts/setup-envs.sh" >&2; exit 1; }
	$(PURE) MVP_PYTHON=$(abspath $(ENVS_PYTHON)) $(GO) test -tags $(GOTAGS),realenv -run '^$$' -bench 'Remote' -benchtime 3s -cpu 1 ./plugins/remote/
	$(ENVS_PYTHON) plugins/remote/testdata/direct_steps.py 3

# robomimic tasks through robosuite, in a separate Python environment (robosuite 1.5.2 needs
# MuJoCo 3.3, OGBench in .venv has MuJoCo 4):
#   python3 -m venv /tmp/rs && /tmp/rs/bin/pip install robosuite==1.5.2 mujoco==3.3.0
#   make test-robosuite ROBOSUITE_PYTHON=/tmp/rs/bin/python
ROBOSUITE_PYTHON ?=
.PHONY: test-robosuite
test-robosuite:
	test -n "$(ROBOSUITE_PYTHON)" || { echo "set ROBOSUITE_PYTHON to a Python with robosuite (see mk/envs.mk)" >&2; exit 1; }
	$(PURE) MVP_ROBOSUITE_PYTHON=$(ROBOSUITE_PYTHON) $(GO) test -tags $(GOTAGS),realenv -count=1 -v -run 'Robomimic' ./plugins/remote/
