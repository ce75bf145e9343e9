"""A Skill's runs: activation (the agent read SKILL.md, by whatever tool, at whichever turn),
trigger queries graded on it, --until-activated ending a query's run at that read, expectations
judged one by one with evidence, deterministic assertions, arms as tiers (a tier's own Skill
folder; a checkout that leaves the Skill out) and compare's recall and false activation.
Real pi, the scripted model server (which also plays the judge), a real git history."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from agent_eval.grade import activation, graders
from agent_eval.grade.trace import Call, Trace
from agent_eval.suite.task import Task
from fake_model import Reply, Rule

SKILL = "---\nname: minilib\ndescription: Checksums of text with the minilib command. Use for any checksum question.\n---\n# minilib\nRun `minilib checksum TEXT`.\n"


def read_by(tool: str, **args) -> Trace:
    return Trace(calls=[Call(tool="bash", args={"command": "ls"}, turn=1), Call(tool=tool, args=args, turn=3)])


@pytest.mark.parametrize("tool, args", [
    ("read", {"path": "/tmp/x/skills/minilib/SKILL.md"}),
    ("bash", {"command": "cat ../skills/minilib/SKILL.md"}),
    ("bash", {"command": "head -n 20 /s/minilib/SKILL.md"}),
    ("bash", {"command": "sed -n '1,40p' /s/minilib/SKILL.md"}),
    ("bash", {"command": "less /s/minilib/SKILL.md"}),
    ("bash", {"command": "grep -n checksum /s/minilib/SKILL.md"}),
    ("bash", {"command": "python3 -c \"print(open('/s/minilib/SKILL.md').read())\""}),
    ("bash", {"command": "python - <<'EOF'\nfrom pathlib import Path\nprint(Path('/s/minilib/SKILL.md').read_text())\nEOF"}),
])
def test_a_read_of_skill_md_by_any_tool_is_an_activation_at_its_turn(tool, args):
    assert activation.first_read(read_by(tool, **args)) == 3


@pytest.mark.parametrize("tool, args, error", [
    ("bash", {"command": "ls /s/minilib"}, False),
    ("bash", {"command": "find / -name SKILL.md"}, False),
    ("read", {"path": "/s/minilib/README.md"}, False),
    ("read", {"path": "/s/minilib/SKILL.md"}, True),  # no such file: nothing was read
])
def test_a_mention_a_listing_or_a_failed_read_is_no_activation(tool, args, error):
    trace = read_by(tool, **args)
    trace.calls[-1].error = error
    assert activation.first_read(trace) is None


def test_assertions_look_in_the_answer_the_files_left_and_the_tools_called():
    task = Task(id="t", prompt="p", assertions=[
        {"text": "says the total", "contains": "TOTAL: 42"}, {"text": "a CSV with a header", "regex": r"^name,score$"},
        {"text": "used the CLI", "tool": "bash"}, {"text": "edited a file", "tool": "edit"}])
    outcome = graders.assertions(task, "the total: 42", [("out.csv", "name,score\nann,3\n")], {"bash": 2})
    assert [(c.passed, c.evidence) for c in outcome.checks] == [
        (True, "found in the answer"), (True, "found in out.csv"), (True, "bash: 2 calls"), (False, "edit never called (called: bash)")]
    assert (outcome.kind, outcome.status, outcome.score) == ("assertions", "failed", 0.75)


@pytest.fixture
def skill_project(project, fake):
    """Arms as tiers: the Skill from the profile's own folder (with_skill), nothing (without_skill)."""
    project.write("profiles/minilib/skills/with_skill/minilib/SKILL.md", SKILL)
    project.profile(tiers={"without_skill": {}, "with_skill": {"skill_dir": "skills/with_skill/minilib"}})
    cat = Reply(tool="bash", args={"command": "cat {skill_location}"})
    ls, done = Reply(tool="bash", args={"command": "ls"}), Reply(text="checked: {last_tool_output}")
    fake.rules[:0] = [
        Rule("## Expectations", [Reply(text='{{"expectations": [{{"text": "x", "passed": true, "evidence": "total.csv says total,42"}}, '
                                             '{{"text": "y", "passed": false, "evidence": "no chart was made"}}]}}')]),  # the judge, first: its prompt quotes the task's
        Rule("QUERY-LATE", [ls, cat, ls, ls, done], system_contains="<available_skills>"),  # reads the Skill at turn 2, then goes on
        Rule("QUERY-NEAR", [cat, done], system_contains="<available_skills>"),  # a near miss that reads it all the same
        Rule("QUERY-", [ls, done]),  # never reads it (and without the Skill, nothing to read)
        Rule("CASE-SUM", [Reply(tool="bash", args={"command": "echo 'total,42' > total.csv"}), Reply(text="The total is 42.")]),
    ]
    project.task("query-01", prompt="QUERY-LATE checksum of 'a'?", trigger=True, tags=["query", "should-trigger"])
    project.task("query-02", prompt="QUERY-NEAR what is a checksum, in general?", trigger=False, tags=["query", "should-not-trigger"])
    project.task("query-03", prompt="QUERY-NEVER the minilib checksum of 'b'?", trigger=True, tags=["query", "should-trigger"])
    project.task("eval-sum", prompt="CASE-SUM write the total to total.csv", tags=["eval", "eval:sum"],
                 judge={"model": "strict", "expectations": ["total.csv holds the total 42", "a chart of the totals is saved"], "files": True},
                 assertions=[{"text": "total.csv has the total", "regex": "^total,42$"}, {"text": "ran a command", "tool": "bash"}])
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["without_skill", "with_skill"], tasks=["*-*"],
                  budgets={"timeout": 60, "until_activated": True},
                  judges={"strict": {"id": "judge-model", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}})
    return project


def stored(project) -> dict[tuple[str, str], dict]:
    found = [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")]
    return {(r["cell"]["tier"], r["cell"]["task"]["id"]): r for r in found}


def test_skill_arms_activation_until_activated_expectations_and_compare(skill_project, fake):
    done = skill_project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    runs = stored(skill_project)

    late = runs["with_skill", "query-01"]
    assert (late["activated_at"], late["ended_by"], late["status"]) == (2, "activated", "ok")
    assert late["requests"] == 3  # the third request found SKILL.md read and ended the run: two of the script's five never sent
    assert [(g["kind"], g["status"]) for g in late["graders"]] == [("trigger", "passed")] and late["matched"] is True
    near = runs["with_skill", "query-02"]
    assert near["activated_at"] == 1 and near["matched"] is False  # should not have triggered, and did
    never = runs["with_skill", "query-03"]
    assert never["activated_at"] is None and never["ended_by"] is None and never["matched"] is False and never["answer"].startswith("checked")
    assert all(runs["without_skill", q]["activated_at"] is None for q in ("query-01", "query-02", "query-03"))

    case = runs["with_skill", "eval-sum"]
    judged, asserted = next(g for g in case["graders"] if g["kind"] == "judge"), next(g for g in case["graders"] if g["kind"] == "assertions")
    assert [(c["name"], c["passed"], c["evidence"]) for c in judged["checks"]] == [
        ("total.csv holds the total 42", True, "total.csv says total,42"), ("a chart of the totals is saved", False, "no chart was made")]
    assert (judged["score"], judged["status"]) == (0.5, "passed")  # threshold 0.5: half the expectations met
    assert [c["passed"] for c in asserted["checks"]] == [True, True] and asserted["status"] == "passed"
    assert case["score"] == 0.75 and case["ended_by"] is None  # until_activated ends trigger queries only

    shown = skill_project.cli("compare", "--axis", "tier", "--base", "without_skill", "--head", "with_skill", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    metrics = {m["metric"]: m for m in orjson.loads(shown.stdout)["metrics"]}
    assert (metrics["recall"]["base"], metrics["recall"]["head"], metrics["recall"]["n_tasks"]) == (0.0, 50.0, 2)
    assert (metrics["false_activation"]["base"], metrics["false_activation"]["head"], metrics["false_activation"]["n_tasks"]) == (0.0, 100.0, 1)


def test_a_tier_can_leave_the_skill_out_of_its_checkout_and_its_history(project, fake):
    project.profile(tiers={"clean": {"checkout": True, "exclude": ["skills"]}})
    fake.rules.insert(0, Rule("LOOK", [Reply(tool="bash", args={"command": "ls minilib; ls minilib/skills 2>&1; git -C minilib log --oneline | wc -l; "
                                                                            "git -C minilib log --all -p | grep -c SKILL.md; true"}),
                                       Reply(text="seen: {last_tool_output}")]))
    project.task("look", prompt="LOOK around")
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["clean"], tasks=["look"])
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    (result,) = stored(project).values()
    assert "minilib" in result["answer"] and "cannot access 'minilib/skills'" in result["answer"], result["answer"]
    assert result["answer"].split()[-2:] == ["1", "0"]  # one commit, and no SKILL.md anywhere in the history
    assert subprocess.run(["git", "-C", str(project.repo), "cat-file", "-e", "main:skills/minilib/SKILL.md"]).returncode == 0
