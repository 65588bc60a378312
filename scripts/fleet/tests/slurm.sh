#!/usr/bin/env bash
# The Slurm route end to end on this machine. It brings up a one-node cluster (local-slurm.sh:
# munged, slurmctld and slurmd with proctrack/linuxproc and task/none, everything under a temporary
# folder; the node counts one GPU it does not have), submits a fleet with
# scripts/fleet/slurm/submit.sh, as docs/fleet.md says, and checks the result:
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
mora=${MORA_BIN:-$repo/target/debug/mora}
if [ ! -x "$mora" ]; then
  cargo build --locked
fi

tmp=$(mktemp -d /tmp/mora-slurm.XXXXXX)
failed=1
stop() {
  scripts/fleet/tests/local-slurm.sh down "$tmp/cluster" || true
  if [ "$failed" = 1 ]; then
    echo "--- slurm.sh failed; the cluster's logs:" >&2
    tail -n 20 "$tmp"/cluster/*.log "$tmp"/results/logs/* >&2 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap stop EXIT
fail() {
  echo "slurm.sh: FAIL: $*" >&2
  exit 1
}

scripts/fleet/tests/local-slurm.sh up "$tmp/cluster"
export SLURM_CONF=$tmp/cluster/slurm.conf
node=moranode
echo "cluster up in $((SECONDS - started)) s"
mkdir -p "$tmp/results"

# --- the fleet, as docs/fleet.md submits it -----------------------------------------------------
cat >"$tmp/fleet" <<'EOF'
# class  tasks  sbatch options     -- mora bench options
cpu      2      --cpus-per-task=1  -- --provider cpu --scenario single --workers 1
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
grep -q -- "--provider cuda cannot run here" <<<"$reason" || fail "failed.json does not give mora's reason: $reason"
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

# The teardown stops exactly the daemons this test started.
daemons=$(cat "$tmp/cluster/slurmd.pid" "$tmp/cluster/slurmctld.pid" "$tmp/cluster/munge/munged.pid")
scripts/fleet/tests/local-slurm.sh down "$tmp/cluster"
for pid in $daemons; do
  if kill -0 "$pid" 2>/dev/null; then fail "daemon $pid still runs after local-slurm.sh down"; fi
done

failed=0
echo "slurm.sh: ok: 3 tasks (2 runs, 1 failed and named), merged into $merged, in $((SECONDS - started)) s"
