# Agents, training and evaluation: `mvp train`, `mvp eval`, `mvp report`, and the demo.
#
#   make demo          the paper's argument in small, ≈ 6 minutes on 2 cores (XLA CPU): on the embedded
#                      detour task (the demonstrations go around a barrier on either side, and the
#                      mean of the two ways drives into it) train MVP (one step), QC (flow, 10 Euler
#                      steps), QC-k1 (the same flow, one step) and BC offline; print success, decision
#                      time and update rate per agent; write a learning-curve SVG and a GIF of MVP
#   make agent-smoke   a tiny run through the CLI: train, interrupt, resume, evaluate (CI)
#   make test-agent    the agent, critic, training-loop, checkpoint and evaluation tests
#
# DEMO_* variables size the demo; the defaults fit its time budget on 2 cores (RESULTS.md, "The
# demo's task"). The actor is 4×512 as the paper's, the critic 2×64: the value of a 3-d
# state needs little, and a small critic lets the decision time show what the generator costs.
# The last stdout line is `mvp report`'s JSON object (rows of {label, success_mean, decision_ms,
# updates_per_s, …}).

DEMO_TASK     ?= toy:detour
DEMO_EPISODES ?= 300
DEMO_STEPS    ?= 2500
DEMO_HIDDEN   ?= 512,512,512,512
DEMO_CRITIC   ?= 64,64
DEMO_BATCH    ?= 16
DEMO_N        ?= 8
DEMO_LR       ?= 1e-3
DEMO_EVAL     ?= 500
DEMO_SEED     ?= 0
DEMO_OUT      ?= out/demo
# LABEL=kind pairs, in the order of the table. BC has no critic and keeps N = 1 (mvp train refuses
# --candidates for it).
DEMO_AGENTS   ?= MVP=mvp QC=qc QC-k1=qc-k1 BC=bc
DEMO_DATA     ?= $(DEMO_OUT)/$(subst :,-,$(DEMO_TASK)).npz
DEMO_FLAGS     = --dataset $(DEMO_TASK) --dataset-path $(DEMO_DATA) --offline-steps $(DEMO_STEPS) --online-steps 0 \
                 --hidden $(DEMO_HIDDEN) --critic-hidden $(DEMO_CRITIC) --batch $(DEMO_BATCH) \
                 --lr $(DEMO_LR) --eval-every $(DEMO_EVAL) --eval-episodes 50 --log-every 250 \
                 --checkpoint-every $(DEMO_EVAL) --seed $(DEMO_SEED) --no-progress

.PHONY: demo agent-smoke test-agent
CI_TARGETS += agent-smoke

$(DEMO_DATA):
	mkdir -p $(dir $@)
	$(BIN)/mvp data gen $(DEMO_TASK) --episodes $(DEMO_EPISODES) --out $@

demo: build
	@start=$$(date +%s); \
	test -f $(DEMO_DATA) || $(MAKE) --no-print-directory $(DEMO_DATA) || exit 1; \
	runs=""; \
	for pair in $(DEMO_AGENTS); do \
		label=$${pair%%=*}; kind=$${pair#*=}; \
		case $$kind in bc) n="";; *) n="--candidates $(DEMO_N)";; esac; \
		rm -rf $(DEMO_OUT)/$$kind; \
		echo "== training $$label (--agent $$kind) on $(DEMO_TASK): $(DEMO_STEPS) offline updates"; \
		$(BIN)/mvp train --agent $$kind --out $(DEMO_OUT)/$$kind $(DEMO_FLAGS) $$n | tail -n 1 > $(DEMO_OUT)/$$kind.json || exit 1; \
		runs="$$runs --run $$label=$(DEMO_OUT)/$$kind"; \
	done; \
	echo "== rollout GIF of MVP"; \
	$(BIN)/mvp eval --checkpoint $(DEMO_OUT)/mvp --env $(DEMO_TASK) --episodes 1 --gif $(DEMO_OUT)/mvp-rollout.gif | tail -n 1 || exit 1; \
	echo "learning curve: $(DEMO_OUT)/learning-curve.svg  rollout: $(DEMO_OUT)/mvp-rollout.gif  logs: $(DEMO_OUT)/<agent>/"; \
	echo "training and evaluation took $$(( $$(date +%s) - start )) s; results (50 evaluation episodes each, seed $(DEMO_SEED);"; \
	echo "decision: median of 200 action decisions for one state with N = $(DEMO_N) candidates; updates/s: the updates alone):"; \
	$(BIN)/mvp report $$runs --svg $(DEMO_OUT)/learning-curve.svg --time-decisions 200

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
