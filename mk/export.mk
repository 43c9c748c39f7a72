# Export of trained policies (xla/export, mvp/deploy, mvp export).
#
#   make test-export    ONNX files run by onnxruntime and StableHLO compiled by the XLA CPU plugin
#                       match the Go policy (CI); needs scripts/setup-export.sh (run here)
#   make export-demo    train a small agent on the embedded cube task and export it in all formats

EXPORT_ORT_LIB  = $(firstword $(wildcard $(CURDIR)/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*))
EXPORT_PJRT_DIR = $(firstword $(wildcard $(CURDIR)/.venv/lib/python3*/site-packages/lammps_jax_pjrt_cpu))
# Never download runtimes: a missing library is an error naming what to install.
EXPORT_ENV      = ONNXRUNTIME_SHARED_LIBRARY_PATH=$(EXPORT_ORT_LIB) PJRT_PLUGIN_LIBRARY_PATH=$(EXPORT_PJRT_DIR) GOMLX_NO_AUTO_INSTALL=1
EXPORT_OUT     ?= out/export

.PHONY: test-export export-setup export-demo bench-export

export-setup:
	bash scripts/setup-export.sh

test-export: export-setup
	$(EXPORT_ENV) GOMLX_BACKEND=go CGO_ENABLED=1 $(GO) test -tags onnx -count=1 -timeout 20m ./xla/export/... ./mvp/deploy/...
	$(EXPORT_ENV) GOMLX_BACKEND=go CGO_ENABLED=1 $(GO) test -tags onnx -count=1 -timeout 20m -run 'Export' ./mvp/ ./mvp/cmd/mvp/

export-demo: export-setup build
	$(BIN)/mvp train --agent mvp --dataset toy:cube-task1 --hidden 64,64 --batch 64 --offline-steps 500 \
		--online-steps 0 --eval-episodes 2 --eval-envs 1 --eval-every 0 --checkpoint-every 0 --no-progress --out $(EXPORT_OUT)/run
	$(BIN)/mvp export --checkpoint $(EXPORT_OUT)/run --format gomlx --out $(EXPORT_OUT)/policy
	$(EXPORT_ENV) $(BIN)/mvp export --checkpoint $(EXPORT_OUT)/run --format onnx --batch 1 --out $(EXPORT_OUT)/policy-b1.onnx
	$(EXPORT_ENV) $(BIN)/mvp export --checkpoint $(EXPORT_OUT)/run --format stablehlo --batch 1 --out $(EXPORT_OUT)/policy-b1.mlir

CI_TARGETS += test-export

# Batch-1 decision latency at paper sizes: the deployed Go policy on the go backend and on XLA's CPU
# plugin, and the exported ONNX file in onnxruntime, in one run (BENCHMARKS.md, ## export).
bench-export: export-setup
	$(EXPORT_ENV) CGO_ENABLED=1 $(GO) test -tags onnx -run '^$$' -bench 'Act' -benchtime 2s -count 3 ./mvp/deploy/
