#!/usr/bin/env bash
# Run every benchmark in bench/ in sequence and print what each reports.
#
#   bench/run_all.sh            # full sizes, as in bench/README.md (~12 minutes on 2 cores)
#   bench/run_all.sh --quick    # small sizes, to check that everything runs (~2 minutes)
#
# Each benchmark's full output is also kept in a folder (printed at the end; set
# BENCH_OUT=DIR to choose it). Run on an otherwise idle machine: the benchmarks run one
# at a time, and anything else running (a test suite, another benchmark) shows up in
# their tails. Not part of the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${BENCH_OUT:-$(mktemp -d -t kindred-bench-XXXXXX)}
mkdir -p "$OUT"

declare -A ARGS
if [[ "${1:-}" == "--quick" ]]; then
  ARGS=(
    [checkins]="--members 10000 --guilds 1000 --checkins 300"
    [recovery]="--sizes 10000 100000 --due 100"
    [retention]="--sizes 1000"
    [buddies]="--pairs 1000 10000 --pool 100 1000"
    [detection]="--messages 2000 --runs 3"
    [interactions]="--seconds 5 --rounds 1"
    [fanout]="--servers 100 --runs 1"
    [memory]="--servers 100 --days 1 --mystats 5"
    [postgres]="--members 20000 --small 2000 --due 20 --checkins 200"
  )
fi

status=0
for name in checkins recovery retention buddies detection interactions fanout memory postgres; do
  echo "=== bench_${name}.py ${ARGS[$name]:-}  ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
  started=$SECONDS
  # shellcheck disable=SC2086  # the arguments are meant to split
  if "$PY" "bench/bench_${name}.py" ${ARGS[$name]:-} >"$OUT/$name.txt" 2>&1; then
    cat "$OUT/$name.txt"
  else
    tail -n 30 "$OUT/$name.txt"
    echo "!!! bench_${name}.py failed (full output: $OUT/$name.txt)"
    status=1
  fi
  echo "--- $((SECONDS - started)) s"
  echo
done

echo "=== summaries"
grep -h '^SUMMARY' "$OUT"/*.txt
echo "(full outputs in $OUT)"
exit $status
