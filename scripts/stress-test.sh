#!/usr/bin/env bash
# Runs the README's test command while a CPU burner keeps every core busy,
# RUNS times in a row (default 3), and fails at the first red run. It proves
# that the suite waits on events rather than on wall-clock luck.
#
#   scripts/stress-test.sh            # 3 runs, one burner per core
#   RUNS=1 BURNERS=4 scripts/stress-test.sh -run TestCluster ./host/
#
# Extra arguments replace the default package list (./...). Each run is
# bounded by go test's -timeout; the burners stop when the script exits,
# whatever the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
BURNERS="${BURNERS:-$(nproc)}"
TIMEOUT="${TIMEOUT:-30m}"
export WASMACTOR_COMPILE_CACHE="${WASMACTOR_COMPILE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmactor/compiled}"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(./...)

pids=()
stop_burners() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_burners EXIT INT TERM
for _ in $(seq "$BURNERS"); do
  # A shell busy loop at the same priority as the tests: it takes its share
  # of every core for as long as the script runs.
  ( while :; do :; done ) &
  pids+=("$!")
done
echo "stress: $BURNERS CPU burners on $(nproc) cores; $RUNS runs of: go test -race -shuffle=on -count=1 ${args[*]}"

start=$SECONDS
for i in $(seq "$RUNS"); do
  run_start=$SECONDS
  log="$(mktemp -t stress-run.XXXXXX)"
  if go test -race -shuffle=on -count=1 -timeout "$TIMEOUT" "${args[@]}" >"$log" 2>&1; then
    echo "stress: run $i/$RUNS passed in $((SECONDS - run_start))s"
    rm -f "$log"
  else
    grep -E '^(--- FAIL|FAIL|panic:|ok )' "$log" || true
    echo "stress: run $i/$RUNS FAILED after $((SECONDS - run_start))s; full log: $log"
    exit 1
  fi
done
echo "stress: $RUNS of $RUNS runs passed in $((SECONDS - start))s"
