"""examples/ci: the workflow a library copies is valid YAML that calls real commands, and its suite
and profile validate inside a library's own repository with the two branches the workflow makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ci"


def test_the_workflow_runs_compare_twice_posts_the_markdown_and_gates(tmp_path):
    workflow = yaml.safe_load((EXAMPLE / "agent-eval.yml").read_text())
    steps = workflow["jobs"]["compare"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert "--format markdown" in script and "--fail-on match:-5" in script and "gh pr comment" in script
    assert workflow["permissions"]["pull-requests"] == "write"
    for command in ("run", "compare", "report"):
        assert f"agent-eval {command} " in script
        done = subprocess.run([sys.executable, "-m", "agent_eval", command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    compare_help = subprocess.run([sys.executable, "-m", "agent_eval", "compare", "--help"], capture_output=True, text=True).stdout
    for option in ("--base", "--head", "--format", "--report-url", "--fail-on"):
        assert option in compare_help


def test_the_suite_validates_in_a_library_repository(tmp_path, minilib_repo):
    library = tmp_path / "library"
    subprocess.run(["git", "clone", "-q", str(minilib_repo), str(library)], check=True)
    for branch, ref in (("agent-eval-base", "v0.1"), ("agent-eval-head", "v0.2")):  # what the workflow does with the PR's SHAs
        subprocess.run(["git", "-C", str(library), "branch", "-f", branch, ref], check=True, capture_output=True)
    shutil.copytree(EXAMPLE / "agent-eval", library / ".agent-eval")
    suite = library / ".agent-eval" / "suite.yaml"
    data = yaml.safe_load(suite.read_text())
    data["models"] = [{"id": "some-model", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "SOME_KEY"}]  # no weights needed here
    suite.write_text(yaml.safe_dump(data))
    done = subprocess.run([sys.executable, "-m", "agent_eval", "validate", str(suite)], capture_output=True, text=True, cwd=library,
                          timeout=120, env={**os.environ, "SOME_KEY": "a-key-for-the-test"})
    assert done.returncode == 0, done.stderr
    assert "revision base: agent-eval-base" in done.stderr and "revision head: agent-eval-head" in done.stderr
