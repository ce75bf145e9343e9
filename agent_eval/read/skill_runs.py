"""The runs of a generated Skill suite (`agent-eval skill run`), as the Skill readers use them.

    load(store: Path, suite: str) -> Loaded    # every counted run of the suite, one SkillRun each

A suite's runs are those its plan.json lists (`cells`), found through the store's index and read from
their result.json files: a Skill suite has a few hundred, and each one's checks (an expectation's
verdict and evidence) are wanted, which the index does not hold. Runs the harness or the provider failed (setup_error, infra_error)
are not the agent's work: they are counted in `skipped`, never read as a miss.

A task is an eval case when tagged "eval" (its original id from the tag "eval:<id>"), a trigger
query when it has `trigger:` (or is tagged "query"); anything else is kept as kind "other".
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel

from agent_eval.store import index
from agent_eval.store.records import RETRIED, Result
from agent_eval.store.store import BadRecord, read_result

GRADED = ("answer", "verify", "judge", "assertions")  # what an eval case is graded by; "trigger" is a query's


class SkillReadError(Exception):
    """Bad input: one line for the user (the CLI exits 2 with it)."""


class Item(BaseModel):
    """One expectation's verdict in one run: an item of the guide's grading.json."""

    text: str
    passed: bool
    evidence: str = ""


class SkillRun(BaseModel):
    folder: str  # the run folder, relative to the store
    model: str  # model id
    model_name: str
    sha: str  # the library revision
    arm: str  # the tier: with_skill, without_skill, old_skill
    task: str  # the task id
    kind: Literal["eval", "query", "other"]
    case: str  # an eval case's original id; a query's task id; else the task id
    prompt: str
    repeat: int
    status: str
    items: list[Item] = []  # an eval case's expectations, each with this run's verdict
    pass_rate: float | None = None  # share of items passed; None: a grader could not grade, or nothing to grade
    activated_at: int | None = None
    trigger: bool | None = None  # a query's should_trigger
    tokens: int | None = None  # new + cached + generated, as the metering proxy saw them; None: not reported
    seconds: float = 0.0  # the agent's process (agent_seconds)
    answer: str = ""

    @property
    def activated(self) -> bool:
        return self.activated_at is not None


class Loaded(BaseModel):
    suite: str
    runs: list[SkillRun]
    skipped: int = 0  # setup and infra errors: not the agent's work
    bad: list[str] = []  # result.json files that could not be read, "path: reason"


def load(store: Path, suite: str) -> Loaded:
    """Every counted run of `suite` in the store at `store` (a local folder)."""
    root = Path(store)
    plan_path = root / "suites" / suite / "plan.json"
    try:
        plan = orjson.loads(plan_path.read_bytes())
    except FileNotFoundError:
        raise SkillReadError(f"{plan_path}: not found; the store has no suite {suite!r} (run `agent-eval skill run` first, or name the suite it ran)") from None
    except (OSError, orjson.JSONDecodeError) as err:
        raise SkillReadError(f"{plan_path}: cannot be read ({err}); run the suite again to write it") from None
    keys = set(plan.get("cells") or [])
    with index.checked(root) as db:  # the suite's run folders, without opening every result.json of its revisions
        folders = [row["folder"] for row in index.select(db, '"suite" = ?', (suite,))]
    parts = tuple(f"runs/{r['sha'][:10]}/" for r in plan.get("revisions", []))
    bad = [f"{root / path / 'result.json'}: {why}" for path, why in index.bad(root) if path.startswith(parts)]
    runs, skipped = [], 0
    for folder in folders:
        try:
            result = read_result(root / folder / "result.json")
        except BadRecord as err:
            bad.append(str(err))
            continue
        if keys and result.cell.key not in keys:
            continue
        if result.status in RETRIED:
            skipped += 1
            continue
        runs.append(as_run(result))
    return Loaded(suite=suite, runs=runs, skipped=skipped, bad=bad)


def as_run(result: Result) -> SkillRun:
    cell, task = result.cell, result.cell.task
    tags = set(task.tags)
    kind = "eval" if "eval" in tags else "query" if task.trigger is not None or "query" in tags else "other"
    original = next((t.removeprefix("eval:") for t in task.tags if t.startswith("eval:")), None)
    trigger = task.trigger if task.trigger is not None else True if "should-trigger" in tags else False if "should-not-trigger" in tags else None
    items, graded = expectations(result) if kind != "query" else ([], False)
    t = result.tokens
    return SkillRun(
        folder=cell.folder, model=cell.model.id, model_name=cell.model.name or cell.model.id, sha=cell.revision.sha, arm=cell.tier,
        task=task.id, kind=kind, case=original if kind == "eval" and original else task.id, prompt=task.prompt, repeat=cell.repeat,
        status=result.status, items=items, pass_rate=sum(i.passed for i in items) / len(items) if graded and items else None,
        activated_at=result.activated_at, trigger=trigger if kind == "query" else None,
        tokens=t.new + t.cached + t.generated if t else None, seconds=result.agent_seconds, answer=result.answer,
    )


def expectations(result: Result) -> tuple[list[Item], bool]:
    """The run's expectations with their verdicts, and whether they were all graded. Each check of a
    judge (an expectation), of the assertions, of a verifier is one item; a grader with no checks is
    one item of its own. A grader that could not grade makes the run ungraded (the grading's fault,
    never the agent's miss). A run whose graders never ran (it ended before them) is graded from the
    task: every expectation it declares failed, as the run left nothing that meets it."""
    graders = [g for g in result.graders if g.kind in GRADED]
    if not graders:
        declared = declared_items(result)
        why = f"not graded: the run ended {result.status}"
        return [Item(text=text, passed=False, evidence=why) for text in declared], result.status != "ok" and bool(declared)
    items = []
    for g in graders:
        if g.checks:
            items += [Item(text=c.name, passed=c.passed, evidence=c.evidence) for c in g.checks]
        else:
            evidence = g.output if g.status != "error" else f"could not grade: {g.output}"
            items.append(Item(text=ONE_ITEM[g.kind], passed=g.status == "passed", evidence=evidence))
    return items, all(g.status != "error" for g in graders)


ONE_ITEM = {"answer": "The answer matches the expected answer", "verify": "The verifier passes",
            "judge": "The judge's rubric is met", "assertions": "The assertions hold"}


def declared_items(result: Result) -> list[str]:
    task = result.cell.task
    return [*(task.judge.expectations if task.judge else []), *(a.text for a in task.assertions)]
