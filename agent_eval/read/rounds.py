"""`run --until-decided`: a suite's comparison run in rounds, a look after each, stopping as soon as
its primary metrics are decided (sequential.py says how).

A round is one more paired repeat of every (task, tier, model) on both sides: the plan's cells of
repeat r - 1. The two sides are the suite's two revisions (else its two models, agent versions or
tiers). The design and every look are recorded in the suite's plan.json, which compare reads. Looks
are made from the store, so a killed sweep resumes at its round: the rounds already stored are looked
at again (the same numbers), and the first one not complete is run. A round whose cells failed for
the harness, the provider or the machine is run again; it is never decided on until complete.

Here, not in run/, because it reads what it runs: the imports between stages go read → run.
"""

from __future__ import annotations

from typing import Callable

import orjson
from pydantic import BaseModel

from agent_eval.run import local
from agent_eval.run.cells import agent_versions
from agent_eval.run.plan import Plan
from agent_eval.store.records import Cell
from agent_eval.store.store import Store, write_atomic
from agent_eval.suite.config import ConfigError

from . import compare as cmp
from . import sequential

ATTEMPTS = 3  # a round's infra-failed cells are run this many times in one sweep before it gives up


class Rounds(BaseModel):
    """How a sweep in rounds ended."""

    looks: list[sequential.Look]
    stop: str  # decided | futile | max | interrupted | incomplete
    rounds: int  # at most
    runs: int  # cells run through the last round looked at
    max_runs: int  # the fixed design's: every round
    not_done: int = 0  # cells of the incomplete round left without a result that counts

    def line(self) -> str:
        spent = f"{self.runs} of {self.max_runs} runs ({self.runs / self.max_runs:.0%}), {self.max_runs - self.runs} saved"
        if self.stop in ("decided", "futile", "max"):
            word = {"decided": "decided", "futile": "stopped for futility (no change as large as min_effect)", "max": "not decided by the maximum"}
            return f"{word[self.stop]} after {len(self.looks)} of {self.rounds} rounds: {spent}"
        return f"stopped at round {len(self.looks) + 1} of {self.rounds} ({self.stop}): {spent}; run again to go on"


def sides(plan: Plan) -> tuple[str, str, str]:
    """(axis, base, head) of the comparison the suite names: its two revisions, else two models,
    agent versions or tiers. A one-line error for a suite that cannot decide in rounds."""
    s = plan.suite
    if "decision" not in s.model_fields_set:
        raise ConfigError(f"{s.path}: field 'decision' is missing, and --until-decided stops when its primary metrics are decided; "
                          "add decision: {primary: [match, tokens_new], min_effect: {match: 5, tokens_new: 10%}}")
    if s.sessions:
        raise ConfigError(f"{s.path}: field 'sessions': --until-decided runs one-shot cells in rounds; leave sessions out or run without it")
    axes = [("revision", [r.sha for r in plan.revisions]), ("model", [m.id for m in s.models]),
            ("agent", agent_versions(s)), ("tier", list(s.tiers))]
    for axis, values in axes:
        if len(values) == 2:
            return axis, values[0], values[1]
    counts = ", ".join(f"{len(v)} {a}{'s' if len(v) != 1 else ''}" for a, v in axes)
    raise ConfigError(f"{s.path}: field 'revisions': --until-decided compares two sides and this suite has {counts}; "
                      "give exactly two revisions (base, then head), or two models, agent versions or tiers")


def run(plan: Plan, jobs: int, say) -> Rounds:
    """Run `plan` round by round on this machine until its primary metrics are decided, shown
    futile, or every round is spent."""
    store, cells = Store(plan.suite.store_path), plan.done + plan.todo

    def locally(current: Plan, todo: list[Cell]) -> list[Cell] | None:
        rest = [c for c in cells if c.key not in {t.key for t in todo}]  # the plan.json written lists every cell
        if local.run(current.model_copy(update={"todo": todo, "done": rest}), jobs)["interrupted"]:
            return None
        return [c for c in todo if not store.is_done(c)]

    return in_rounds(plan, say, lambda: [c for c in plan.todo if not store.is_done(c)], locally, lambda made: save(store, made))


def in_rounds(plan: Plan, say, undone: Callable[[], list[Cell]], run_round: Callable[[Plan, list[Cell]], list[Cell] | None],
              keep: Callable[[Plan], None]) -> Rounds:
    """The round loop, whatever runs the cells. undone(): the plan's cells without a result that
    counts; run_round(plan, cells): runs them (the plan with its design and looks so far, which it
    may record), returns those still not done (None: interrupted); keep(plan): records the plan with
    its looks where the store keeps it. Looks read the suite's local store."""
    axis, base, head = sides(plan)
    cells = plan.done + plan.todo
    total = max(c.repeat for c in cells) + 1
    design = sequential.design(total, axis, base, head)
    looks: list[sequential.Look] = []
    plan = plan.model_copy(update={"sequential": record(design, looks, cells)})
    for k in range(1, total + 1):
        todo = [c for c in undone() if c.repeat == k - 1]
        for _ in range(ATTEMPTS):
            if not todo:
                break
            say(f"round {k}/{total}: {len(todo)} cells")
            todo = run_round(plan, todo)
            if todo is None:
                return _ended(looks, "interrupted", total, cells, k - 1)
        if todo:
            return _ended(looks, "incomplete", total, cells, k - 1, len(todo))
        looks.append(look_at(plan, design, k, cells))
        plan.sequential = record(design, looks, cells)
        keep(plan)
        say(looks[-1].line(total) + f" · {_spent(cells, k)} of {len(cells)} runs, {len(cells) - _spent(cells, k)} saved so far")
        if looks[-1].stop:
            return _ended(looks, looks[-1].stop, total, cells, k)
    raise AssertionError("the last look always stops")


def look_at(plan: Plan, design: sequential.Design, k: int, cells) -> sequential.Look:
    """Look k: the comparison over the plan's cells of the first k rounds, as the store holds them."""
    keys = {plan.aliases.get(c.key, c.key) for c in cells if c.repeat < k}  # a result graded before grading left the key: its old one
    cols = cmp.load_rows(plan.suite.store_path, design.axis, design.base, design.head)
    rows = cols.take(cols.isin("key", keys))
    directions = {m.name: m.direction or "neutral" for m in plan.profile.markers}
    c = cmp.compare(rows, design.base, design.head, design.axis, directions=directions, decision=plan.suite.decision)
    return sequential.look(c.metrics, plan.suite.decision.effects(), design, k)


def record(design: sequential.Design, looks: list[sequential.Look], cells) -> dict:
    """The plan's `sequential` section: the design, each look, where it stopped, the runs it spent."""
    k = len(looks)
    return {**design.model_dump(), "looks_made": [x.model_dump() for x in looks], "stopped": looks[-1].stop if looks else "",
            "round": k, "runs": _spent(cells, k), "max_runs": len(cells)}


def save(store: Store, plan: Plan) -> None:
    folder = store.root / "suites" / plan.suite.name
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "plan.json", orjson.dumps(plan.summary(), option=orjson.OPT_INDENT_2))


def _spent(cells, k: int) -> int:
    return sum(c.repeat < k for c in cells)


def _ended(looks, stop: str, total: int, cells, k: int, not_done: int = 0) -> Rounds:
    return Rounds(looks=looks, stop=stop, rounds=total, runs=_spent(cells, k), max_runs=len(cells), not_done=not_done)

