# MVP core: the mean-velocity network, MF + IVC losses, samplers, flow baselines, fitting benchmark.
#
#   make fit          mvp fit: MVP (λ=1, λ=0) vs flow (K=10, K=1) on known multimodal 2-D
#                     distributions, same network and step budget (a few minutes on 2 cores)
#   make fit-check    mvp fit --json, then fails unless MVP (λ=1) one-step is within 1.25× the
#                     10-step flow and under 0.5× the 1-step flow (sliced W2 to the truth)
#   make test-core    the core tests only (losses vs float64 finite differences, samplers, fitbench)
#   make bench-core   go test -bench: MVP update vs flow-matching update, batch 256, same network

FIT_FLAGS   ?=
FIT_OUT     ?= out/fit
CORE_BENCH_TIME ?= 20x

.PHONY: fit fit-check test-core bench-core
CI_TARGETS += fit-check

fit: build
	$(BIN)/mvp fit $(FIT_FLAGS)

fit-check: build
	mkdir -p $(FIT_OUT)
	$(BIN)/mvp fit --json $(FIT_FLAGS) > $(FIT_OUT)/fit.json
	tail -n 1 $(FIT_OUT)/fit.json
	tail -n 1 $(FIT_OUT)/fit.json | grep -q '"checks":{"mvp_le_0.5x_flow_k1":true,"mvp_le_1.25x_flow_k10":true}' || \
		{ echo "fit-check: MVP did not meet the distance ratios (see $(FIT_OUT)/fit.json)" >&2; exit 1; }

test-core:
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 -run 'TestMVP|TestFlow|TestSampleTimes|TestChunkMask|TestNetwork|TestConfigValidation|TestDeterministicTraining|ExampleConfig_lossFn' ./mvp/
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 ./mvp/fitbench/
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 -run TestFitJSON ./mvp/cmd/mvp/

bench-core:
	$(PURE) $(GO) test -tags $(GOTAGS) -run '^$$' -bench 'GeneratorUpdate' -benchtime $(CORE_BENCH_TIME) ./mvp/
