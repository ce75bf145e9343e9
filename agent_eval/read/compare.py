"""Compare: did head do better than base, by how much, and how sure are we?

Base and head are two revisions (or two models, tiers or agent versions, holding the rest fixed).
Runs are paired within a cell — (model, task, tier, agent version) when comparing revisions — and
repeats are averaged within the cell. The task is the unit that repeats: runs of one task are correlated, so each task
gets one paired difference (the mean over its cells), and the 95% interval is a Student t interval
on those per-task differences with n_tasks - 1 degrees of freedom: the cluster-robust standard
error of Miller (2024), "Adding Error Bars to Evals", with the task as the cluster. Rates are
differences in percentage points. Costs are each task's change relative to its own size,
2(head - base)/(head + base), zeros included (a task answered with no tool call is the cheapest,
not missing), their mean shown as the % change it amounts to (paired.py says why).

Status rules, one for every metric: setup_error and infra_error runs are not the agent's work: they
count in `errors` only. Every other run is the agent's: it counts everywhere, a silent failure or an
agent error as a miss in match and with what it spent in the costs. Unknown tokens and cost are skipped.
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
from pydantic import BaseModel

from agent_eval.store.columns import Columns
from agent_eval.store.records import RETRIED
from agent_eval.suite.decision import Decision

from .arrays import first_had, numbered, sort_ranks
from .claims import Claim, apply
from .paired import Metric, measure
from .sides import SIDES, Aliases, CompareError, aliases, resolve, side_name
from .stats import tasks_needed


class Flip(BaseModel):
    task: str
    cell: str  # the cell's other coordinates, e.g. "model · tier"
    base: float  # match % over the cell's repeats
    head: float
    now: Literal["fixed", "broken"]


class Mover(BaseModel):
    metric: str
    task: str
    base: float
    head: float
    change: float  # % change of the task's mean


class Comparison(BaseModel):
    axis: str
    base: str
    head: str
    n_tasks: int
    n_runs_base: int
    n_runs_head: int
    metrics: list[Metric]
    dropped_cells: list[str]
    flips: list[Flip]  # all of them, or the first `most_flips` in cell order
    n_flips: int = 0  # how many cells flipped in all
    movers: list[Mover]
    method: str
    tasks_for_10_points: int | None  # tasks needed to detect a 10-point match change (80% power)
    headline: list[Claim] = []  # exactly the claims the PR comment makes (decide.py)
    decision: dict = {}  # primary, min_effect, correction, family (how many tests the headline's error rate covers)
    reading: list[str] = []  # the biggest changes in what agents read (reads_table.context): context, never in the headline or the gate


# --- reading ----------------------------------------------------------------------------------------


def load_rows(store: Path, axis: str | None = None, base: str | None = None, head: str | None = None) -> Columns:
    """The one-shot results of a store as columns (store/columns.py), from the store's index: every
    one, or with an axis only those of what base and head name. The one place compare reads the
    store; unreadable results are named on stderr."""
    from agent_eval.store import columns, index

    every = columns.read(Path(store))
    one_shot = np.isnan(every["session_position"])  # a task run in a session is another experiment (sessions.py reads it)
    cols = every.take(one_shot)
    if axis is not None:
        cols = two_sides(cols, axis, base, head)
    if not len(cols) and (in_sessions := int((~one_shot).sum())):
        raise CompareError(f"the store has only runs in sessions ({in_sessions}): compare reads one-shot runs; "
                           f"`agent-eval sessions {store}` compares costs by position in a session")
    index.warn_bad(Path(store), lambda line: print(line, file=sys.stderr))
    return cols


def marker_directions(store: Path) -> dict[str, str]:
    """Each marker's direction (up, down) as the suites' profiles declare it; absent means neutral."""
    from agent_eval.store.store import read_plans

    return directions_in(read_plans(Path(store), lambda line: print(line, file=sys.stderr)))


def decision_in(plans: list[dict], say=lambda line: print(line, file=sys.stderr)) -> Decision:
    """The suites' decision block (suite.yaml `decision:`); the default when none gives one. Suites
    that disagree: the first one's (by suite name), and a note naming it."""
    given = [(p["suite"], p["decision"]) for p in plans if p.get("decision")]
    if len({orjson.dumps(d, option=orjson.OPT_SORT_KEYS) for _, d in given}) > 1:
        say(f"note: the suites' decision blocks differ; using suite {given[0][0]!r}'s")
    try:
        return Decision.model_validate(given[0][1]) if given else Decision()
    except ValueError as err:
        raise CompareError(f"suites/{given[0][0]}/plan.json: decision is not valid ({err.errors()[0]['msg']}); run the suite again") from None


def directions_in(plans: list[dict]) -> dict[str, str]:
    """marker_directions from plan.json files already read (at 100k runs they are big)."""
    directions = {}
    for plan in plans:
        for marker in plan.get("markers", []):
            directions.setdefault(marker["name"], marker.get("direction") or "neutral")
    return directions


# --- the metrics --------------------------------------------------------------------------------------
#
# Arrays (numpy), not loops over dicts: the report compares 18 pairs of a 100k-run store, each over
# up to 11k cells and a dozen metrics, and pure Python took seconds for it.

COSTS = ["turns", "tool_calls", "tokens_new", "tokens_cached", "tokens_generated", "wall_seconds", "cost"]


def metrics(cols: Columns, directions: dict[str, str]) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """Every metric as (name, kind, direction), markers included, and each run's value of each as a
    runs × metrics array: NaN where the run does not count (the status rules, in one place)."""
    nan = np.nan
    fired = cols["markers"]
    names = [m for k, m in enumerate(cols.values("markers")) if fired[:, k].any()]  # the markers these runs fired
    markers = list(directions) + sorted(set(names) - set(directions))
    ok, silent = cols.isin("status", ["ok"]), cols.isin("status", ["silent_failure"])  # a silent failure is graded like any answer: a miss
    measured = ~cols.isin("status", RETRIED)  # not the harness's or the provider's failure
    at = {m: k for k, m in enumerate(cols.values("markers"))}
    marker = lambda m: fired[:, at[m]].astype(bool) if m in at else np.zeros(len(cols), dtype=bool)  # noqa: E731
    columns = [
        ("match", "rate", "up", np.where(measured, 100.0 * cols["matched"], nan)),  # NaN (no expected answer) stays NaN
        ("score", "rate", "up", np.where(measured, 100.0 * cols["score"], nan)),  # graders' mean credit
        ("errors", "rate", "down", 100.0 * ~ok),
        ("silent_failures", "rate", "down", 100.0 * silent),
        *[(name, "rate", direction, np.where(measured & (cols["trigger"] == should), 100.0 * cols["activated"], nan))
          for name, direction, should in (("recall", "up", 1), ("false_activation", "down", 0)) if (cols["trigger"] == should).any()],
        *[(f"marker:{m}", "rate", directions.get(m, "neutral"), np.where(measured, 100.0 * marker(m), nan)) for m in markers],
        *[(c, "cost", "down", np.where(measured, cols[c], nan)) for c in COSTS],
    ]
    return [c[:3] for c in columns], np.column_stack([c[3] for c in columns]) if len(cols) else np.empty((0, len(columns)))


def as_columns(rows: list[dict] | Columns) -> Columns:
    """Flat rows (results.flat(), as tests and callers without a store have them) as columns."""
    return rows if isinstance(rows, Columns) else Columns.from_rows(rows)


# --- cells ---------------------------------------------------------------------------------------------


@dataclass
class Cells:
    """Runs summed per cell (model, sha, task, tier), once: every comparison of a store, along any
    axis, is then a walk over cells, never over runs again (the report compares many pairs)."""

    metrics: list[tuple[str, str, str]]  # (name, kind, direction)
    keys: list[tuple]  # each cell's (model, sha, task, tier)
    sums: np.ndarray  # cells × metrics: the sum of the values of the runs that count
    counts: np.ndarray  # cells × metrics: how many runs count
    runs: np.ndarray  # cells: how many runs
    names: dict[tuple[str, str], tuple[str, str]]  # (axis, key) -> (display name, other name: a revision's ref), as first seen
    ranks: np.ndarray  # cells × 5: each key's values as their rank among the values sorted, so codes sort as the keys do
    aliases: dict[str, Aliases] = field(default_factory=dict)  # axis -> key -> every name it is stored under
    groups: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # per axis: value -> its cells, made once
    rests: dict[int, np.ndarray] = field(default_factory=dict)  # per axis: each cell's other coordinates as one code, made once

    def rest(self, at: int) -> np.ndarray:
        """Each cell's key without the axis at position `at`, as one code that sorts as those keys do:
        what pairs it with a cell of the other side. Codes, not tuples: 18 pairs of 33k cells in a report."""
        if at not in self.rests:
            code = np.zeros(len(self.keys), dtype=np.int64)
            for j in range(self.ranks.shape[1]):
                if j != at:  # ranked again after each column, so the code never overflows
                    code = np.unique(code * (int(self.ranks[:, j].max(initial=0)) + 1) + self.ranks[:, j], return_inverse=True)[1].reshape(-1)
            self.rests[at] = code
        return self.rests[at]

    def rest_key(self, i: int, at: int) -> tuple:
        """Cell i's key without the axis at position `at`: what rest() codes."""
        return self.keys[i][:at] + self.keys[i][at + 1:]

    def grouped(self, at: int) -> dict[str, list[int]]:
        """The cells (their positions) by their value on the axis at position `at` of a cell key."""
        if at not in self.groups:
            column = self.ranks[:, at]
            order = np.argsort(column, kind="stable")
            parts = sorted(np.split(order, np.flatnonzero(np.diff(column[order])) + 1) if len(order) else [], key=lambda p: p[0])
            self.groups[at] = {self.keys[p[0]][at]: p.tolist() for p in parts}  # in the order cells first have each value
        return self.groups[at]


CELL = ("model", "revision", "task", "tier", "agent")  # a cell key's order; agent: the agent's version
COLUMNS_OF = {**SIDES, "task": ("task", "task", "task")}  # each axis: the columns of its key, name and other name
KEY = tuple(COLUMNS_OF[axis][0] for axis in CELL)  # a cell's key, as columns
TASK = CELL.index("task")


def summarize(rows: list[dict] | Columns, directions: dict[str, str] | None = None) -> Cells:
    cols = as_columns(rows)
    table, values = metrics(cols, directions or {})
    cell, first = numbered(cols.combined(*KEY))  # cells numbered as runs first have them; each cell's first run
    n = len(first)
    keys = list(zip(*[map(cols.values(c).__getitem__, cols[c][first].tolist()) for c in KEY]))
    ranks = np.column_stack([sort_ranks(cols.values(c))[cols[c][first]] for c in KEY]).reshape(n, len(KEY))
    names = _names(cols, first)
    names.update({("agent", v): side_name("agent", v, *names["agent", v]) for a, v in list(names) if a == "agent"})
    stored = distinct(cols, "sha", "revision", "ref", "model", "model_name")
    counted = ~np.isnan(values)
    per_cell = lambda weights: np.bincount(cell, weights=weights, minlength=n)  # noqa: E731  (sums in run order)
    sums = np.array([per_cell(np.where(counted[:, i], values[:, i], 0.0)) for i in range(len(table))]).T.reshape(n, len(table))
    counts = np.array([per_cell(counted[:, i]) for i in range(len(table))]).T.reshape(n, len(table)).astype(np.int64)
    known = {axis: {k: set(pair) for (a, k), pair in names.items() if a == axis} for axis in SIDES}
    known["revision"] = aliases("revision", ((sha, name, ref) for sha, name, ref, _, _ in stored))  # one SHA may have a name per suite
    known["model"] = aliases("model", ((model, name, model) for _, _, _, model, name in stored))
    return Cells(metrics=table, keys=keys, sums=sums, counts=counts, runs=np.bincount(cell, minlength=n), names=names, ranks=ranks,
                 aliases=known)


def _names(cols: Columns, first: np.ndarray) -> dict[tuple[str, str], tuple[str, str]]:
    """Each axis value's (name, other name) as the first run of the last cell that has it, the values
    in the order cells first have them (`first`: each cell's first run)."""
    names = {}
    for axis in CELL:
        key, name, other = COLUMNS_OF[axis]
        code, values = cols[key][first], cols.values(key)
        last = np.full(len(values), -1)
        np.maximum.at(last, code, np.arange(len(code)))
        for k in first_had(code, len(values)).tolist():
            run = first[last[k]]
            names[axis, values[k]] = (cols.values(name)[cols[name][run]], cols.values(other)[cols[other][run]])
    return names


def two_sides(rows: list[dict] | Columns, axis: str, base: str, head: str) -> Columns:
    """Only the runs of what base and head name: summing every other run would be wasted work."""
    cols = as_columns(rows)
    field, name, other = SIDES[axis]
    wanted = _wanted(aliases(axis, distinct(cols, field, name, other)), axis, base, head)
    return cols.take(cols.isin(field, wanted)) if wanted else cols


def distinct(cols: Columns, *names: str) -> list[tuple]:
    """The distinct combinations of these text columns among the runs."""
    if not len(cols):
        return []
    _, first = np.unique(cols.combined(*names), return_index=True)
    values = [(cols.values(n), cols[n][first].tolist()) for n in names]
    return list(zip(*[[v[k] for k in codes] for v, codes in values]))


def _wanted(known: Aliases, axis: str, base: str, head: str) -> set[str]:
    """The keys base and head name; none from an empty store (compare then says it has no results)."""
    return {resolve(known, axis, base), resolve(known, axis, head)} if known else set()


def compare(rows: list[dict] | Columns | Cells, base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
            tasks: list[str] = (), directions: dict[str, str] | None = None, most_flips: int | None = None,
            decision: Decision | None = None) -> Comparison:
    """Compare head with base along `axis`. rows: results.flat() rows, or summarize(rows) to compare
    one store many times; directions: the markers' (marker_directions), used when given rows;
    most_flips: list only so many flips (n_flips still counts them all); decision: the primary
    metrics the headline claims (the suite's; default Decision()). Its claims are this comparison's
    alone: decide.verdict makes them across models too."""
    cells = rows if isinstance(rows, Cells) else summarize(two_sides(rows, axis, base, head), directions)
    if not cells.keys:
        raise CompareError("the store has no results yet: run a suite first (agent-eval run suite.yaml)")
    passes = lambda k: ((not models or k[0] in models or cells.names["model", k[0]][0] in models)  # noqa: E731
                        and (not tiers or k[3] in tiers) and (not tasks or any(fnmatch.fnmatchcase(k[2], g) for g in tasks)))
    at = CELL.index(axis)
    groups = cells.grouped(at)
    if models or tiers or tasks:
        groups = {v: left for v, ids in groups.items() if (left := [i for i in ids if passes(cells.keys[i])])}
    present = set(groups)
    if not present:
        raise CompareError("no results match the --model/--tier/--task filters")
    kept = {key: names for key, names in cells.aliases[axis].items() if key in present}
    b, h = resolve(kept, axis, base), resolve(kept, axis, head)
    if b == h:
        raise CompareError(f"--base {base!r} and --head {head!r} name the same {axis}: compare two different ones")
    rest = cells.rest(at)
    base, head = np.array(groups[b], dtype=np.intp), np.array(groups[h], dtype=np.intp)
    _, in_base, in_head = np.intersect1d(rest[base], rest[head], assume_unique=True, return_indices=True)  # in the keys' order
    one_agent = sum(a == "agent" for a, _ in cells.names) == 1  # then labels need not say it
    others = [a for a in CELL if a != axis]
    label = lambda k, skip=(): " · ".join(cells.names[a, v][0] for a, v in zip(others, k, strict=True)  # noqa: E731
                                          if a not in skip and not (a == "agent" and one_agent))
    dropped = [f"{label(cells.rest_key(i, at))} ({side} only)" for side, mine, theirs in (("base", base, head), ("head", head, base))
               for i in _only(rest, mine, theirs)]
    if not len(in_base):
        raise CompareError(f"base and head ran no cell in common ({len(dropped)} cells on one side only): run the same tasks, models and tiers on both")
    pairs = Pairs(cells, base[in_base], head[in_head])
    computed = {name: (kind, direction, per_task(pairs, i)) for i, (name, kind, direction) in enumerate(cells.metrics)}
    found = [measure(name, *c) for name, c in computed.items()]
    match = found[0]
    return apply(Comparison(
        axis=axis, base=_display(cells, axis, b), head=_display(cells, axis, h), n_tasks=len(pairs.names),
        n_runs_base=int(cells.runs[pairs.base].sum()), n_runs_head=int(cells.runs[pairs.head].sum()), metrics=found,
        dropped_cells=dropped, flips=_flips(pairs, lambda i: label(cells.rest_key(i, at), skip=("task",)), most_flips), n_flips=len(pairs.flipped),
        movers=_movers(computed), method=METHOD,
        tasks_for_10_points=tasks_needed(match.sd, 10.0) if match.sd else None,
    ), {}, decision or Decision())


def per_model(rows: list[dict] | Columns | Cells, base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
              tasks: list[str] = (), directions: dict[str, str] | None = None, decision: Decision | None = None) -> dict[str, Comparison]:
    """The same comparison for each model on its own, by model name: what got better, for which models."""
    cells = rows if isinstance(rows, Cells) else summarize(two_sides(rows, axis, base, head), directions)
    out = {}
    for model in sorted({k[0] for k in cells.keys}):
        name = cells.names["model", model][0]
        if not models or model in models or name in models:
            try:
                out[name] = compare(cells, base, head, axis, models=[model], tiers=tiers, tasks=tasks, decision=decision)
            except CompareError:
                continue  # this model ran no cell on both sides
    return out


METHOD = ("Pairs within (model, task, tier, agent version) — the axis compared held out —, repeats averaged in a cell, one paired "
          "difference per task (mean over its cells); 95% Student t interval over tasks (n_tasks - 1 df), i.e. standard "
          "errors clustered by task (Miller 2024, 'Adding Error Bars to Evals'). Rates: difference in points. Costs: "
          "each task's difference relative to its size, 2(head - base)/(head + base), zeros included; the mean d shown as the "
          "% change (2 + d)/(2 - d) - 1 (exact when every task changed by one ratio), base/head columns split to match. setup/infra errors count only in errors; every other run counts everywhere "
          "(a silent failure is a miss in match and spent what it spent); unknown tokens and costs are skipped.")


def _only(rest: np.ndarray, mine: np.ndarray, theirs: np.ndarray) -> list[int]:
    """The cells of one side that the other lacks, in the order of their keys."""
    alone = mine[~np.isin(rest[mine], rest[theirs])]
    return alone[np.argsort(rest[alone])].tolist()


def _display(cells: Cells, axis: str, key: str) -> str:
    name = cells.names[axis, key][0]
    return f"{name} ({key[:10]})" if axis == "revision" else name


class Pairs:
    """The cells base and head share, side by side: each side's means (sum / count) per metric; each
    pair's task as its place in `names`, the tasks in the order the pairs first have them."""

    def __init__(self, cells: Cells, base: np.ndarray, head: np.ndarray):
        self.base, self.head = base, head
        self.nx, self.ny = cells.counts[self.base], cells.counts[self.head]
        with np.errstate(divide="ignore", invalid="ignore"):  # no runs counted: NaN, left out below
            self.x, self.y = cells.sums[self.base] / self.nx, cells.sums[self.head] / self.ny
        self.task, first = numbered(cells.ranks[base, TASK])
        self.names = [cells.keys[i][TASK] for i in base[first].tolist()]
        x, y, counted = self.x[:, 0], self.y[:, 0], (self.nx[:, 0] > 0) & (self.ny[:, 0] > 0)
        self.flipped = np.flatnonzero(counted & ((x > 50) != (y > 50)))  # the cells whose match rate crossed 50% either way


def per_task(pairs: Pairs, i: int) -> dict[str, tuple[float, float, int, int]]:
    """Task -> (base mean, head mean, base runs, head runs) of metric i, the means over the task's
    cells with data on both sides, in the order tasks first have data. Zeros are kept."""
    x, y, nx, ny = pairs.x[:, i], pairs.y[:, i], pairs.nx[:, i], pairs.ny[:, i]
    use = (nx > 0) & (ny > 0)
    task, n = pairs.task[use], len(pairs.names)
    order = first_had(task, n)
    total = lambda v: np.bincount(task, weights=v[use], minlength=n)[order]  # noqa: E731  (in cell order, like a running sum)
    cells = np.bincount(task, minlength=n)[order]
    means = lambda v: (total(v) / cells).tolist()  # noqa: E731
    runs = lambda v: total(v).astype(np.int64).tolist()  # noqa: E731
    return dict(zip([pairs.names[t] for t in order.tolist()], zip(means(x), means(y), runs(nx), runs(ny), strict=True), strict=True))


def _flips(pairs: Pairs, label, most: int | None) -> list[Flip]:
    """Cells whose majority verdict on match (metric 0) changed: fixed (missed → matched) or broken.
    `label`: a base cell's position -> its other coordinates, as the flip names them."""
    x, y = pairs.x[:, 0], pairs.y[:, 0]
    return [Flip.model_construct(task=pairs.names[pairs.task[j]], cell=label(int(pairs.base[j])), base=float(x[j]), head=float(y[j]), now="fixed" if y[j] > 50 else "broken")
            for j in pairs.flipped[:most].tolist()]  # model_construct: made here from checked values, 1000s per pair in a report


def _movers(computed: dict[str, tuple], top: int = 5) -> list[Mover]:
    """The tasks whose mean moved most, by the log of the ratio (+1: a task may cost nothing on a side)."""
    movers = []
    for metric in ("tokens_new", "turns"):
        moved = [(t, x, y) for t, (x, y, _, _) in computed[metric][2].items() if x > 0]
        ranked = sorted(moved, key=lambda m: -abs(math.log((m[2] + 1) / (m[1] + 1))))[:top]
        movers += [Mover(metric=metric, task=t, base=x, head=y, change=100.0 * (y / x - 1)) for t, x, y in ranked]
    return movers
