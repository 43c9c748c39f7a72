#!/bin/sh
# A stand-in for `mvp train` in the executor tests: it logs two evaluations and "checkpoints" in
# between, resumes from its checkpoint file like the real command, and can fail, hang or take
# FAKE_SLEEP seconds on request.
[ "$1" = train ] || { echo "fake mvp: only train" >&2; exit 3; }
all="$*"
out= seed=
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--seed) seed=$2; shift ;;
	esac
	shift
done
mkdir -p "$out"
echo "$all" >> "$out/calls"
from=0
[ -f "$out/ckpt" ] && from=$(cat "$out/ckpt")
echo "$from" >> "$out/starts"
if [ "$from" -lt 50 ]; then
	echo '{"step":50,"phase":"eval","success_rate":0.25,"return":-3}' >> "$out/metrics.jsonl"
	echo 50 > "$out/ckpt"
fi
if [ "$seed" = "$FAKE_FAIL_SEED" ] && [ "$from" = 0 ]; then
	echo "progress line"
	echo "some warning" >&2
	echo "boom: fake failure after step 50" >&2
	exit 1
fi
if [ -n "$FAKE_HANG" ]; then
	trap 'echo "fake mvp: terminated at step 50" >&2; exit 1' TERM
	sleep 30 &
	wait
fi
[ -n "$FAKE_SLEEP" ] && sleep "$FAKE_SLEEP"
echo "{\"step\":100,\"phase\":\"eval\",\"success_rate\":0.$((seed + 5)),\"return\":-1}" >> "$out/metrics.jsonl"
echo 100 > "$out/ckpt"
echo "{\"steps\":100,\"resumed_from\":$from}"
