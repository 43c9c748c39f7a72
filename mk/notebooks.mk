# GoNB notebooks, executed headless.
#
#   make notebooks-setup          Debian's Jupyter, gonb (pinned), goimports, gopls, the gonb kernel spec
#   make notebooks                execute every notebooks/*.ipynb into out/notebooks/ and check them
#   make notebooks NB=quickstart  only the notebooks whose file name contains "quickstart"
#
# A notebook fails on a cell error, on a Go program that panics or exits non-zero (GoNB reports
# those as stderr, so scripts/check-notebooks.py looks for them), or when the executed copy lacks
# the SVG/PNG figures its metadata promises. The kernel's log goes to out/notebooks/<name>.log.

NB_PYTHON  ?= /usr/bin/python3
NB_OUT     ?= out/notebooks
# Seconds a single cell may run before nbconvert gives up.
NB_TIMEOUT ?= 1500
NB         ?=
NB_FILES   := $(sort $(wildcard notebooks/*$(NB)*.ipynb))
NB_GOBIN   := $(shell $(GO) env GOBIN)
NB_GOBIN   := $(if $(NB_GOBIN),$(NB_GOBIN),$(shell $(GO) env GOPATH)/bin)

.PHONY: notebooks-setup notebooks
notebooks-setup:
	bash scripts/setup-notebooks.sh

notebooks:
	@test -n "$(NB_FILES)" || { echo "no notebooks/*$(NB)*.ipynb"; exit 1; }
	@mkdir -p $(NB_OUT)
	@export PATH="$(NB_GOBIN):$$PATH"; failed=""; pairs=""; \
	for nb in $(NB_FILES); do \
		name=$$(basename $$nb .ipynb); start=$$(date +%s); \
		if $(NB_PYTHON) -m jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.kernel_name=gonb --ExecutePreprocessor.timeout=$(NB_TIMEOUT) \
			--output-dir $(NB_OUT) $$nb >$(NB_OUT)/$$name.log 2>&1; then \
			echo "executed $$nb in $$(( $$(date +%s) - start )) s"; \
			pairs="$$pairs $$nb $(NB_OUT)/$$name.ipynb"; \
		else \
			echo "FAILED   $$nb after $$(( $$(date +%s) - start )) s; nbconvert said:"; \
			grep -E '\.go:[0-9]+:[0-9]+: |^panic: |^fatal error: ' $(NB_OUT)/$$name.log | head -20 | sed 's/^/    /'; \
			grep -v '^[IWE][0-9]\{4\} ' $(NB_OUT)/$$name.log | tail -25 | sed 's/^/    /'; \
			failed="$$failed $$name"; \
		fi; \
	done; \
	if [ -n "$$pairs" ]; then python3 scripts/check-notebooks.py $$pairs || failed="$$failed (output check)"; fi; \
	if [ -n "$$failed" ]; then echo "notebooks failed:$$failed"; exit 1; fi; \
	echo "all $(words $(NB_FILES)) notebooks ran clean; executed copies in $(NB_OUT)/"

CI_TARGETS += notebooks-setup notebooks
