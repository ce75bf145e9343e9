#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs them.
# - Python deps (and playwright, the browser driver) with pip;
# - Debian's chromium for the report's browser tests and bubblewrap for the agent's sandbox, if
#   they are not there yet;
# - pi (both supported versions) and echarts from npm (pinned by lockfiles in the package) on first use,
#   with the npm of the Node wheel pip installed (no system Node or npm), cached with the test
#   environments and the 0.5B model under ~/.cache/agent-eval-tests, so a second run installs nothing;
# - then, run without arguments (as CI does), the tests that install, extract and run cells again with
#   Debian's own Python where there is one (3.11.2 on Debian 12: older than the python3 above, and
#   without tarfile's filters), in a venv of its own under ~/.cache/agent-eval-tests/debian-venv.
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
[ $# -eq 0 ] || exit 0

DEBIAN_TESTS="tests/test_releases.py tests/test_run.py"
if [ ! -x /usr/bin/python3 ]; then
  echo "skipped $DEBIAN_TESTS on Debian's Python: there is no /usr/bin/python3 here"
  exit 0
fi
if [ "$(readlink -f "$(command -v python3)")" = "$(readlink -f /usr/bin/python3)" ]; then
  exit 0  # the run above was Debian's Python already
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/agent-eval-tests/debian-venv"
if ! /usr/bin/python3 -c "import ensurepip" 2>/dev/null; then
  echo "installing from Debian: python3-venv (the Debian-Python tests)…"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
# The dependencies from PyPI, again only when pyproject.toml changed; agent-eval itself comes from
# this checkout (PYTHONPATH), never from what that install put in the venv.
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$venv/.pyproject.sha256" 2>/dev/null)" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check '.[test]'
  echo "$wanted" > "$venv/.pyproject.sha256"
fi
echo "again on Debian's Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'): $DEBIAN_TESTS"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" -m pytest -q $DEBIAN_TESTS
