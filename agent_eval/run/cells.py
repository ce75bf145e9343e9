"""Cells: a suite expanded into the runs it asks for, each with its run key.

Cells come task-first (repeat, task, tier, model, then revision innermost) so a sweep stopped
halfway has the same tasks done for every revision: comparisons stay like-for-like. With
`sessions`, a unit of work is a session (its tasks one after another; orders.py draws which and in
what order).
"""

from __future__ import annotations

import hashlib

import orjson

from agent_eval.store.records import Cell, Revision, SessionRef
from agent_eval.suite import orders
from agent_eval.suite.catalog import PI_VERSION
from agent_eval.suite.config import Profile, Suite
from agent_eval.suite.task import Task

from . import serve


def one_shot_cells(suite: Suite, profile: Profile, tasks: list[Task], revisions: list[Revision], applicable: dict,
                   legacy: bool = False) -> list[Cell]:
    return [
        cell(suite, profile, model, rev, task, tier, r, version, legacy=legacy)
        for r in range(max(repeats(suite, t) for t in tasks))
        for task in tasks
        if r < repeats(suite, task)
        for tier in suite.tiers
        for model in suite.models
        for version in agent_versions(suite)
        for rev in revisions
        if applicable[tier, rev.sha]
    ]


def session_cells(suite: Suite, profile: Profile, tasks: list[Task], revisions: list[Revision], applicable: dict,
                  legacy: bool = False) -> list[Cell]:
    """Every session's cells, one session after another, its tasks in the order they run. A
    session repeats `repeats` times (a task's own `repeats` does not apply: it would change the session)."""
    by_id = {t.id: t for t in tasks}
    where = [(tier, model, version, rev) for tier in suite.tiers for model in suite.models
             for version in agent_versions(suite) for rev in revisions if applicable[tier, rev.sha]]
    cells = []
    for r in range(suite.repeats):
        for g, drawn in enumerate(orders.draw(list(by_id), suite.sessions)):
            for o, ids in enumerate(drawn):
                for tier, model, version, rev in where:
                    run = [by_id[i] for i in ids]
                    chain = [cell(suite, profile, model, rev, task, tier, r, version, (run, p), legacy) for p, task in enumerate(run, 1)]
                    ref = hashlib.sha256("".join(c.key for c in chain).encode()).hexdigest()
                    cells += [c.model_copy(update={"session": SessionRef(id=ref, position=p, group=g, order=o, tasks=ids)})
                              for p, c in enumerate(chain, 1)]
    return cells


def units(cells: list[Cell]) -> list[list[Cell]]:
    found: dict[str, list[Cell]] = {}
    for c in cells:
        found.setdefault(c.unit, []).append(c)
    return list(found.values())


def size(suite: Suite, revisions: list[Revision], tasks: list[Task]) -> int:
    per_task = len(suite.models) * len(agent_versions(suite)) * len(revisions) * len(suite.tiers)
    if suite.sessions:
        return per_task * suite.repeats * sum(len(ids) for drawn in orders.draw([t.id for t in tasks], suite.sessions) for ids in drawn)
    return per_task * sum(repeats(suite, t) for t in tasks)


def repeats(suite: Suite, task: Task) -> int:
    """A task may ask for more runs than the suite's default; the suite's `repeats` is a floor."""
    return max(suite.repeats, task.repeats or 0)


def agent_versions(suite: Suite) -> list[str]:
    return suite.agent.version or [PI_VERSION]


def cell(suite: Suite, profile: Profile, model, rev: Revision, task: Task, tier: str, repeat: int, version: str = PI_VERSION,
         session: tuple[list[Task], int] | None = None, legacy: bool = False) -> Cell:
    # The run key covers everything that can change what the agent does, and nothing that only
    # grades it (identity.py); display names are left out so renaming a revision or model never
    # re-runs anything. In a session that is also every task of the session, in order, and the
    # task's position; a one-shot cell's key has no session part. `legacy`: the key as agent-eval
    # computed it before grading left it (the whole task file and profile folder), to find the
    # results of stores written then: keep this formula exactly as it was.
    serving = serve.serving(model.id) if model.is_local else None
    if model.is_local:
        model = model.model_copy(update={"context_window": serve.CONTEXT, "max_tokens": 2048})
    of = (lambda t: t.content_hash) if legacy else (lambda t: t.action_hash)
    what = {
        "model": model.model_dump(exclude={"name"}),
        "sha": rev.sha,
        "task": of(task),
        "tier": tier,
        "repeat": repeat,
        "profile": profile.content_hash if legacy else profile.action_hash,
        "agent": ["pi", version],
        "budgets": suite.budgets.model_dump(exclude=set() if suite.budgets.until_activated else {"until_activated"}),  # added later: keys without it stay
        "thinking": suite.thinking,
        "serving": serving,
    }
    if suite.network == "none":  # not in the task's file, so not in its content hash
        what["network"] = "none"
    if tier in profile.tier_skills and not legacy:  # the tier's own Skill: only its cells change when it is edited
        what["skill"] = profile.tier_skills[tier]
    if profile.local:  # a suite with no local package keeps the run keys it had before they counted
        what["local"] = profile.local
    if session:
        run, position = session
        what["session"] = {"tasks": [of(t) for t in run], "position": position}
    key = hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Cell(
        key=key, suite=suite.name, resolve_at=suite.resolve_at, profile=profile.name, model=model, revision=rev, task=task, tier=tier,
        repeat=repeat, budgets=suite.budgets, thinking=suite.thinking, agent_version=version, serving=serving,
        judge=suite.judges[task.judge.model] if task.judge else None,
    )
