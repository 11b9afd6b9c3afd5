#!/usr/bin/env bash
# Installs what the test suite needs beyond Go and the module proxy:
# Debian's chromium, for the observer's browser test
# (host/observer_test.go). Idempotent; .ci/run calls it.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: chromium is missing; run this script as root (it uses apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
