# Performance: `mvp bench` and its JAX / PyTorch peers (bench/), GPU script (scripts/gpu-bench.sh).
#
#   make bench         mvp bench at the paper's sizes (summary, then one JSON line)
#   make bench-peers   mvp bench, the JAX (jit) and PyTorch (eager) peers, one table with ratios
#   make bench-pieces  go test -bench for the pieces (network forward, JVP, critic scoring, selection)

BENCH_VENV    ?= bench/.venv
BENCH_PYTHON  ?= python3
BENCH_SECONDS ?= 3
BENCH_THREADS ?= 2
BENCH_OUT     ?= out/bench

.PHONY: bench bench-peers bench-pieces bench-venv

bench: build
	GOMAXPROCS=$(BENCH_THREADS) $(BIN)/mvp bench --seconds $(BENCH_SECONDS)

$(BENCH_VENV)/.installed: bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(BENCH_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench-venv: $(BENCH_VENV)/.installed

# Same thread count everywhere; each program runs alone, one after the other. PyTorch's OpenMP
# threads wait passively: spinning threads collapse under a shared machine's load. The Go program runs
# with no flag (the backend a user gets by default: XLA's CPU plugin after the setup step), then the
# JAX and PyTorch peers, BENCH_ROUNDS times in turn, so that a slow spell of a shared (virtual) machine
# hits every program alike; the table gives each number's median over the rounds. The pure-Go backend
# (--backend go) runs once at the end; BENCH_GO=0 skips it.
BENCH_GO     ?= 1
BENCH_ROUNDS ?= 3
bench-peers: build $(BENCH_VENV)/.installed
	mkdir -p $(BENCH_OUT)
	rm -f $(BENCH_OUT)/*.json
	set -e; for r in $$(seq $(BENCH_ROUNDS)); do \
		echo "bench-peers: round $$r of $(BENCH_ROUNDS)" >&2; \
		GOMAXPROCS=$(BENCH_THREADS) $(BIN)/mvp bench --json --seconds $(BENCH_SECONDS) > $(BENCH_OUT)/go-default.$$r.json; \
		(cd bench && BENCH_THREADS=$(BENCH_THREADS) BENCH_SECONDS=$(BENCH_SECONDS) $(abspath $(BENCH_VENV))/bin/python peer_jax.py) > $(BENCH_OUT)/jax.$$r.json; \
		(cd bench && OMP_WAIT_POLICY=PASSIVE BENCH_THREADS=$(BENCH_THREADS) BENCH_SECONDS=$(BENCH_SECONDS) $(abspath $(BENCH_VENV))/bin/python peer_torch.py) > $(BENCH_OUT)/torch.$$r.json; \
	done
	if [ "$(BENCH_GO)" = 1 ]; then GOMAXPROCS=$(BENCH_THREADS) $(BIN)/mvp bench --json --seconds $(BENCH_SECONDS) \
		--backend go --act-backends go > $(BENCH_OUT)/go.json; fi
	$(BENCH_VENV)/bin/python bench/compare.py $(BENCH_OUT)/*.json | tee $(BENCH_OUT)/table.txt
	$(BENCH_VENV)/bin/python bench/compare.py --markdown $(BENCH_OUT)/*.json > $(BENCH_OUT)/table.md

bench-pieces:
	$(PURE) GOMAXPROCS=$(BENCH_THREADS) $(GO) test -tags $(GOTAGS) -run '^$$' -bench 'Piece' -benchtime 3x ./mvp/

# CI: the benchmark command runs end to end at toy sizes and ends with a JSON object holding every
# headline key; the peers at least compile (their dependencies are too large for CI).
CI_TARGETS += bench-smoke
.PHONY: bench-smoke
bench-smoke: build
	mkdir -p $(dir $(BENCH_OUT))
	GOMAXPROCS=2 $(BIN)/mvp bench --json --batch 8 --candidates 4 --hidden 16,16 --seconds 0.1 \
		--act-backends 'direct;go:ops_sequential' > $(BENCH_OUT)-smoke.json
	python3 bench/check_smoke.py $(BENCH_OUT)-smoke.json
	python3 -m py_compile bench/common.py bench/peer_jax.py bench/peer_torch.py bench/compare.py

# CI: the GPU script's discovery, dry run and summary on a fake CUDA plugin tree (no GPU here): every
# part runs, fails on the fake plugin with the loader's error, and the last line is the summary.
CI_TARGETS += gpu-script-check
.PHONY: gpu-script-check
gpu-script-check: build
	rm -rf $(BENCH_OUT)-gpu-fake && mkdir -p $(BENCH_OUT)-gpu-fake/site/jax_plugins/xla_cuda13 $(BENCH_OUT)-gpu-fake/site/nvidia/cublas/lib
	touch $(BENCH_OUT)-gpu-fake/site/jax_plugins/xla_cuda13/xla_cuda_plugin.so
	SITE_PACKAGES=$(BENCH_OUT)-gpu-fake/site scripts/gpu-bench.sh dry-run | tee $(BENCH_OUT)-gpu-fake/dry-run.txt
	grep -q 'train-mvp: bin/mvp train --backend xla:.*xla_cuda13/xla_cuda_plugin.so' $(BENCH_OUT)-gpu-fake/dry-run.txt
	SITE_PACKAGES=$(BENCH_OUT)-gpu-fake/site OUT=$(BENCH_OUT)-gpu-fake/out TRAIN_STEPS=10 BENCH_SECONDS=0.1 SKIP=jax \
		scripts/gpu-bench.sh run 2>/dev/null | tail -n 1 > $(BENCH_OUT)-gpu-fake/summary.json
	python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); \
		assert set(d["errors"]) == {"bench", "train-mvp", "train-qc"} and d["skipped"] == ["jax"], d; \
		assert all("xla_cuda_plugin.so" in e for e in d["errors"].values()), d["errors"]; \
		print("gpu-bench.sh: dry run and summary ok")' $(BENCH_OUT)-gpu-fake/summary.json
