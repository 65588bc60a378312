#!/usr/bin/env bash
# Submits a fleet benchmark to Slurm: one job array per machine class (one task per node, each
# running the pipeline and `mora bench` into RESULTS_DIR), then the merge job, which waits for all of
# them (--dependency=afterany, so failed tasks are merged and named too) and writes OUT_DIR.
#
# usage: scripts/fleet/slurm/submit.sh FLEET_FILE RESULTS_DIR [OUT_DIR]
#   FLEET_FILE: one machine class a line, `#` starts a comment:
#     CLASS TASKS [sbatch options...] [-- mora bench options...]
#   e.g. (scripts/fleet/slurm/fleet.example):
#     cpu   4 --partition=cpu --exclusive -- --provider cpu
#     h100  2 --partition=gpu --constraint=h100 --exclusive -- --provider cuda
#   A class whose mora bench options ask for CUDA gets --gres=gpu:1 unless its sbatch options name a
#   --gres. OUT_DIR defaults to RESULTS_DIR/fleet-<the first array's job id>.
# environment: MORA_PIPELINE, MORA_BIN, MORA_CONFIG (run-task.sh) reach the tasks: sbatch exports
# the submitting shell's environment.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,18p' "$0" >&2
  exit 2
fi
fleet=$1 results=$2 out=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
export MORA_REPO=${MORA_REPO:-$(cd "$here/../../.." && pwd)}
mkdir -p "$results/logs"
results=$(cd "$results" && pwd)

jobs=() specs=()
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  line=${line%%#*}
  read -r -a words <<<"$line"
  [ ${#words[@]} -eq 0 ] && continue
  class=${words[0]} tasks=${words[1]:-}
  if ! [[ "$class" =~ ^[0-9A-Za-z._-]+$ && "$tasks" =~ ^[1-9][0-9]*$ ]]; then
    echo "submit.sh: $fleet:$line_no: expected CLASS TASKS [sbatch options] [-- mora bench options], e.g. cpu 4 --partition=cpu -- --provider cpu" >&2
    exit 2
  fi
  sbatch_opts=() bench_opts=() in_bench=0
  for w in "${words[@]:2}"; do
    if [ "$in_bench" = 1 ]; then bench_opts+=("$w"); elif [ "$w" = -- ]; then in_bench=1; else sbatch_opts+=("$w"); fi
  done
  # CUDA needs a GPU from the scheduler: ask for one where the class did not say how many.
  bench=" ${bench_opts[*]:-} "
  if [[ "$bench" =~ --provider[=\ ][^\ ]*cuda ]] && ! [[ " ${sbatch_opts[*]:-} " =~ \ --gres ]]; then
    sbatch_opts+=(--gres=gpu:1)
  fi
  job=$(sbatch --parsable --job-name="mora-$class" --array="0-$((tasks - 1))" --output="$results/logs/%x-%A_%a.out" \
    ${sbatch_opts[@]+"${sbatch_opts[@]}"} "$here/mora-array.sbatch" "$results" "$class" ${bench_opts[@]+"${bench_opts[@]}"})
  job=${job%%;*}
  echo "class $class: job array $job, tasks 0-$((tasks - 1)) (sbatch ${sbatch_opts[*]:-}; mora bench ${bench_opts[*]:-})"
  jobs+=("$job")
  specs+=("$class:$job:$tasks")
done <"$fleet"
if [ ${#jobs[@]} -eq 0 ]; then
  echo "submit.sh: $fleet names no machine class" >&2
  exit 2
fi

after=$(IFS=:; echo "${jobs[*]}")
out=${out:-$results/fleet-${jobs[0]}}
merge=$(sbatch --parsable --job-name=mora-merge --dependency="afterany:$after" --output="$results/logs/%x-%j.out" \
  "$here/mora-merge.sbatch" "$results" "$out" "${specs[@]}")
echo "merge: job ${merge%%;*} after $after -> $out"
