#!/usr/bin/env bash
# The Slurm route end to end on this machine. It brings up a one-node cluster (munged, slurmctld and
# slurmd with proctrack/linuxproc and task/none; key, state, spool and logs under a temporary folder;
# free ports on 127.0.0.1; the node counts one GPU in gres.conf, which it does not have), submits a
# fleet with scripts/fleet/slurm/submit.sh, as README's "Fleet" section says, and checks the result:
#   class cpu: two array tasks, a small CPU bench of the committed fixture model, sharing one results
#     folder: two runs, each in a folder of its own named by class, job, task and node;
#   class gpu: one task with --provider cuda, given a "GPU" by the scheduler on this CPU-only node: it
#     fails with mora's reason, leaves failed.json, and the merge goes on and names it;
#   the merge job (afterany): report.html, report.md, results.json, profile.json, results.csv.
# Then it stops the daemons it started, by their pid files, whatever happened.
#
# usage: scripts/fleet/tests/slurm.sh       (as root; KEEP=1 keeps the temporary folder)
# needs: slurm-wlm and munge (scripts/fleet/tests/install-deps.sh), ONNX Runtime in .venv
# (scripts/setup.sh), and mora (MORA_BIN, default target/debug/mora, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
repo=$(pwd)
started=$SECONDS
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "slurm.sh: $tool is missing: run scripts/fleet/tests/install-deps.sh (apt-get install slurm-wlm munge)" >&2
    exit 1
  fi
done
mora=${MORA_BIN:-$repo/target/debug/mora}
if [ ! -x "$mora" ]; then
  cargo build --locked
fi

tmp=$(mktemp -d /tmp/mora-slurm.XXXXXX)
chmod 755 "$tmp"
pidfiles=("$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid")
failed=1
stop() {
  local pid pids=()
  for f in "${pidfiles[@]}"; do
    if [ -s "$f" ]; then
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  # The daemons are not our children (they fork away): wait for them by pid, then insist.
  for pid in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$failed" = 1 ]; then
    echo "--- slurm.sh failed; the cluster's logs:" >&2
    tail -n 20 "$tmp"/*.log "$tmp"/results/logs/* >&2 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap stop EXIT
fail() {
  echo "slurm.sh: FAIL: $*" >&2
  exit 1
}

# --- the cluster -------------------------------------------------------------------------------
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/results"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge.log" --seed-file="$tmp/munge/munged.seed"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
node=moranode
cat >"$tmp/slurm.conf" <<EOF
ClusterName=moratest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
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
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# A GPU the scheduler counts and the node does not have (Slurm wants a device file: /dev/null): a
# job that asks for one gets this node.
echo "NodeName=$node Name=gpu Count=1 File=/dev/null" >"$tmp/gres.conf"
export SLURM_CONF=$tmp/slurm.conf
slurmctld
slurmd -N "$node"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
  sleep 1
done
[ "$(sinfo -h -o %T)" = idle ] || fail "the node is not idle after 60 s: $(sinfo -h -o '%T %E')"
echo "cluster up in $((SECONDS - started)) s: $(sinfo -h -o '%P %D %T %N %G')"

# --- the fleet, as README's Fleet section submits it --------------------------------------------
cat >"$tmp/fleet" <<'EOF'
# class  tasks  sbatch options     -- mora bench options
cpu      2      --cpus-per-task=1  -- --scenario single --workers 1
gpu      1      --cpus-per-task=1  -- --provider cuda --scenario single --workers 1
EOF
export MORA_PIPELINE=prepared MORA_BIN="$mora" MORA_CONFIG="$repo/tests/fixtures/fleet/models.yaml"
submitted=$(scripts/fleet/slurm/submit.sh "$tmp/fleet" "$tmp/results" "$tmp/results/merged")
echo "$submitted"
merge=$(sed -n 's/^merge: job \([0-9]*\) .*/\1/p' <<<"$submitted")
cpu_job=$(sed -n 's/^class cpu: job array \([0-9]*\),.*/\1/p' <<<"$submitted")
gpu_job=$(sed -n 's/^class gpu: job array \([0-9]*\),.*/\1/p' <<<"$submitted")
if [ -z "$merge" ] || [ -z "$cpu_job" ] || [ -z "$gpu_job" ]; then fail "submit.sh printed no job ids"; fi
grep -q 'gpu: job array .*--gres=gpu:1' <<<"$submitted" || fail "the CUDA class got no --gres=gpu:1"

for _ in $(seq 180); do
  [ -z "$(squeue -h -j "$merge" 2>/dev/null)" ] && break
  sleep 1
done
state=$(scontrol show job "$merge" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
[ "$state" = COMPLETED ] || fail "the merge job $merge is $state after 180 s"
echo "all jobs done in $((SECONDS - started)) s"

# --- what the fleet left -----------------------------------------------------------------------
results=$tmp/results
json() { python3 -c 'import json, sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' "$@"; }
runs=()
for task in 0 1; do
  run=$results/cpu-${cpu_job}_$task-$node
  [ -f "$run/results.json" ] || fail "no run $run: $(ls "$results")"
  [ "$(json "$run/results.json" 'len(d["trials"])')" = 1 ] || fail "$run: one trial expected"
  [ "$(json "$run/results.json" 'd["trials"][0]["outcome"]["status"]')" = ok ] || fail "$run: the trial failed"
  runs+=("$(basename "$run")")
done
gpu_run=$results/gpu-${gpu_job}_0-$node
if [ ! -f "$gpu_run/failed.json" ] || [ -e "$gpu_run/results.json" ]; then fail "the CUDA task left no failed.json alone: $(ls "$gpu_run")"; fi
reason=$(json "$gpu_run/failed.json" 'd["reason"]')
grep -q "CUDA cannot run here" <<<"$reason" || fail "failed.json does not give mora's reason: $reason"
[ "$(json "$gpu_run/failed.json" 'd["exit_code"]')" = 1 ] || fail "failed.json: exit code 1 expected"
state=$(scontrol show job "${gpu_job}_0" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
[ "$state" = FAILED ] || fail "the CUDA task is $state in Slurm, FAILED expected"

merged=$results/merged
for f in report.html report.md results.json results.csv profile.json load-time.svg; do
  [ -s "$merged/$f" ] || fail "the merge wrote no $f"
done
[ "$(json "$merged/results.json" 'sorted(d["run"]["merged_from"])')" = "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "${runs[@]}")" ] ||
  fail "merged_from: $(json "$merged/results.json" 'd["run"]["merged_from"]')"
[ "$(json "$merged/results.json" 'd["run"]["failed_runs"][0]["run"]')" = "$(basename "$gpu_run")" ] || fail "the failed run is not named"
# Both tasks ran on this one host: one trial kept, the other run's beside it (a one-host merge).
[ "$(json "$merged/results.json" 'len(d["trials"][0]["other_runs"])')" = 1 ] || fail "the second task's trial is not kept beside the first"
[ "$(json "$merged/profile.json" 'len(d["hosts"])')" = 1 ] || fail "profile: one host expected"
[ "$(json "$merged/profile.json" 'len(d["hosts"][0]["runs"])')" = 2 ] || fail "profile: both runs expected"
grep -q "## Runs that failed" "$merged/report.md" || fail "report.md does not name the failed run"
grep -q "$(basename "$gpu_run")" "$merged/report.html" || fail "report.html does not name the failed run"
grep -q "merge: open $merged/report.html" "$results"/logs/mora-merge-"$merge".out || fail "the merge job's log"

failed=0
echo "slurm.sh: ok: 3 tasks (2 runs, 1 failed and named), merged into $merged, in $((SECONDS - started)) s"
