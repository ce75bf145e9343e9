"""The sentence a run ends with: what the suite's own comparison found, and which commands show more.

A suite names a comparison when exactly one of its axes has two values and every other one value:
the quickstart's tiers (bare, skill), or a PR's two revisions. That comparison is compare's, on the
suite's cells only, under the suite's decision: the same numbers, intervals and claims `compare`
prints, said in one sentence. A suite with no such pair ends as before.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from agent_eval.run.cells import agent_versions
from agent_eval.run.plan import Plan

from . import compare as cmp
from . import decide
from .compare_render import change


def sides(plan: Plan) -> tuple[str, str, str] | None:
    """(axis, base, head): the suite's one axis with two values (base first, as the suite lists
    them), when every other axis has one; None otherwise."""
    s = plan.suite
    axes = {"revision": [r.sha for r in plan.revisions], "model": [m.id for m in s.models], "agent": agent_versions(s),
            "tier": list(s.tiers or [])}
    two = [(axis, values) for axis, values in axes.items() if len(values) == 2]
    if len(two) != 1 or any(len(v) > 2 for v in axes.values()):
        return None
    axis, (base, head) = two[0]
    return axis, base, head


def found(plan: Plan) -> str | None:
    """What the suite's comparison found, in one sentence, or None when it names none or has too
    little stored to say."""
    named = sides(plan)
    if named is None:
        return None
    axis, base, head = named
    cols = cmp.load_rows(plan.suite.store_path, axis, base, head)
    keys = {plan.aliases.get(c.key, c.key) for c in plan.done + plan.todo}
    mine = cols.take(cols.isin("key", keys))
    directions = {m.name: m.direction or "neutral" for m in plan.profile.markers}
    try:
        c, _ = decide.verdict(mine, base, head, axis, directions=directions, decision=plan.suite.decision)
    except cmp.CompareError:
        return None
    said = {x.metric: x.verdict for x in c.headline if x.model == "all"}
    shown = [f"{m.metric} {change(m)}" for m in c.metrics if m.primary]
    claims = "; ".join(f"{word}: {', '.join(k for k, v in said.items() if v == word)}" for word in ("better", "worse")
                       if word in said.values()) or "no change it can claim (the intervals include no change, or it is below min_effect)"
    return (f"{plan.suite.name}: {_name(plan, axis, head)} vs {_name(plan, axis, base)} over {c.n_tasks} tasks, {', '.join(shown)} "
            f"(95% CI) — {claims}. More: {_command(plan, axis, base, head)} (every metric), agent-eval report (every run).")


def _name(plan: Plan, axis: str, value: str) -> str:
    if axis == "revision":
        return next(r.name for r in plan.revisions if r.sha == value)
    if axis == "model":
        return next(m.name or m.id for m in plan.suite.models if m.id == value)
    return value


def _command(plan: Plan, axis: str, base: str, head: str) -> str:
    store = plan.suite.store_path
    try:
        where = str(store.relative_to(Path.cwd()))
    except ValueError:
        where = str(store)
    words = ["agent-eval", "compare"] + ([] if where == "agent-eval-results" else [where])
    words += ["--base", _name(plan, axis, base), "--head", _name(plan, axis, head)] + ([] if axis == "revision" else ["--axis", axis])
    return shlex.join(words)
