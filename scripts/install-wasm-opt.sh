#!/usr/bin/env bash
# Installs binaryen's wasm-opt, which `wasmactor build --optimize` runs, from
# the npm registry into a directory of this checkout (.cache/tools/, ignored
# by git), and prints the path of the wasm-opt it installed. Idempotent: an
# install of the pinned version is reused. Needs node and npm.
#
#   scripts/install-wasm-opt.sh                       # prints .../bin/wasm-opt
#   export WASMACTOR_WASM_OPT=$(scripts/install-wasm-opt.sh)
#
# WASMACTOR_TOOLS overrides the install directory.
set -euo pipefail
BINARYEN_VERSION=132.0.0
cd "$(dirname "$0")/.."
dir="${WASMACTOR_TOOLS:-$PWD/.cache/tools}/binaryen-$BINARYEN_VERSION"
bin="$dir/node_modules/.bin/wasm-opt"
if [ ! -x "$bin" ] || ! "$bin" --version >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { echo "install-wasm-opt: npm is not on PATH (Debian: apt-get install npm)" >&2; exit 1; }
  mkdir -p "$dir"
  # --prefix keeps it out of any global or user npm directory; no package.json
  # of this repository is written or read.
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION" >&2
  "$bin" --version >/dev/null
fi
echo "$bin"
