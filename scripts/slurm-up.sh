#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine, as root: installs Slurm 22.05 and munge from
# Debian when missing, writes a minimal slurm.conf for one node with this machine's CPUs (or
# SLURM_CPUS) into SLURM_STATE (default /tmp/gomvp-slurm), starts munged, slurmctld and slurmd, and
# waits until the node is idle. It leaves /etc/slurm alone: clients find the cluster through
#   export SLURM_CONF=$SLURM_STATE/slurm.conf
# scripts/slurm-down.sh stops everything again.
set -euo pipefail
STATE=${SLURM_STATE:-/tmp/gomvp-slurm}
CPUS=${SLURM_CPUS:-$(nproc)}
if [ "$(id -u)" != 0 ]; then
	echo "slurm-up: needs root (daemons, munge key)" >&2
	exit 1
fi
missing=
for c in slurmctld slurmd sbatch munged; do
	command -v "$c" >/dev/null || missing=1
done
if [ -n "$missing" ]; then
	echo "slurm-up: installing slurmctld slurmd slurm-client munge"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p "$STATE"/ctld "$STATE"/d
host=$(hostname -s)
mem=$(awk '/^MemTotal/ {m = int($2 / 1024) - 512; if (m < 1024) m = 1024; print m}' /proc/meminfo)
cat > "$STATE"/slurm.conf <<CONF
ClusterName=gomvp
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=10
SchedulerParameters=sched_min_interval=500000
NodeName=$host NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$STATE/slurm.conf

# munge: a key if there is none, then the daemon as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
	if command -v mungekey >/dev/null; then mungekey --create --force; else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
	chown munge:munge /etc/munge/munge.key
	chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	runuser -u munge -- /usr/sbin/munged
	touch "$STATE"/munged.ours
	for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

# Stale daemons of an earlier run of this script go first; -c starts with an empty job state.
"$(dirname "$0")"/slurm-down.sh --keep-munge >/dev/null 2>&1 || true
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 120); do
	st=$(sinfo -h -o %T 2>/dev/null || true)
	case "$st" in
	idle*) break ;;
	down* | drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
	esac
	if [ "$i" = 120 ]; then
		echo "slurm-up: the node is not idle after 60 s (state: ${st:-none}); see $STATE/slurmctld.log and $STATE/slurmd.log" >&2
		exit 1
	fi
	sleep 0.5
done
sinfo
echo "slurm-up: ready; export SLURM_CONF=$SLURM_CONF"
