"""examples/ci: the workflow a library copies is valid YAML that calls real commands, and its suite
and profile validate inside a library's own repository with the two branches the workflow makes."""

from __future__ import annotations

import os
import re
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


def _step(workflow: dict, name: str) -> dict:
    return next(step for step in workflow["jobs"]["compare"]["steps"] if step.get("name") == name)


def _github(text: str, event: dict) -> str:
    """The workflow's ${{ … }} expressions as GitHub fills them in for `event`."""
    known = {"github.server_url": "https://github.com", "github.repository": "org/lib", "github.run_id": "7",
             "github.event.pull_request.base.sha": event["base"], "github.event.pull_request.head.sha": event["head"]}
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: known[m[1]], text)


def test_the_compare_step_survives_a_second_push_and_a_base_that_moved(tmp_path):
    """The store the cache brings back holds every earlier push: two revisions named "head" (and, once
    main moved, two named "base"). The step names both sides by SHA, so each run compares the two
    commits of its own event, posts a comment and passes the gate; by name it would exit 2."""
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import plan, result, revision, write

    workflow = yaml.safe_load((EXAMPLE / "agent-eval.yml").read_text())
    step = _step(workflow, "Compare head with base")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "agent-eval").write_text(f"#!/bin/sh\nexec {sys.executable} -m agent_eval \"$@\"\n")
    (bin_dir / "agent-eval").chmod(0o755)
    base1, head1, head2, base2 = (revision(i).model_copy(update={"name": n, "ref": f"agent-eval-{n}"})
                                  for i, n in ((1, "base"), (2, "head"), (3, "head"), (4, "base")))
    tasks = [f"t{k}" for k in range(6)]
    stored = []
    for event, new in (({"base": base1.sha, "head": head1.sha}, [base1, head1]), ({"base": base1.sha, "head": head2.sha}, [head2]),
                       ({"base": base2.sha, "head": head2.sha}, [base2])):
        stored += new  # what `agent-eval run` adds to the restored store on this event
        write(tmp_path / "agent-eval-results", [result("org/m", rev, t, "bare").model_dump(mode="json") for rev in new for t in tasks],
              [plan("pr", ["org/m"], stored, tasks, ["bare"], 1)])
        out = tmp_path / "github_output"
        out.write_text("")
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(out),
               **{k: _github(v, event) for k, v in step["env"].items()}}
        done = subprocess.run(["bash", "-e", "-c", _github(step["run"], event)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        comment = (tmp_path / "comment.md").read_text()
        assert f"`head ({event['head'][:10]})` (head)" in comment and f"`base ({event['base'][:10]})` (base)" in comment
        assert out.read_text() == "gate=0\n"
    by_name = subprocess.run([sys.executable, "-m", "agent_eval", "compare", str(tmp_path / "agent-eval-results"), "--base", "base",
                              "--head", "head"], capture_output=True, text=True, timeout=60)
    assert by_name.returncode == 2 and "is ambiguous: it names 2" in by_name.stderr  # what the old step did


def test_a_push_to_main_runs_the_base_side_a_pr_reuses(tmp_path, minilib_repo):
    """The `base` job plans the suite with both branches at one commit: one revision, whose cells are
    exactly the base side of a PR into that commit (same run keys), in the cache a PR restores."""
    from agent_eval.run import plan

    workflow = yaml.safe_load((EXAMPLE / "agent-eval.yml").read_text())
    saved = next(s for s in workflow["jobs"]["base"]["steps"] if s.get("uses", "").startswith("actions/cache"))["with"]["key"]
    restored = next(s for s in workflow["jobs"]["compare"]["steps"] if s.get("uses", "").startswith("actions/cache"))["with"]["restore-keys"]
    assert saved.replace("github.sha", "github.event.pull_request.base.sha") in restored.splitlines()
    assert "--until-decided" in "\n".join(s.get("run", "") for s in workflow["jobs"]["compare"]["steps"])

    library = tmp_path / "library"
    subprocess.run(["git", "clone", "-q", str(minilib_repo), str(library)], check=True)
    shutil.copytree(EXAMPLE / "agent-eval", library / ".agent-eval")
    suite = library / ".agent-eval" / "suite.yaml"
    data = yaml.safe_load(suite.read_text())
    data["models"] = [{"id": "some-model", "base_url": "http://127.0.0.1:9/v1"}]
    suite.write_text(yaml.safe_dump(data))

    def cells(base: str, head: str) -> dict[str, str]:
        for branch, ref in (("agent-eval-base", base), ("agent-eval-head", head)):
            subprocess.run(["git", "-C", str(library), "branch", "-f", branch, ref], check=True, capture_output=True)
        made = plan.make(suite)
        return {c.key: c.revision.ref for c in made.todo}

    on_main = cells("v0.1", "v0.1")  # the push job: both branches at the pushed commit
    in_pr = cells("v0.1", "v0.2")
    assert set(on_main.values()) == {"agent-eval-base"}
    assert set(on_main) == {key for key, ref in in_pr.items() if ref == "agent-eval-base"}  # every base cell of the PR: none left to run
    assert len(in_pr) == 2 * len(on_main)  # the PR pays for its head only: half the suite's runs
