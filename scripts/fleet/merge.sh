#!/usr/bin/env bash
# The fleet's merge step: every task's run (or failed.json) in the shared results folder, merged by
# `mora report` into one folder: report.html (the page to pass around), report.md, results.json,
# results.csv, profile.json (one entry per host) and the charts. A task that left nothing (it never
# started, or its node died) gets a failed.json here, so the report names every task of the fleet.
# Slurm's mora-merge.sbatch and the Kubernetes merge Job both run it.
#
# usage: scripts/fleet/merge.sh RESULTS_DIR OUT_DIR CLASS:JOB:TASKS...
#   e.g. scripts/fleet/merge.sh /shared/results /shared/results/fleet-41 cpu:41:4 h100:42:2
#   (class cpu ran as job 41 with tasks 0-3; its runs are /shared/results/cpu-41_<task>-<node>)
# environment:
#   MORA_BIN  the mora binary; without it the repository's target/release/mora, built (or brought up to
#             date) here first, so that the merge reads what the tasks' mora wrote
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
results=$1 out=$2
shift 2
repo=$(cd "$(dirname "$0")/../.." && pwd)
mora=${MORA_BIN:-}
if [ -z "$mora" ]; then
  # A stale build would refuse results a newer one wrote: cargo makes it current (a no-op when it is).
  (cd "$repo" && cargo build --release --locked --quiet)
  mora=$repo/target/release/mora
fi

runs=()
for spec in "$@"; do
  IFS=: read -r class job tasks <<<"$spec"
  if ! [[ "$class" =~ ^[0-9A-Za-z._-]+$ && "$job" =~ ^[0-9A-Za-z._-]+$ && "$tasks" =~ ^[0-9]+$ ]]; then
    echo "merge.sh: $spec is not CLASS:JOB:TASKS (e.g. cpu:41:4)" >&2
    exit 2
  fi
  for ((task = 0; task < tasks; task++)); do
    found=0
    for run in "$results/$class-${job}_$task-"*; do
      [ -d "$run" ] || continue
      found=1
      runs+=("$run")
    done
    if [ "$found" = 0 ]; then
      missing="$results/$class-${job}_$task-missing"
      mkdir -p "$missing"
      printf '{"job": "%s", "reason": "task %s of job %s (class %s) left no run and no failed.json: it never started, or its node died (ask the scheduler: sacct -j %s_%s or kubectl get pods)"}\n' \
        "$job task $task" "$task" "$job" "$class" "$job" "$task" >"$missing/failed.json"
      echo "merge: task $task of job $job ($class) left nothing: recorded as $missing" >&2
      runs+=("$missing")
    fi
  done
done

echo "merge: ${#runs[@]} runs -> $out"
"$mora" report "${runs[@]}" --out "$out"
echo "merge: open $out/report.html"
