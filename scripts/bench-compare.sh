#!/usr/bin/env bash
# bench-compare.sh measures a change: the test binary of one package built at
# a base revision and in the working tree, run interleaved (base, tree, base,
# tree, ... one -count 1 run each), then the medians, the ratio of the
# medians and the median of the per-round ratios (scripts/benchtable
# -compare). Each binary runs in its own tree, since tests build their
# guests from the tree they run in.
#
#   scripts/bench-compare.sh HEAD~1 ./host '^BenchmarkSpawn$'
#   ROUNDS=9 BENCHTIME=2000x scripts/bench-compare.sh main ./internal/engine '^BenchmarkStartGoGuest$'
#   scripts/bench-compare.sh main ./bench '^BenchmarkRemoteTell$'   # the bench module
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
base=$1 pkg=${2#./} re=$3
ROUNDS="${ROUNDS:-7}"
BENCHTIME="${BENCHTIME:-1s}"
cd "$(dirname "$0")/.."
root=$PWD
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export WASMACTOR_COMPILE_CACHE="${WASMACTOR_COMPILE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmactor/compiled}"
tmp=$(mktemp -d /tmp/wasmactor-compare.XXXXXX)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$base" >/dev/null 2>&1
build() { # TREE OUT: the test binary of $pkg (its own module if it has a go.mod)
  if [ -f "$1/$pkg/go.mod" ]; then (cd "$1/$pkg" && go test -c -o "$2" .); else (cd "$1" && go test -c -o "$2" "./$pkg"); fi
}
build "$tmp/base" "$tmp/base.test"
build "$root" "$tmp/tree.test"
echo "# base $(git rev-parse --short "$base"), tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+changes'), $pkg $re, $ROUNDS rounds, benchtime $BENCHTIME, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$ROUNDS"); do
  for side in base tree; do
    dir=$root; [ $side = base ] && dir=$tmp/base
    { (cd "$dir/$pkg" && "$tmp/$side.test" -test.run='^$' -test.bench="$re" -test.benchtime="$BENCHTIME" -test.count=1) |
      grep -E '^(Benchmark|FAIL|--- FAIL|panic)' || echo "$side: no benchmark matched $re" >&2; } | sed "s/^/$side /" | tee -a "$tmp/out.txt" >&2
  done
done
go run ./scripts/benchtable -compare <"$tmp/out.txt"
