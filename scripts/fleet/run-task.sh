#!/usr/bin/env bash
# One fleet task: one `mora bench` run on this node into a results folder that the fleet's tasks
# share, named <class>-<job>_<task>-<node> so that no two tasks ever write the same folder (mora
# creates it with mkdir and refuses a name that exists). Slurm's mora-array.sbatch and the
# Kubernetes Indexed Job both run it. A task that ends without a run (setup, export or build failed,
# or mora bench refused before the run, e.g. --provider cuda on a node without CUDA) leaves
# RESULTS/<run>/failed.json with the reason, so the merge names it; the task still fails.
#
# usage: scripts/fleet/run-task.sh RESULTS_DIR CLASS JOB TASK [mora bench options...]
# environment:
#   MORA_PIPELINE  full (default): this node runs scripts/bench.sh in a node-local copy of the
#                  repository (setup.sh, export_models.py and cargo build, then the bench of models.yaml);
#                  offline: scripts/offline-bench.sh here, as in mora's container image: export from
#                  the downloads cache MORA_DOWNLOADS without network, then the bench (ORT_DYLIB_PATH);
#                  prepared: models are exported and mora is built already (MORA_BIN, MORA_CONFIG)
#   MORA_BIN       offline, prepared: the mora binary (default target/release/mora)
#   MORA_DOWNLOADS offline: the downloads cache (scripts/export_models.py --slim-cache DIR)
#   MORA_CONFIG    prepared: the suite (default models.yaml)
#   MORA_JOB_LABEL the scheduler's name for the task in failed.json (default "JOB task TASK")
#   MORA_WORKDIR   full: where the node-local copy goes (default ${TMPDIR:-/tmp}/mora-<run>); it is
#                  removed when the task ends (several GB: torch, the build, the models), unless
#                  MORA_KEEP_WORKDIR=1
#   MORA_NODE      the node's name in the run name (default: the short host name; Kubernetes sets
#                  it to the node the pod runs on)
#   MORA_RUN_SUFFIX  appended to the run name (Slurm: -r1 for a requeued task's second attempt)
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,25p' "$0" >&2
  exit 2
fi
results=$1 class=$2 job=$3 task=$4
shift 4
repo=$(cd "$(dirname "$0")/../.." && pwd)
node=${MORA_NODE:-$(hostname -s)}
# A run name is one folder name: anything else in a class or node name becomes '-'.
run=$(printf '%s-%s_%s-%s%s' "$class" "$job" "$task" "$node" "${MORA_RUN_SUFFIX:-}" | tr -c 'A-Za-z0-9._\n-' '-')
pipeline=${MORA_PIPELINE:-full}
work=${MORA_WORKDIR:-${TMPDIR:-/tmp}/mora-$run}
mkdir -p "$results"
results=$(cd "$results" && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/mora-task.XXXXXX")
trap 'rm -f "$log"' EXIT

# The JSON string of $1: backslash, quote and line breaks escaped, other control characters dropped.
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')"
}

task() {
  case "$pipeline" in
    full)
      echo "fleet task $run: the pipeline in $work (setup, export, build, bench)"
      # A node-local copy: nodes never share a .venv, a build or model files being written.
      git clone --quiet "$repo" "$work"
      cd "$work"
      exec scripts/bench.sh --out "$results" --run-name "$run" "$@"
      ;;
    offline)
      echo "fleet task $run: export from ${MORA_DOWNLOADS:?offline needs MORA_DOWNLOADS}, then bench"
      cd "$repo"
      exec scripts/offline-bench.sh "$MORA_DOWNLOADS" "${MORA_BIN:-$repo/target/release/mora}" --out "$results" --run-name "$run" "$@"
      ;;
    prepared)
      local mora=${MORA_BIN:-$repo/target/release/mora}
      echo "fleet task $run: $mora bench -> $results/$run"
      exec "$mora" bench --config "${MORA_CONFIG:-$repo/models.yaml}" --out "$results" --run-name "$run" "$@"
      ;;
    *)
      echo "run-task.sh: MORA_PIPELINE=$pipeline: use full, offline or prepared" >&2
      exit 2
      ;;
  esac
}

# A scheduler stops a task with SIGTERM (Slurm's scancel to every process of the task, Kubernetes to
# the container's first process only): it is passed on to the task, where mora ends the trial in
# flight and writes its results, while this script and the tee copying stderr live on to the end.
(set -e; task "$@") 2> >(trap '' TERM INT; exec tee "$log" >&2) &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
status=0
wait "$child" || status=$?
# A trapped signal ends `wait` early (status > 128): wait on until the task itself has ended.
while kill -0 "$child" 2>/dev/null; do
  status=0
  wait "$child" || status=$?
done
wait  # for tee, so the log is whole
if [ "$pipeline" = full ] && [ "${MORA_KEEP_WORKDIR:-0}" != 1 ]; then
  rm -rf "$work"
fi
if [ "$status" -ne 0 ] && [ ! -e "$results/$run/results.json" ]; then
  # mora made no run: record why, in the run's own folder (the name is this task's alone).
  mkdir -p "$results/$run"
  reason=$(tail -n 15 "$log")
  printf '{"run": %s, "host": %s, "job": %s, "exit_code": %d, "reason": %s}\n' \
    "$(json_string "$run")" "$(json_string "$(hostname)")" "$(json_string "${MORA_JOB_LABEL:-$job task $task}")" \
    "$status" "$(json_string "${reason:-exited with status $status and printed nothing}")" >"$results/$run/failed.json"
  echo "fleet task $run failed (exit $status): recorded in $results/$run/failed.json" >&2
fi
exit "$status"
