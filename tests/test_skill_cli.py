"""`agent-eval skill run`: a Skill folder in its own git history, its evals.json and trigger queries,
run in three arms (the Skill now, at the revision before, and none) on the library's suite; then
compare on the three metrics, the guide's files out, and bad input refused before anything is
stored. Real pi, the scripted model server (the agent and the judge), real git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import orjson
import pytest

from fake_model import Reply, Rule

NEW = "---\nname: minilib\ndescription: Checksums of any text with the minilib command. Use for every checksum question.\n---\nRun `minilib checksum TEXT`.\n"
OLD = "---\nname: minilib\ndescription: Notes.\n---\nminilib has a checksum function.\n"
CASES = {"skill_name": "minilib", "evals": [
    {"id": 1, "prompt": "CASE-ONE: the checksum of 'agent'?", "expected_output": "the checksum",
     "expectations": ["The answer gives the checksum", {"type": "tool_use", "tool": "bash"}]},
    {"id": "two", "prompt": "CASE-TWO: write the checksum of 'agent' to sum.txt", "assertions": [{"type": "content_contains", "value": "checksum"}]},
]}
QUERIES = [{"query": f"QUERY-YES {n}: the minilib checksum of '{n}'?", "should_trigger": True} for n in range(4)] + [
    {"query": f"QUERY-NO {n}: what is a hash function?", "should_trigger": False} for n in range(4)]


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


@pytest.fixture
def skill(project, fake) -> Path:
    """skills/minilib in a repository of its own: OLD at the first commit, NEW (and the evals) at the second."""
    repo = project.root / "skill-repo"
    folder = repo / "skills" / "minilib"
    (folder / "evals").mkdir(parents=True)
    git(repo, "init", "-q")
    (folder / "SKILL.md").write_text(OLD)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "old")
    (folder / "SKILL.md").write_text(NEW)
    (folder / "evals" / "evals.json").write_text(json.dumps(CASES))
    (folder / "evals" / "eval_queries.json").write_text(json.dumps(QUERIES))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "new")
    cat, ls = Reply(tool="bash", args={"command": "cat {skill_location}"}), Reply(tool="bash", args={"command": "ls"})
    fake.rules[:0] = [
        Rule("## Expectations", [Reply(text='{{"expectations": [{{"text": "a", "passed": true, "evidence": "it printed the checksum"}}]}}')]),
        Rule("QUERY-YES", [cat, ls, Reply(text="done")], system_contains="every checksum question"),  # only the new description draws it
        Rule("QUERY-", [ls, Reply(text="done")]),
        Rule("CASE-ONE", [Reply(tool="bash", args={"command": "minilib checksum agent"}), Reply(text="The checksum is {last_tool_output}.")]),
        Rule("CASE-TWO", [Reply(tool="bash", args={"command": "minilib checksum agent > sum.txt"}), Reply(text="Wrote the checksum.")]),
    ]
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], budgets={"timeout": 60},
                  judges={"strict": {"id": "judge-model", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}})
    return folder


def test_a_skill_runs_in_three_arms_and_compares_on_its_three_metrics(project, skill, fake):
    done = project.cli("skill", "run", str(skill), "--suite", "suite.yaml", "--old", "HEAD~1", "--until-activated", "--query-repeats", "2",
                       "--workspace", "ws")
    assert done.returncode == 0, done.stderr
    assert "arms: without_skill, with_skill, old_skill" in done.stderr
    assert "recall" in done.stdout and "false activation" in done.stdout.replace("_", " "), done.stdout  # the Skill's summary
    grading = orjson.loads((project.root / "ws/iteration-1/eval-1/with_skill/grading.json").read_bytes())
    assert {"text": "The answer gives the checksum", "passed": True, "evidence": "it printed the checksum"} in grading["expectations"]
    assert {"text": "tool 'bash'", "passed": True, "evidence": "bash: 1 call"} in grading["expectations"]
    assert set(grading["summary"]) >= {"passed", "failed", "total", "pass_rate"}
    assert set(orjson.loads((project.root / "ws/iteration-1/eval-1/with_skill/timing.json").read_bytes())) >= {"total_tokens", "duration_ms"}
    summary = orjson.loads((project.root / "ws/iteration-1/benchmark.json").read_bytes())["run_summary"]
    assert {"with_skill", "without_skill", "old_skill", "delta"} <= set(summary) and set(summary["with_skill"]) >= {"pass_rate", "time_seconds", "tokens"}
    generated = project.root / "skill-evals" / "minilib"
    assert "Notes." in (generated / "profiles/minilib/skills/old_skill/minilib/SKILL.md").read_text()
    assert not (generated / "profiles/minilib/skills/with_skill/minilib/evals").exists()  # the agent never sees the expected outputs

    runs = [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")]
    assert len(runs) == 3 * (2 + 8 * 2)  # arms × (cases + queries × repeats)
    by = lambda tier, prefix: [r for r in runs if r["cell"]["tier"] == tier and r["cell"]["task"]["id"].startswith(prefix)]  # noqa: E731
    assert all(r["activated_at"] == 1 and r["ended_by"] == "activated" and r["requests"] == 2 for r in by("with_skill", "query-0"[:6]) if r["cell"]["task"]["trigger"])
    assert all(r["activated_at"] is None for r in by("old_skill", "query") + by("without_skill", "query"))
    judged = [g for r in by("with_skill", "eval-1") for g in r["graders"] if g["kind"] == "judge"]
    assert [(c["name"], c["evidence"]) for c in judged[0]["checks"]] == [("The answer gives the checksum", "it printed the checksum")]

    again = project.cli("skill", "run", str(skill), "--suite", "suite.yaml", "--old", "HEAD~1", "--until-activated", "--query-repeats", "2")
    assert again.returncode == 0 and "0 to run" in again.stderr, again.stderr  # the same files: the same run keys, nothing run twice
    (skill / "SKILL.md").write_text(NEW + "More examples below.\n")
    edited = project.cli("skill", "run", str(skill), "--suite", "suite.yaml", "--old", "HEAD~1", "--until-activated", "--query-repeats", "2")
    assert edited.returncode == 0 and "36 done, 18 to run" in edited.stderr, edited.stderr  # only with_skill's cells: the other arms stand

    compared = project.cli("compare", "--axis", "tier", "--base", "old_skill", "--head", "with_skill", "--format", "json")
    assert compared.returncode == 0, compared.stderr
    metrics = {m["metric"]: m for m in orjson.loads(compared.stdout)["metrics"]}
    assert (metrics["recall"]["base"], metrics["recall"]["head"], metrics["recall"]["n_tasks"]) == (0.0, 100.0, 4)
    assert (metrics["false_activation"]["head"], metrics["false_activation"]["n_tasks"]) == (0.0, 4)
    assert metrics["score"]["n_tasks"] == 2 and {"score", "recall", "false_activation"} <= {m["metric"] for m in metrics.values() if m["primary"]}


@pytest.mark.parametrize("break_it, message", [
    (lambda f: (f / "evals" / "evals.json").write_text("{not json"), "evals.json"),
    (lambda f: (f / "evals" / "evals.json").write_text(json.dumps({"evals": [{"id": 1}]})), "prompt"),
    (lambda f: (f / "evals" / "evals.json").write_text(json.dumps({"evals": [{"id": 1, "prompt": "a"}, {"id": 1, "prompt": "b"}]})), "1"),
    (lambda f: (f / "evals" / "evals.json").write_text(json.dumps({"evals": [{"id": 1, "prompt": "a", "files": ["nope.csv"]}]})), "nope.csv"),
    (lambda f: (f / "evals" / "eval_queries.json").write_text(json.dumps([{"query": "q", "should_trigger": "yes"}])), "should_trigger"),
    (lambda f: (f / "SKILL.md").unlink(), "SKILL.md"),
])
def test_bad_eval_files_are_one_line_exit_2_and_nothing_is_stored(project, skill, break_it, message):
    break_it(skill)
    done = project.cli("skill", "run", str(skill), "--suite", "suite.yaml")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not project.store.exists() and not (project.root / "skill-evals").exists()


def test_an_old_revision_without_the_skill_is_one_line(project, skill):
    done = project.cli("skill", "run", str(skill), "--suite", "suite.yaml", "--old", "no-such-ref")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--old no-such-ref" in done.stderr, done.stderr


def test_the_arms_copies_of_the_skill_leave_its_eval_files_out(bare_project, tmp_path):
    from agent_eval.suite import skill_arms

    folder = tmp_path / "minilib"
    (folder / "evals").mkdir(parents=True)
    (folder / "SKILL.md").write_text(NEW)
    (folder / "reference.md").write_text("more")
    (folder / "evals" / "evals.json").write_text(json.dumps(CASES))
    (folder / "trigger_queries.json").write_text(json.dumps(QUERIES))  # a query set beside SKILL.md, not under evals/: found unnamed
    made = skill_arms.generate(folder, bare_project.root / "suite.yaml", tmp_path / "out")
    given = tmp_path / "out/profiles/minilib/skills/with_skill/minilib"
    assert sorted(p.name for p in given.iterdir()) == ["SKILL.md", "reference.md"] and made.arms == ["without_skill", "with_skill"]
    assert len(list((tmp_path / "out/tasks/minilib").glob("query-*.yaml"))) == 8


def test_a_suite_the_runner_refuses_is_its_one_line_and_no_summary(project, skill):
    project.suite(models=["local/no-such-model"], revisions=[{"ref": "main", "name": "Skill"}])
    done = project.cli("skill", "run", str(skill), "--suite", "suite.yaml")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert done.returncode == 2 and len(errors) == 1 and "unknown local model" in errors[0], done.stderr
    assert done.stdout == "" and not project.store.exists()
