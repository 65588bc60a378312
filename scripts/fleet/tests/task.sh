#!/usr/bin/env bash
# scripts/fleet/run-task.sh on its own, without a scheduler:
#   1. a task that fails before its run (a config that is not there, its name holding a quote)
#      leaves failed.json: valid JSON with mora's reason and exit code, in the run's own folder;
#   2. a task stopped with SIGTERM, as Kubernetes stops a pod (to the first process only) and as
#      Slurm's scancel does (to every process of the task), ends with mora's record of the
#      interrupted trial and its reports, and exits 130.
#
# usage: scripts/fleet/tests/task.sh      (needs ONNX Runtime in .venv and mora: MORA_BIN, default target/debug/mora)
set -euo pipefail
cd "$(dirname "$0")/../../.."
repo=$(pwd)
export MORA_BIN=${MORA_BIN:-$repo/target/debug/mora}
if [ ! -x "$MORA_BIN" ]; then
  cargo build --locked
fi
tmp=$(mktemp -d /tmp/mora-task.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "task.sh: FAIL: $*" >&2
  exit 1
}
json() { python3 -c 'import json, sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' "$@"; }
export MORA_PIPELINE=prepared

# 1. No run: failed.json.
status=0
MORA_CONFIG="$tmp/no \"such\".yaml" scripts/fleet/run-task.sh "$tmp/results" cpu 7 0 >"$tmp/out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "exit $status, 1 expected: $(cat "$tmp/out")"
record=$tmp/results/cpu-7_0-$(hostname -s | tr -c 'A-Za-z0-9._\n-' '-')/failed.json
[ -f "$record" ] || fail "no $record: $(ls -R "$tmp/results")"
[ "$(json "$record" 'd["exit_code"]')" = 1 ] || fail "exit_code in $record"
json "$record" 'd["reason"]' | grep -q 'cannot read the model config .*no "such".yaml' || fail "reason: $(json "$record" 'd["reason"]')"

# 2. SIGTERM to the task's first process, then to its whole process group.
for target in first group; do
  run=hang-8_$target
  MORA_FAULT=hang:first_load MORA_CONFIG=$repo/tests/fixtures/fleet/models.yaml MORA_NODE=n \
    setsid scripts/fleet/run-task.sh "$tmp/results" hang 8 "$target" --scenario single --workers 1 >"$tmp/$target.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    [ -f "$tmp/results/$run-n/results.json" ] && break
    sleep 0.1
  done
  sleep 2 # into the hanging first load
  if [ "$target" = first ]; then kill -TERM "$pid"; else kill -TERM -- "-$pid"; fi
  status=0
  wait "$pid" || status=$?
  [ "$status" = 130 ] || fail "SIGTERM to the $target: exit $status, 130 expected: $(tail -5 "$tmp/$target.out")"
  folder=$tmp/results/$run-n
  [ "$(json "$folder/results.json" 'd["trials"][0]["outcome"]["status"]')" = interrupted ] || fail "$folder: not interrupted"
  for f in report.md report.html profile.json; do
    [ -s "$folder/$f" ] || fail "SIGTERM to the $target: mora wrote no $f"
  done
  [ ! -e "$folder/failed.json" ] || fail "an interrupted run is a run, not a failed.json"
done
echo "task.sh: ok: failed.json before a run; SIGTERM to the task's first process and to its group ends in an interrupted run with its reports"
