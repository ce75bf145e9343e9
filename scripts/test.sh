#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs them.
# pi comes from npm (pinned by agent_eval/pi/package-lock.json) on first use; environments and pi
# are cached under ~/.cache/agent-eval-tests, so a second run skips every install.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m pytest -q "$@"
