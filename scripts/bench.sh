#!/usr/bin/env bash
# bench.sh runs the headline benchmarks of issue 13 interleaved with their
# baselines (A, B, A, B, ... one -count 1 run each per round) and prints one
# markdown table of medians, targets, ratios against the baseline measured in
# the same round, and pass/miss (scripts/benchtable computes it).
#
#   scripts/bench.sh                 # 5 rounds, the full million actors
#   ROUNDS=3 BENCHTIME=2s scripts/bench.sh
#   OUT=bench/results/today.txt scripts/bench.sh   # keep the raw output
#
# Environment: ROUNDS (default 5), BENCHTIME (-test.benchtime of the
# throughput and latency benchmarks, default 1s), COLD (iterations of
# RemoteSpawnCold per round, default 2), WASMACTOR_BENCH_ACTORS (default
# 1000000), OUT (raw output file; default a temporary file, kept).
# Needs Go and the module proxy, nothing else. The machine is measured as it
# is: the header gives its load, which matters on a shared box.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export WASMACTOR_COMPILE_CACHE="${WASMACTOR_COMPILE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmactor/compiled}"
export WASMACTOR_BENCH_ACTORS="${WASMACTOR_BENCH_ACTORS:-1000000}"
ROUNDS="${ROUNDS:-5}"
BENCHTIME="${BENCHTIME:-1s}"
COLD="${COLD:-2}"
OUT="${OUT:-$(mktemp /tmp/wasmactor-bench.XXXXXX.txt)}"
bin=$(mktemp -d /tmp/wasmactor-bench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT

echo "building test binaries" >&2
go test -c -o "$bin/host.test" ./host
go test -c -o "$bin/quic.test" ./transport/quic
(cd bench && go test -c -o "$bin/bench.test" .)

load() { cut -d' ' -f1-3 /proc/loadavg; }
{
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# nproc: $(nproc)"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "# load average at start: $(load)"
  echo "# $(go version)"
  echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "# rounds: $ROUNDS, benchtime: $BENCHTIME, cold spawns per round: $COLD, actors: $WASMACTOR_BENCH_ACTORS"
} | tee "$OUT" >&2

# run DIR BINARY BENCH-REGEX BENCHTIME: one -count 1 run, its output appended to $OUT.
run() {
  echo "  $2 $3 (load $(load))" >&2
  (cd "$root/$1" && "$bin/$2" -test.run='^$' -test.bench="$3" -test.benchtime="$4" -test.count=1 -test.timeout=20m) \
    | { grep -E '^(Benchmark|FAIL|--- FAIL|panic)' || echo "  (no output: $2 $3 failed?)" >&2; } | tee -a "$OUT" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  echo "# round $round" | tee -a "$OUT" >&2
  echo "# load average: $(load)" >>"$OUT"
  # each line: the benchmark, then its baseline right after it
  run bench bench.test '^BenchmarkRemoteTell$' "$BENCHTIME"
  run bench bench.test '^BenchmarkProtoActorRemoteTell$' "$BENCHTIME"
  run bench bench.test '^BenchmarkRemotePost$' "$BENCHTIME"
  run bench bench.test '^BenchmarkRemoteAsk$' "$BENCHTIME"
  run bench bench.test '^BenchmarkProtoActorRemoteAsk$' "$BENCHTIME"
  run transport/quic quic.test '^BenchmarkTransportOneWay$' "$BENCHTIME"
  run transport/quic quic.test '^BenchmarkRawQUICOneWay$' "$BENCHTIME"
  run host host.test '^BenchmarkLocalTell$/^obs=none$' "$BENCHTIME"   # obs=none: no HTTP listener, no tracer, as before main added the variants
  run host host.test '^BenchmarkLocalPost$' "$BENCHTIME"
  run host host.test '^BenchmarkSpawn$' "$BENCHTIME"
  run bench bench.test '^BenchmarkRemoteSpawnCold$' "${COLD}x"
  run bench bench.test '^BenchmarkRemoteSpawnColdInterpreted$' "${COLD}x"
  run host host.test '^BenchmarkActorMemory$' 1x
  run host host.test '^BenchmarkMillionActors$' 1x
done
echo "# load average at end: $(load)" | tee -a "$OUT" >&2

echo
grep -E '^# (date|nproc|cpu|load average at|go version|commit|rounds)' "$OUT" | sed 's/^# /- /'
echo "- raw output: $OUT"
echo
go run ./scripts/benchtable <"$OUT"
