# Backends and forward-mode JVP (xla, xla/jvp).
#
#   make test-xla       the backend-selection, plugin-discovery and JVP tests (pure Go)
#   make test-xla-cgo   the backend tests built with cgo and XLA/PJRT linked (gcc only), plus the JVP
#                       and every JVP rule (incl. DynamicSlice/DynamicUpdateSlice, missing in the go
#                       backend) on XLA's CPU plugin when one is installed (scripts/setup-export.sh puts one in .venv)
#   make bench-jvp      primal vs forward-mode JVP vs double-VJP on the 4×512 MVP network
#
# make build (Makefile) links XLA/PJRT into bin/mvp with cgo; CI builds it.

JVP_BENCHTIME ?= 20x

.PHONY: test-xla test-xla-cgo bench-jvp
CI_TARGETS += build test-xla-cgo

test-xla:
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 ./xla/ ./xla/jvp/

# Tests that do not name a backend run on the go backend, the reference (GOMLX_BACKEND=go): in a cgo
# build discovery would otherwise pick XLA's CPU plugin when it is installed.
test-xla-cgo:
	GOMLX_BACKEND=go CGO_ENABLED=1 $(GO) test -count=1 ./xla/ ./xla/jvp/
	GOMLX_BACKEND=go CGO_ENABLED=1 $(GO) test -count=1 -tags mvp_system_malloc -run 'HostMemory|LargeBlocks' ./xla/

bench-jvp:
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -bench '^BenchmarkMVPNetwork' -benchtime $(JVP_BENCHTIME) ./xla/jvp/

# CI: bin/mvp picks XLA's CPU plugin by itself after the setup step (the .venv beside bin/), the go
# backend where no plugin can be found (a copy of the binary outside the repository), and an
# explicitly requested backend that cannot load fails naming what is missing.
CI_TARGETS += backend-check
.PHONY: backend-check
backend-check: build setup-fast
	rm -rf out/backend-check && mkdir -p out/backend-check && cp $(BIN)/mvp out/backend-check/
	$(BIN)/mvp bench --json --what act --batch 8 --candidates 4 --hidden 16,16 --seconds 0.1 | tail -n 1 > out/backend-check/repo.json
	cd /tmp && env -u GOMLX_BACKEND -u VIRTUAL_ENV -u PJRT_PLUGIN_LIBRARY_PATH $(CURDIR)/out/backend-check/mvp bench --json --what act --batch 8 \
		--candidates 4 --hidden 16,16 --seconds 0.1 | tail -n 1 > $(CURDIR)/out/backend-check/bare.json
	python3 -c 'import json,sys; r, b = (json.load(open(p)) for p in sys.argv[1:]); \
		assert r["backend"] == "xla:cpu", r["backend"]; assert b["backend"] == "go:ops_sequential", b["backend"]; \
		print("backend-check: repo binary", r["backend"], "/ bare binary", b["backend"])' out/backend-check/repo.json out/backend-check/bare.json
	! $(BIN)/mvp bench --backend xla:cuda --what act 2> out/backend-check/cuda.err
	grep -q 'no PJRT plugin "cuda"' out/backend-check/cuda.err
	! GOMLX_BACKEND=xla:/nonexistent/plugin.so $(BIN)/mvp train --dataset toy:pointmass --out out/backend-check/run 2> out/backend-check/env.err
	grep -q '/nonexistent/plugin.so' out/backend-check/env.err && grep -q GOMLX_BACKEND out/backend-check/env.err
