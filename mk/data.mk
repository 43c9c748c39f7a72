# Datasets and the dataset plugins (datasets/, plugins/npzfile, plugins/ogbench, plugins/robomimic).
#
#   (`make build` links the cgo HDF5 reader of Robomimic files into bin/mvp when Debian's
#   libhdf5-dev is installed, which scripts/setup-data.sh does)
#   make test-hdf5      the cgo HDF5 tests of plugins/robomimic (CI)
#   make data-check     `mvp data inspect --json` on a 300-demo Robomimic-layout HDF5 written by h5py
#                       and on an OGBench file written by OGBench's oracles (CI)
#   make data-fixtures  rewrite the numpy/h5py fixtures under plugins/*/testdata
#   make fuzz-data      run the npz fuzz targets for FUZZTIME each (the seeds run in `make test`);
#                       minimisation is capped at 1 s, else whole npz inputs stall the fuzzer
#
# The Python side (.venv with numpy and h5py) comes from scripts/setup-data.sh; the OGBench
# expected values and the oracle file also need ogbench (scripts/setup-envs.sh).

DATA_PYTHON ?= .venv/bin/python
DATA_OUT    := out/data-check
FUZZTIME    ?= 30s

.PHONY: test-hdf5 data-check data-fixtures fuzz-data
CI_TARGETS += test-hdf5 data-check

test-hdf5:
	CGO_ENABLED=1 $(GO) test -tags hdf5,$(GOTAGS) -count=1 ./plugins/robomimic/...

data-check: build
	test -x $(DATA_PYTHON) || { echo "no $(DATA_PYTHON): run scripts/setup-data.sh" >&2; exit 1; }
	rm -rf $(DATA_OUT) && mkdir -p $(DATA_OUT)
	$(DATA_PYTHON) plugins/robomimic/testdata/make_fixtures.py --demos 300 --out $(DATA_OUT)/square-mh-300.hdf5
	$(BIN)/mvp data inspect --json $(DATA_OUT)/square-mh-300.hdf5 | tee $(DATA_OUT)/robomimic.json | tail -c 400
	$(DATA_PYTHON) -c 'import json,sys; r = json.loads(open(sys.argv[1]).read().splitlines()[-1]); \
		assert r["format"] == "robomimic-hdf5" and r["trajectories"] == 300 and r["obs_dim"] == 23 and r["act_dim"] == 7, r; \
		assert r["reward"]["min"] == -1 and r["reward"]["max"] == 0 and r["mask_zeros"] == 300, r["reward"]; \
		print("robomimic: 300 demos,", r["transitions"], "transitions")' $(DATA_OUT)/robomimic.json
	$(DATA_PYTHON) plugins/robomimic/convert_robomimic.py $(DATA_OUT)/square-mh-300.hdf5 $(DATA_OUT)/square-mh-300.npz
	$(BIN)/mvp data inspect --json $(DATA_OUT)/square-mh-300.npz > $(DATA_OUT)/robomimic-npz.json
	$(DATA_PYTHON) -c 'import json,sys; a, b = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:]); \
		assert all(a[k] == b[k] for k in ["trajectories", "transitions", "obs_dim", "reward", "action"]), (a, b); \
		print("robomimic: the .npz conversion inspects the same")' $(DATA_OUT)/robomimic.json $(DATA_OUT)/robomimic-npz.json
	$(DATA_PYTHON) scripts/ogbench_oracle_dataset.py --env cube-double-v0 --episodes 3 --val-episodes 1 --steps 100 \
		--out $(DATA_OUT)/cube-double-play-v0.npz
	$(BIN)/mvp data inspect --json $(DATA_OUT)/cube-double-play-v0.npz | tee $(DATA_OUT)/ogbench.json | tail -c 400
	$(DATA_PYTHON) -c 'import json,sys; r = json.loads(open(sys.argv[1]).read().splitlines()[-1]); \
		assert r["format"] == "ogbench-npz" and r["trajectories"] == 3 and r["transitions"] == 300 and r["obs_dim"] == 37, r; \
		assert -2 <= r["reward"]["min"] <= r["reward"]["max"] <= 0, r["reward"]; \
		import gymnasium, ogbench, numpy as np; from ogbench.utils import load_dataset; from ogbench.relabel_utils import relabel_dataset; \
		d = load_dataset(sys.argv[2], add_info=True); relabel_dataset("cube-double-singletask-v0", gymnasium.make("cube-double-singletask-v0"), d); \
		assert abs(float(d["rewards"].sum()) - r["reward"]["sum"]) < 1e-6 and int((d["masks"] == 0).sum()) == r["mask_zeros"], (d["rewards"].sum(), r); \
		print("ogbench: 3 oracle trajectories, 300 transitions; reward sum", r["reward"]["sum"], "and", r["mask_zeros"], "zero masks, as OGBench relabels them")' \
		$(DATA_OUT)/ogbench.json $(DATA_OUT)/cube-double-play-v0.npz

data-fixtures:
	$(DATA_PYTHON) plugins/npzfile/testdata/make_fixtures.py
	$(DATA_PYTHON) plugins/ogbench/testdata/make_fixtures.py
	$(DATA_PYTHON) plugins/robomimic/testdata/make_fixtures.py

fuzz-data:
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -fuzz FuzzArchive -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./plugins/npzfile/
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -fuzz FuzzHeaderLen -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./plugins/npzfile/
