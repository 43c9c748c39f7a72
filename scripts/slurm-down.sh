#!/usr/bin/env bash
# Stops the single-node cluster of scripts/slurm-up.sh: cancels its jobs, stops slurmd and
# slurmctld, and munged if slurm-up started it (--keep-munge leaves it running).
set -uo pipefail
STATE=${SLURM_STATE:-/tmp/gomvp-slurm}
export SLURM_CONF=$STATE/slurm.conf
[ -f "$SLURM_CONF" ] || exit 0
scancel --full --quiet --user=root 2>/dev/null
stop() { # pidfile name
	[ -f "$1" ] || return 0
	local pid
	pid=$(cat "$1")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -f "$1"
	echo "slurm-down: stopped $2"
}
stop "$STATE"/slurmd.pid slurmd
stop "$STATE"/slurmctld.pid slurmctld
if [ "${1:-}" != --keep-munge ] && [ -f "$STATE"/munged.ours ]; then
	stop /run/munge/munged.pid munged
	rm -f "$STATE"/munged.ours
fi
exit 0
