# Studies: `mvp sweep` (mvp/sweep, sweeps/*.toml), locally and on Slurm.
#
#   make sweep-smoke   a real single-node Slurm cluster (scripts/slurm-up.sh): the smoke sweep as a
#                      job array, one array task cancelled mid-run and resumed, the report checked;
#                      the same sweep through the local executor; the cluster stopped (CI, as root)
#   make test-sweep    the sweep package's tests (spec parsing, naming, states, statistics, the
#                      Table-1 batch script, the local executor on a fake mvp)
#   make slurm-up / slurm-down   start / stop the single-node cluster by hand

SWEEP_OUT   ?= out/sweep-smoke
SLURM_STATE ?= /tmp/gomvp-slurm

.PHONY: sweep-smoke test-sweep slurm-up slurm-down
CI_TARGETS += sweep-smoke

sweep-smoke: build
	SWEEP_OUT=$(SWEEP_OUT) SLURM_STATE=$(SLURM_STATE) MVP=$(abspath $(BIN)/mvp) scripts/slurm-smoke.sh

test-sweep:
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 ./mvp/sweep/

slurm-up:
	SLURM_STATE=$(SLURM_STATE) scripts/slurm-up.sh

slurm-down:
	SLURM_STATE=$(SLURM_STATE) scripts/slurm-down.sh
