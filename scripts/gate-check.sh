#!/usr/bin/env bash
# Proves `mora report --fail-on-regression` on this machine (issue 24): PAIRS unchanged rerun pairs
# (same binary, model and settings, one run right after the other), none of which may fail the gate,
# and one deliberate regression (MORA_FAULT=slow-run:MS adds MS ms to every inference, inside its
# timer), which must. For each comparison it prints the p50 row: both medians with their ranges over the
# workers, the ratio with its bootstrap interval, the verdict and its p. Exit 0 when there are 0 false
# and 1 true gate failures, else 1.
#
#   scripts/gate-check.sh                    # minilm-l6-int8, 10 pairs, 5 workers, 20 runs, 10 %
#   WRAP=/work/bin/measure-lock scripts/gate-check.sh   # each bench under a lock of the machine's
set -euo pipefail
cd "$(dirname "$0")/.."
MORA=${MORA:-target/release/mora}
MODEL=${MODEL:-minilm-l6-int8}
PAIRS=${PAIRS:-10}
WORKERS=${WORKERS:-5}
RUNS=${RUNS:-20}
THRESHOLD=${THRESHOLD:-10}
SLOW_MS=${SLOW_MS:-5}
OUT=${OUT:-$(mktemp -d -t mora-gate-XXXXXX)}
WRAP=${WRAP:-}
mkdir -p "$OUT"
[ -x "$MORA" ] || { echo "no $MORA: cargo build --release --locked, or set MORA" >&2; exit 1; }

bench() {
    local name=$1
    shift
    # shellcheck disable=SC2086 # WRAP is a command prefix, empty or one word
    $WRAP "$MORA" bench --config models.yaml --models "$MODEL" --scenario single --provider cpu \
        --workers "$WORKERS" --runs "$RUNS" --quiet --out "$OUT" --run-name "$name" "$@" >/dev/null 2>"$OUT/$name.log" || {
        echo "bench $name failed:" >&2
        cat "$OUT/$name.log" >&2
        exit 1
    }
}

# The gate's exit code for A against B, with the p50 row of the comparison and the gate's verdict.
gate() {
    local a=$1 b=$2 rc=0
    COLUMNS=400 "$MORA" report "$OUT/$a" "$OUT/$b" --style plain --fail-on-regression "$THRESHOLD" \
        >"$OUT/$b.report" 2>"$OUT/$b.gate" || rc=$?
    # The comparison's p50 row (the single table's header names p50 ms too).
    echo "  p50:$(grep -E ' p50 ms ' "$OUT/$b.report" | grep -vE '^ *Model ' | sed -E 's/ +/ /g; s/^ *[^ ]+ p50 ms//')"
    grep -E '^(regression|no significant|warning|setting differs)' "$OUT/$b.gate" | sed 's/^/  /' || true
    return $rc
}

echo "gate check: $MODEL, $WORKERS workers x $RUNS runs, --fail-on-regression $THRESHOLD, in $OUT ($(uptime | sed 's/.*load/load/'))"
false_failures=0
for i in $(seq 1 "$PAIRS"); do
    bench "pair$i-a"
    bench "pair$i-b"
    rc=0
    echo "pair $i (unchanged):"
    gate "pair$i-a" "pair$i-b" || rc=$?
    echo "  gate exit $rc"
    [ "$rc" = 0 ] || false_failures=$((false_failures + 1))
done
bench regressed-base
MORA_FAULT="slow-run:$SLOW_MS" bench regressed
rc=0
echo "deliberate regression (+$SLOW_MS ms per inference):"
gate regressed-base regressed || rc=$?
echo "  gate exit $rc"
true_failures=$([ "$rc" = 5 ] && echo 1 || echo 0)
echo "false gate failures: $false_failures of $PAIRS; true gate failures: $true_failures of 1"
[ "$false_failures" = 0 ] && [ "$true_failures" = 1 ]
