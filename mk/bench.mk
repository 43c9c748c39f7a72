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

# Same thread count everywhere; each program runs alone, one after the other.
bench-peers: build $(BENCH_VENV)/.installed
	mkdir -p $(BENCH_OUT)
	GOMAXPROCS=$(BENCH_THREADS) $(BIN)/mvp bench --json --seconds $(BENCH_SECONDS) > $(BENCH_OUT)/go.json
	cd bench && BENCH_THREADS=$(BENCH_THREADS) BENCH_SECONDS=$(BENCH_SECONDS) $(abspath $(BENCH_VENV))/bin/python peer_jax.py > ../$(BENCH_OUT)/jax.json
	cd bench && BENCH_THREADS=$(BENCH_THREADS) BENCH_SECONDS=$(BENCH_SECONDS) $(abspath $(BENCH_VENV))/bin/python peer_torch.py > ../$(BENCH_OUT)/torch.json
	$(BENCH_VENV)/bin/python bench/compare.py $(BENCH_OUT)/go.json $(BENCH_OUT)/jax.json $(BENCH_OUT)/torch.json | tee $(BENCH_OUT)/table.txt

bench-pieces:
	$(PURE) GOMAXPROCS=$(BENCH_THREADS) $(GO) test -tags $(GOTAGS) -run '^$$' -bench 'Piece' -benchtime 2x ./mvp/
