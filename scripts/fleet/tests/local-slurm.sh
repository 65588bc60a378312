#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try the Slurm route without one and for slurm.sh: munged,
# slurmctld and slurmd (Debian 12's slurm-wlm and munge) with proctrack/linuxproc and task/none, their
# key, state, spool, pid files and logs under DIR, ports free on 127.0.0.1. The node is called
# `moranode`, has this machine's cores, and counts one GPU it does not have (gres.conf), so a job that
# asks for --gres=gpu:1 lands on it and meets a node without CUDA.
#
# usage: scripts/fleet/tests/local-slurm.sh up DIR     start it (DIR is created); then
#          export SLURM_CONF=DIR/slurm.conf            for sbatch, squeue, scontrol...
#        scripts/fleet/tests/local-slurm.sh down DIR   stop the daemons `up` started (by their pid files)
# as root (slurmd runs jobs as the user who submits them).
set -euo pipefail
if [ $# -ne 2 ] || ! [[ "$1" =~ ^(up|down)$ ]]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
action=$1 dir=$2
pidfiles=("$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid")

if [ "$action" = down ]; then
  pids=()
  for f in "${pidfiles[@]}"; do
    # Read before the kill: a daemon removes its pid file as it stops.
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      pids+=("$pid")
    fi
  done
  # The daemons are not our children (they fork away): wait for each by its pid, then insist.
  for pid in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  exit 0
fi

for tool in munged slurmctld slurmd sinfo python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "local-slurm.sh: $tool is missing: run scripts/fleet/tests/install-deps.sh (apt-get install slurm-wlm munge)" >&2
    exit 1
  fi
done
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
dir=$(cd "$dir" && pwd)
chmod 755 "$dir"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge.log" --seed-file="$dir/munge/munged.seed"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cat >"$dir/slurm.conf" <<EOF
ClusterName=moratest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName=moranode NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Slurm wants a device file for a GPU: /dev/null stands in for the one the node lacks.
echo "NodeName=moranode Name=gpu Count=1 File=/dev/null" >"$dir/gres.conf"
export SLURM_CONF=$dir/slurm.conf
slurmctld
slurmd -N moranode
for _ in $(seq 60); do
  if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then
    echo "local-slurm: up: $(sinfo -h -o '%P %D %T %N %G'); export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 1
done
echo "local-slurm.sh: the node is not idle after 60 s: $(sinfo -h -o '%T %E' 2>&1); see $dir/*.log" >&2
exit 1
