"""The readers of a Skill suite: the summary's numbers, flags and intervals, and the guide's workspace
files, from stores whose result.json files are written through the project's own Store and records."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import orjson
import pytest

from agent_eval.read import skill_stats, skill_summary, skill_workspace
from agent_eval.read.skill_runs import SkillReadError
from agent_eval.run import workfiles
from agent_eval.store.records import Cell, Check, Grader, Result, Revision, Tokens
from agent_eval.store.store import Store
from agent_eval.suite.config import Budgets, ModelSpec
from agent_eval.suite.task import Assertion, Judge, Task

SUITE = "skill-demo"
REV = Revision(ref="main", name="main", sha="c0ffee" * 6 + "abcd")


class Suite:
    """A store being filled with one suite's runs, and its plan.json."""

    def __init__(self, root: Path):
        self.root, self.store, self.cells, self.models = root, Store(root), [], {}

    def run(self, task: Task, arm: str, repeat: int = 0, *, model: str = "org/coder", checks=(), activated_at: int | None = None,
            status: str = "ok", tokens: int = 1000, seconds: float = 2.0, files: dict[str, str] | None = None, grader_error: bool = False,
            answer: str = "done") -> Result:
        key = hashlib.sha256(repr((model, task.id, arm, repeat)).encode()).hexdigest()
        cell = Cell(key=key, suite=SUITE, profile="lib", model=ModelSpec(id=model, name=model.split("/")[-1]), revision=REV, task=task,
                    tier=arm, repeat=repeat, budgets=Budgets(), thinking="off", agent_version="0.73.1")
        folder = self.store.start(cell)
        listing = []
        if files:
            work = self.root.parent / f"work-{key[:8]}"
            work.mkdir()
            before = workfiles.baseline(work)
            for name, text in files.items():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_text(text)
            listing, _ = workfiles.keep(work, before, folder)
        graders = []
        if checks or grader_error:
            share = sum(p for _, p, _ in checks) / len(checks) if checks else None
            graders.append(Grader(kind="judge", status="error" if grader_error else "passed" if share == 1 else "failed", score=share,
                                  checks=[Check(name=t, passed=p, evidence=e) for t, p, e in checks]))
        if task.trigger is not None:
            graders.append(Grader(kind="trigger", status="passed" if (activated_at is not None) == task.trigger else "failed"))
        result = Result(cell=cell, status=status, answer=answer, agent_seconds=seconds, wall_seconds=seconds + 1, turns=3,
                        tokens=Tokens(new=tokens // 2, cached=tokens // 4, generated=tokens - tokens // 2 - tokens // 4), graders=graders,
                        activated_at=activated_at, files=listing, finished_at="2026-12-06T00:00:00+00:00")
        self.store.finish(result)
        self.cells.append(key)
        self.models[model] = None
        return result

    def plan(self, tiers=("with_skill", "without_skill", "old_skill")) -> None:
        plan = {"suite": SUITE, "profile": "lib", "revisions": [REV.model_dump()], "models": [{"id": m} for m in self.models],
                "repeats": 1, "tiers": list(tiers), "cells": self.cells}
        (self.root / "suites" / SUITE).mkdir(parents=True, exist_ok=True)
        (self.root / "suites" / SUITE / "plan.json").write_bytes(orjson.dumps(plan))


def case(original: str, *expectations: str, task_id: str | None = None) -> Task:
    return Task(id=task_id or f"eval-{original}", prompt=f"Please do case {original}.", tags=["eval", f"eval:{original}"],
                judge=Judge(model="judge", expectations=list(expectations), files=True, threshold=1.0),
                assertions=[])


def query(n: int, should: bool) -> Task:
    return Task(id=f"query-{n:02d}", prompt=f"query number {n}", tags=["query", "should-trigger" if should else "should-not-trigger"],
                trigger=should, repeats=3)


@pytest.fixture
def demo(tmp_path) -> Suite:
    """Known truths. Queries (3 repeats): with_skill activates on all 10 should-trigger queries and on
    1 of 3 runs of one should-not-trigger query; old_skill on 3 of the 10 (every repeat), never on
    the others; without_skill never. Eval cases (2 repeats): expectation "A" passes everywhere, "B"
    only with the Skill (flaky in case 4: passes r0, fails r1), case 5's "C" fails everywhere. One
    without_skill run reads a SKILL.md (a leak), one is a setup error, one could not be graded."""
    s = Suite(tmp_path / "store")
    for n in range(20):
        should = n < 10
        for r in range(3):
            s.run(query(n, should), "with_skill", r, activated_at=2 if should or (n == 10 and r == 0) else None)
            s.run(query(n, should), "old_skill", r, activated_at=1 if should and n < 3 else None)
            s.run(query(n, should), "without_skill", r)
    for c in range(6):
        texts = ["A", f"B{c}"] + (["C"] if c == 5 else [])
        task = case(str(c), *texts)
        for r in range(2):
            flaky = c == 4 and r == 1
            s.run(task, "with_skill", r, checks=[("A", True, "ok"), (f"B{c}", not flaky, "why")] + ([("C", False, "no")] if c == 5 else []),
                  files={"report.md": f"case {c} run {r}"}, tokens=3000, seconds=4.0)
            for arm in ("without_skill", "old_skill"):
                s.run(task, arm, r, checks=[("A", True, "ok"), (f"B{c}", False, "missing")] + ([("C", False, "no")] if c == 5 else []),
                      tokens=1000, seconds=2.0, activated_at=5 if (arm, c, r) == ("without_skill", 2, 1) else None)
    s.run(case("9", "Z"), "with_skill", 0, status="setup_error")
    s.run(case("8", "Y"), "old_skill", 0, grader_error=True)
    s.plan()
    return s


def test_the_summary_says_the_known_truths(demo):
    summary = skill_summary.summarize(demo.root, SUITE)
    stats = {s.arm: s for s in summary.stats}
    assert summary.arms == ["with_skill", "without_skill", "old_skill"] and summary.skipped == 1
    assert stats["with_skill"].recall.value == 1.0 and stats["with_skill"].recall.n == 10 and stats["with_skill"].recall.runs == 30
    assert stats["old_skill"].recall.value == pytest.approx(0.3) and stats["without_skill"].recall.value == 0
    assert stats["with_skill"].false_activation.value == pytest.approx(1 / 30)
    assert stats["with_skill"].precision.value == pytest.approx(1 / (1 + 1 / 30))
    assert stats["old_skill"].precision.value == 1.0 and stats["without_skill"].precision.value is None
    # pass rate: mean over cases of each case's mean over its repeats
    assert stats["with_skill"].pass_rate.value == pytest.approx((4 + 0.75 + 2 / 3) / 6) and stats["with_skill"].pass_rate.n == 6
    assert stats["without_skill"].pass_rate.value == pytest.approx((5 * 0.5 + 1 / 3) / 6)
    assert stats["old_skill"].pass_rate.n == 6  # the case a grader could not grade is left out, not a miss
    low, high = stats["with_skill"].pass_rate.low, stats["with_skill"].pass_rate.high
    assert low < stats["with_skill"].pass_rate.value < high <= 1
    # every should-trigger query activated: the exact bound of 10 of 10 clusters, not a zero-width interval
    assert stats["with_skill"].recall.high == 1 and stats["with_skill"].recall.low == pytest.approx(0.025 ** 0.1)
    deltas = {(d.base, d.metric): d for d in summary.deltas}
    assert deltas["without_skill", "pass_rate"].change == pytest.approx((4 + 0.75 + 2 / 3) / 6 - (5 * 0.5 + 1 / 3) / 6)
    assert deltas["without_skill", "pass_rate"].verdict == "higher" and deltas["without_skill", "pass_rate"].n == 6
    assert deltas["old_skill", "recall"].change == pytest.approx(0.7) and deltas["old_skill", "recall"].low > 0.3
    # every query went from never to always: at least 69% of all queries would (10 of 10), the rest anything
    everyone = deltas["without_skill", "recall"]
    assert (everyone.change, everyone.high, everyone.verdict) == (1.0, 1.0, "higher") and everyone.low == pytest.approx(2 * 0.025 ** 0.1 - 1)
    assert deltas["old_skill", "false_activation"].change == pytest.approx(1 / 30) and deltas["old_skill", "false_activation"].n == 10


def test_queries_flags_and_leaks(demo):
    summary = skill_summary.summarize(demo.root, SUITE)
    q = {(x.arm, x.query): x for x in summary.queries}
    assert q["with_skill", "query-00"].trigger_rate == 1 and q["with_skill", "query-00"].passed and not q["with_skill", "query-00"].near
    ten = q["with_skill", "query-10"]
    assert (ten.triggers, ten.runs, ten.passed, ten.near, ten.should_trigger) == (1, 3, True, True, False)
    assert not q["old_skill", "query-05"].passed and q["old_skill", "query-02"].passed
    flags = {(f.case, f.text, f.flag) for f in summary.flags}
    assert ("0", "A", "passes in every arm") in flags and ("5", "C", "fails in every arm") in flags
    assert ("4", "B4", "flaky") in flags and not any(t == "B0" for _, t, _ in flags)
    assert [(x.task, x.repeat, x.activated_at) for x in summary.leaks] == [("eval-2", 1, 5)]
    shown = skill_summary.text(summary)
    assert "with_skill − without_skill: pass rate +43 pts" in shown and "leak:" in shown and "1/3 pass ~" in shown
    assert json.loads(json.dumps(summary.model_dump(mode="json")))["stats"][0]["arm"] == "with_skill"


def test_the_workspace_has_the_guides_layout_and_shapes(demo, tmp_path):
    dest = tmp_path / "demo-workspace"
    [first] = skill_workspace.write(demo.root, SUITE, dest)
    assert first == dest / "iteration-1"
    evals = sorted(p.name for p in first.iterdir() if p.is_dir())
    assert evals == [f"eval-{c}" for c in range(6)] + ["eval-8"]
    run = first / "eval-4" / "with_skill" / "run-2"
    assert sorted(p.name for p in run.iterdir()) == ["grading.json", "outputs", "timing.json"]
    assert (run / "outputs" / "report.md").read_text() == "case 4 run 1" and (run / "outputs" / "answer.md").read_text() == "done"
    grading = json.loads((run / "grading.json").read_text())
    assert set(grading) == {"expectations", "summary"}
    assert grading["expectations"] == [{"text": "A", "passed": True, "evidence": "ok"}, {"text": "B4", "passed": False, "evidence": "why"}]
    assert {k: grading["summary"][k] for k in ("passed", "failed", "total", "pass_rate")} == {"passed": 1, "failed": 1, "total": 2, "pass_rate": 0.5}
    timing = json.loads((run / "timing.json").read_text())
    assert (timing["total_tokens"], timing["duration_ms"]) == (3000, 4000)
    assert isinstance(timing["total_tokens"], int) and isinstance(timing["duration_ms"], int)
    assert not (first / "eval-8" / "old_skill" / "run-1").exists() and (first / "eval-8" / "old_skill" / "grading.json").is_file()  # one repeat
    bench = json.loads((first / "benchmark.json").read_text())
    summary = bench["run_summary"]
    assert set(summary) == {"with_skill", "without_skill", "old_skill", "delta"}
    for arm in ("with_skill", "without_skill", "old_skill"):
        for field in ("pass_rate", "time_seconds", "tokens"):
            assert {"mean", "stddev"} <= set(summary[arm][field]) and all(isinstance(summary[arm][field][k], (int, float)) for k in ("mean", "stddev"))
    assert summary["with_skill"]["tokens"] == {"mean": 3000, "stddev": 0.0} and summary["with_skill"]["time_seconds"]["mean"] == 4.0
    assert summary["with_skill"]["pass_rate"]["mean"] == pytest.approx((4 + 0.75 + 2 / 3) / 6)
    assert summary["with_skill"]["pass_rate"]["ci95_low"] < summary["with_skill"]["pass_rate"]["mean"]  # ours, beside the guide's
    assert summary["delta"]["tokens"] == 2000 and summary["delta"]["time_seconds"] == 2.0 and summary["delta"]["baseline"] == "without_skill"
    assert summary["delta"]["pass_rate"] == pytest.approx(bench["deltas"]["with_skill-without_skill"]["pass_rate"]["change"])
    assert bench["deltas"]["with_skill-old_skill"]["recall"]["change"] == pytest.approx(0.7)
    triggers = json.loads((first / "triggers.json").read_text())
    assert {"query", "should_trigger", "triggers", "runs", "trigger_rate"} <= set(triggers[0]) and len(triggers) == 60
    _every_file_has_the_guides_shape(first)
    assert skill_workspace.write(demo.root, SUITE, dest) == [dest / "iteration-2"]  # the next free number


def _every_file_has_the_guides_shape(iteration: Path) -> None:
    """Each timing.json and grading.json, field by field, as the guide writes them (extra fields of ours allowed)."""
    runs = [p.parent for p in iteration.rglob("grading.json")]
    assert runs and all(p.name in ("with_skill", "without_skill", "old_skill") or p.name.startswith("run-") for p in runs)
    for run in runs:
        assert (run / "outputs").is_dir() and (run / "timing.json").is_file()
        timing = json.loads((run / "timing.json").read_text())
        assert isinstance(timing["total_tokens"], int) and isinstance(timing["duration_ms"], int)
        grading = json.loads((run / "grading.json").read_text())
        for item in grading["expectations"]:
            assert set(item) == {"text", "passed", "evidence"}
            assert isinstance(item["text"], str) and isinstance(item["passed"], bool) and isinstance(item["evidence"], str)
        summary = grading["summary"]
        assert all(isinstance(summary[k], int) and not isinstance(summary[k], bool) for k in ("passed", "failed", "total"))
        assert summary["passed"] + summary["failed"] == summary["total"] == len(grading["expectations"])
        assert isinstance(summary["pass_rate"], float) and summary["pass_rate"] == pytest.approx(summary["passed"] / summary["total"])
    bench = json.loads((iteration / "benchmark.json").read_text())["run_summary"]
    assert all(isinstance(bench["delta"][k], (int, float)) for k in ("pass_rate", "time_seconds", "tokens"))


def test_several_models_get_a_workspace_each_and_bad_input_is_one_line(tmp_path):
    s = Suite(tmp_path / "store")
    s.plan()
    assert skill_workspace.write(s.root, SUITE, tmp_path / "ws") == []  # nothing run yet: nothing written
    for model in ("org/a", "org/b"):
        s.run(case("x/y", "E", task_id="eval-x-y-1a2b3c"), "with_skill", model=model, checks=[("E", True, "seen")],
              files={"answer.md": "the agent's own", "sub/out.csv": "a,b"})
    s.plan()
    written = skill_workspace.write(s.root, SUITE, tmp_path / "ws")
    assert written == [tmp_path / "ws" / "org--a" / "iteration-1", tmp_path / "ws" / "org--b" / "iteration-1"]
    outputs = written[0] / "eval-x-y-1a2b3c" / "with_skill" / "outputs"  # an id that is no folder name: the task's id
    assert (outputs / "answer.md").read_text() == "the agent's own" and (outputs / "answer.agent-eval.md").read_text() == "done"
    assert (outputs / "sub" / "out.csv").read_text() == "a,b"
    with pytest.raises(SkillReadError, match="plan.json: not found"):
        skill_summary.summarize(s.root, "nope")


def test_a_run_that_ended_before_grading_fails_its_declared_expectations(tmp_path):
    s = Suite(tmp_path / "store")
    task = Task(id="eval-t", prompt="p", tags=["eval", "eval:t"], judge=Judge(model="j", expectations=["E1", "E2"]),
                assertions=[Assertion(text="calls bash", tool="bash")])
    s.run(task, "with_skill", status="timeout")
    s.plan()
    [it] = skill_workspace.write(s.root, SUITE, tmp_path / "ws")
    grading = json.loads((it / "eval-t" / "with_skill" / "grading.json").read_text())
    assert [e["text"] for e in grading["expectations"]] == ["E1", "E2", "calls bash"] and grading["summary"]["pass_rate"] == 0
    assert skill_summary.summarize(s.root, SUITE).stats[0].pass_rate.value == 0


# --- the intervals against known truths, by simulation -----------------------------------------------


def _rates(rng: random.Random, ps: list[float], repeats: int = 3) -> list[float]:
    return [sum(rng.random() < p for _ in range(repeats)) / repeats for p in ps]


def test_the_rate_interval_covers_the_truth_95_percent_of_the_time():
    rng, hits, sims = random.Random(1), 0, 2000
    for _ in range(sims):  # 10 queries whose rates vary (uniform 0.2–1.0: mean 0.6), 3 repeats each
        _, low, high = skill_stats.mean_ci(_rates(rng, [rng.uniform(0.2, 1.0) for _ in range(10)]))
        hits += low <= 0.6 <= high
    assert 0.925 <= hits / sims <= 0.975


def test_a_rare_false_activation_is_covered_too():
    rng, hits, sims = random.Random(2), 0, 2000
    for _ in range(sims):  # every query fires 5% of the time: often no run fires at all
        _, low, high = skill_stats.mean_ci(_rates(rng, [0.05] * 10))
        hits += low <= 0.05 <= high
    assert hits / sims >= 0.93


def test_the_precision_interval_is_conservative():
    rng, hits, sims = random.Random(3), 0, 2000
    truth = 0.75 / (0.75 + 0.15)  # recall: uniform 0.5–1.0; false activation: uniform 0–0.3; 10 queries each
    for _ in range(sims):
        _, low, high = skill_stats.precision_ci(_rates(rng, [rng.uniform(0.5, 1.0) for _ in range(10)]),
                                                _rates(rng, [rng.uniform(0.0, 0.3) for _ in range(10)]))
        hits += low <= truth <= high
    assert hits / sims >= 0.95


def test_the_paired_delta_covers_the_truth():
    rng, hits, sims = random.Random(4), 0, 1000
    for _ in range(sims):  # with the Skill every query fires 0.4 more often than without it
        base = [rng.uniform(0.0, 0.5) for _ in range(10)]
        m = skill_stats.delta("recall", "up", {f"q{i}": [float(rng.random() < p) for _ in range(3)] for i, p in enumerate(base)},
                              {f"q{i}": [float(rng.random() < p + 0.4) for _ in range(3)] for i, p in enumerate(base)})
        hits += m.ci_low <= 0.4 <= m.ci_high
    assert 0.925 <= hits / sims <= 0.975



def test_a_delta_where_most_queries_move_all_the_way_is_covered():
    rng, hits, sims, agreed = random.Random(5), 0, 2000, 0
    for _ in range(sims):  # 90% of queries go from never to always firing, the others never fire: often all 10 sampled moved
        moved = [rng.random() < 0.9 for _ in range(10)]
        m = skill_stats.delta("recall", "up", {f"q{i}": [0.0] * 3 for i in range(10)}, {f"q{i}": [float(x)] * 3 for i, x in enumerate(moved)})
        hits += m.ci_low <= 0.9 <= m.ci_high
        agreed += all(moved)
    assert agreed > 0.3 * sims and hits / sims >= 0.95

# --- end to end: a suite run by the real runner (real pi, the scripted model) --------------------------


def test_a_real_run_of_arms_gives_the_guides_files(project, fake):
    from fake_model import Reply, Rule

    fake.rules.insert(0, Rule("WRITE THE REPORT", [Reply(tool="bash", args={"command": "mkdir -p out && echo '# top 3' > out/report.md"}),
                                                   Reply(text="report written")]))
    project.profile(tiers={"with_skill": {"skill": True}, "without_skill": {}})
    project.task("eval-top-3", prompt="WRITE THE REPORT of the top 3", expected="report written", tags=["eval", "eval:top-3"])
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["with_skill", "without_skill"], tasks=["eval-top-3"], repeats=2)
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr

    summary = skill_summary.summarize(project.store, "test")
    assert [(s.arm, s.pass_rate.value, s.pass_rate.runs) for s in summary.stats] == [("with_skill", 1.0, 2), ("without_skill", 1.0, 2)]
    [it] = skill_workspace.write(project.store, "test", project.root / "workspace")
    run = it / "eval-top-3" / "without_skill" / "run-2"
    assert (run / "outputs" / "out" / "report.md").read_text() == "# top 3\n" and (run / "outputs" / "answer.md").read_text() == "report written"
    grading = json.loads((run / "grading.json").read_text())
    assert grading["expectations"][0]["passed"] is True and grading["summary"]["pass_rate"] == 1.0
    assert json.loads((run / "timing.json").read_text())["total_tokens"] > 0
    _every_file_has_the_guides_shape(it)
