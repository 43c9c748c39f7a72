# Agents, training and evaluation: `mvp train`, `mvp eval`, `mvp report`, and the demo.
#
#   make demo          the embedded cube task end to end on 2 cores in under 10 minutes: generate the
#                      demonstrations if absent, train MVP and a BC baseline offline, evaluate both,
#                      write a learning-curve SVG and a rollout GIF, print a results table
#   make agent-smoke   a tiny run through the CLI: train, interrupt, resume, evaluate (CI)
#   make test-agent    the agent, critic, training-loop, checkpoint and evaluation tests
#
# DEMO_* variables size the demo; the defaults fit its time budget on 2 cores.

DEMO_TASK     ?= toy:cube-task1
DEMO_EPISODES ?= 300
DEMO_STEPS    ?= 8000
DEMO_HIDDEN   ?= 128,128,128
DEMO_BATCH    ?= 64
DEMO_N        ?= 8
DEMO_LR       ?= 1e-3
DEMO_EVAL     ?= 2000
DEMO_SEED     ?= 0
DEMO_OUT      ?= out/demo
DEMO_DATA     ?= $(DEMO_OUT)/$(subst :,-,$(DEMO_TASK)).npz
DEMO_FLAGS     = --dataset $(DEMO_TASK) --dataset-path $(DEMO_DATA) --offline-steps $(DEMO_STEPS) --online-steps 0 \
                 --hidden $(DEMO_HIDDEN) --batch $(DEMO_BATCH) --candidates $(DEMO_N) --lr $(DEMO_LR) --eval-every $(DEMO_EVAL) \
                 --eval-episodes 50 --log-every 500 --checkpoint-every $(DEMO_EVAL) --seed $(DEMO_SEED)

.PHONY: demo agent-smoke test-agent
CI_TARGETS += agent-smoke

$(DEMO_DATA):
	mkdir -p $(dir $@)
	$(BIN)/mvp data gen $(DEMO_TASK) --episodes $(DEMO_EPISODES) --out $@

demo: build
	@start=$$(date +%s); \
	test -f $(DEMO_DATA) || $(MAKE) --no-print-directory $(DEMO_DATA) || exit 1; \
	rm -rf $(DEMO_OUT)/mvp $(DEMO_OUT)/bc; \
	for a in mvp bc; do \
		echo "== training $$a on $(DEMO_TASK) ($(DEMO_STEPS) offline updates)"; \
		$(BIN)/mvp train --agent $$a --out $(DEMO_OUT)/$$a $(DEMO_FLAGS) | tail -n 1 > $(DEMO_OUT)/$$a.json || exit 1; \
	done; \
	echo "== rollout GIF of MVP"; \
	$(BIN)/mvp eval --checkpoint $(DEMO_OUT)/mvp --env $(DEMO_TASK) --episodes 1 --gif $(DEMO_OUT)/mvp-rollout.gif | tail -n 1 || exit 1; \
	echo "== results (50 evaluation episodes each)"; \
	$(BIN)/mvp report --run MVP=$(DEMO_OUT)/mvp --run BC=$(DEMO_OUT)/bc --svg $(DEMO_OUT)/learning-curve.svg || exit 1; \
	echo "learning curve: $(DEMO_OUT)/learning-curve.svg  rollout: $(DEMO_OUT)/mvp-rollout.gif  logs: $(DEMO_OUT)/{mvp,bc}/"; \
	echo "demo took $$(( $$(date +%s) - start )) s"

agent-smoke: build
	rm -rf out/agent-smoke
	$(BIN)/mvp train --agent mvp --dataset toy:pointmass --dataset-opt episodes=20 --out out/agent-smoke \
		--offline-steps 40 --online-steps 30 --start-steps 10 --hidden 32,32 --batch 16 --candidates 4 \
		--eval-every 20 --eval-episodes 4 --eval-envs 2 --log-every 10 --checkpoint-every 20 | tail -n 1
	test -f out/agent-smoke/metrics.jsonl -a -f out/agent-smoke/train.csv -a -f out/agent-smoke/eval.csv
	ls out/agent-smoke/events.out.tfevents.* >/dev/null
	$(BIN)/mvp train --agent mvp --dataset toy:pointmass --dataset-opt episodes=20 --out out/agent-smoke \
		--offline-steps 40 --online-steps 60 --allow-change online-steps --start-steps 10 --hidden 32,32 --batch 16 --candidates 4 \
		--eval-every 20 --eval-episodes 4 --eval-envs 2 --log-every 10 --checkpoint-every 20 | tail -n 1 | grep '"resumed_from":60'
	$(BIN)/mvp eval --checkpoint out/agent-smoke --env toy:pointmass --episodes 4 --envs 2 | tail -n 1 | grep -q '"episodes":4'

test-agent:
	$(PURE) $(GO) test -tags $(GOTAGS) -count=1 -run 'Agent|TD|Critic|Chunk|Polyak|Select|Checkpoint|Resume|Evaluate|Divergence|EventFile|ProgressLine' ./mvp/ ./mvp/runlog/
