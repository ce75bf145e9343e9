#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs them.
# - Python deps (and playwright, the browser driver) with pip;
# - Debian's chromium for the report's browser tests and bubblewrap for the agent's sandbox, if
#   they are not there yet;
# - pi (both supported versions) and echarts from npm (pinned by lockfiles in the package) on first use,
#   with the npm of the Node wheel pip installed (no system Node or npm), cached with the test
#   environments and the 0.5B model under ~/.cache/agent-eval-tests, so a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if [ -n "$missing" ]; then
  echo "installing from Debian:$missing (browser tests, agent sandbox)…"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
python3 -m pytest -q "$@"
