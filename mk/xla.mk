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

test-xla-cgo:
	CGO_ENABLED=1 $(GO) test -count=1 ./xla/ ./xla/jvp/

bench-jvp:
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -bench '^BenchmarkMVPNetwork' -benchtime $(JVP_BENCHTIME) ./xla/jvp/
