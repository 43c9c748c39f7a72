# gomvp build entry points. Each area of the project adds its targets in mk/*.mk.
#
#   make demo    the paper's argument in small on an embedded task: agents trained, evaluated, compared
#   make test    every test that needs nothing but Go (and the Python the scripts install)
#   make build   one bin/mvp with every feature the machine allows: with a C compiler, XLA/PJRT (CPU and
#                GPU plugins, found at run time), ONNX export, and HDF5 when libhdf5-dev is installed;
#                without one, the pure-Go binary, with a notice saying what to install
#   make build-pure  bin/mvp-pure: the static pure-Go binary (no cgo, no C library), the fallback
#
# Every build uses GOEXPERIMENT=simd for the go backend's vectorised kernels.

export GOEXPERIMENT := simd
export GOFLAGS := -buildvcs=false
GO        ?= go
GOTAGS    ?= noxla
PURE      := CGO_ENABLED=0
BIN       := bin
comma     := ,
# Targets that .ci/run executes after `make test` (fragments append to it).
CI_TARGETS :=

HAVE_CC   := $(shell command -v $${CC:-gcc} >/dev/null 2>&1 && echo 1)
HAVE_HDF5 := $(shell pkg-config --exists hdf5 2>/dev/null && echo 1)
FULLTAGS  := onnx$(if $(HAVE_HDF5),$(comma)hdf5)

.PHONY: all build build-pure build-xla build-export build-hdf5 test vet tidy-check ci
all: build

build:
ifeq ($(HAVE_CC),1)
	CGO_ENABLED=1 $(GO) build -tags $(FULLTAGS) -o $(BIN)/mvp ./mvp/cmd/mvp
ifneq ($(HAVE_HDF5),1)
	@echo "make build: libhdf5 not found (pkg-config hdf5): bin/mvp reads Robomimic .npz but not .hdf5; apt-get install libhdf5-dev pkg-config adds it" >&2
endif
else
	@echo "make build: no C compiler: bin/mvp is the pure-Go binary (go backend only); apt-get install gcc for XLA/PJRT, ONNX export and HDF5" >&2
	$(PURE) $(GO) build -tags $(GOTAGS) -o $(BIN)/mvp ./mvp/cmd/mvp
endif

build-pure:
	$(PURE) $(GO) build -tags $(GOTAGS) -o $(BIN)/mvp-pure ./mvp/cmd/mvp

# Former names of the feature builds: bin/mvp now holds every feature.
build-xla build-export build-hdf5: build

vet:
	$(PURE) $(GO) vet -tags $(GOTAGS) ./...

# go.mod lists exactly what the project imports (direct requirements marked as such).
tidy-check:
	$(GO) mod tidy -diff
CI_TARGETS += tidy-check

test: vet
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 -timeout 40m ./...

include $(sort $(wildcard mk/*.mk))

# The first command is fast: XLA's CPU plugin into ./.venv when pip can get it (else a notice).
.PHONY: setup-fast
setup-fast:
	@bash scripts/setup-fast.sh
demo notebooks: setup-fast

ci: test $(CI_TARGETS)
