# gomvp build entry points. Each area of the project adds its targets in mk/*.mk.
#
#   make demo    train MVP and a BC baseline on the embedded cube task, evaluate, plot
#   make test    every test that needs nothing but Go (and the Python the scripts install)
#
# Default builds are pure Go with the go backend's SIMD kernels; build-xla adds XLA/PJRT via cgo.

export GOEXPERIMENT := simd
export GOFLAGS := -buildvcs=false
GO        ?= go
GOTAGS    ?= noxla
PURE      := CGO_ENABLED=0
BIN       := bin
# Targets that .ci/run executes after `make test` (fragments append to it).
CI_TARGETS :=

.PHONY: all build build-xla test vet ci
all: build

build:
	$(PURE) $(GO) build -tags $(GOTAGS) -o $(BIN)/mvp ./mvp/cmd/mvp

build-xla:
	CGO_ENABLED=1 $(GO) build -o $(BIN)/mvp-xla ./mvp/cmd/mvp

vet:
	$(PURE) $(GO) vet -tags $(GOTAGS) ./...

test: vet
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 -timeout 40m ./...

include $(sort $(wildcard mk/*.mk))

ci: test $(CI_TARGETS)
