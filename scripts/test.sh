#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs them.
# - Python deps (and playwright, the browser driver) with pip;
# - Debian's chromium for the report's browser tests, if it is not there yet;
# - pi (both supported versions) and echarts from npm (pinned by lockfiles in the package) on first use,
#   with the npm of the Node wheel pip installed (no system Node or npm), cached with the test
#   environments and the 0.5B model under ~/.cache/agent-eval-tests, so a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
python3 -m pytest -q "$@"
