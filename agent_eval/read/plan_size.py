"""plan-size: from a pilot store, where the next runs buy the most — more tasks, or more repeats.

compare's interval rests on the variance of the per-task paired difference d_t, which splits into a
between-task part and a within-task (repeat) part:

    Var(d_t) = σ²_between + σ²_within / r        Var(mean d) = Var(d_t) / n

(n tasks, r repeats a side). σ²_within, what one repeat of every cell on both sides adds, is read
from the spread of the repeats within each cell (a cost through the delta method of compare's
relative difference 2(y - x)/(y + x)); σ²_between is what is left of the spread of the d_t compare
sees. The tasks needed for a change δ at 80% power and the 5% level, for r repeats:

    n = (t(0.975, n-1) + t(0.80, n-1))² · (σ²_between + σ²_within / r) / δ²

Repeats shrink only the within part: past a point only more tasks help.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from statistics import NormalDist

import numpy as np
from pydantic import BaseModel

from agent_eval.suite.decision import Decision

from .compare import as_columns, distinct, metrics, two_sides
from .sides import SIDES, aliases, resolve
from .stats import POWER, t_quantile

REPEATS = (1, 2, 3, 4, 6, 10)


class Size(BaseModel):
    metric: str
    kind: str
    effect: float  # the min_effect planned for, in the metric's unit
    between: float  # sd between tasks of the per-task difference (points, or relative difference)
    within: float | None  # sd one repeat a side adds to a task's difference; None without 2 repeats of a cell
    tasks: int  # the pilot's
    repeats: float  # the pilot's, a side, on average
    needed: dict[int, int]  # repeats -> tasks needed
    floor: int  # tasks needed however many repeats

    def line(self) -> str:
        unit = " points" if self.kind == "rate" else "%"
        useful = [(r, n) for r, n in self.needed.items() if n < self.needed.get(_before(r), n + 1)]  # a repeat more that saves tasks
        options = ", or ".join(f"{n} × {r}" if i else f"{n} tasks × {r} repeat{'s' if r > 1 else ''}" for i, (r, n) in enumerate(useful))
        split = (f"sd between tasks {self.between:.3g}, within a task (one repeat) {self.within:.3g}" if self.within is not None
                 else f"sd between tasks {self.between:.3g}; no cell has 2 repeats, so repeats cannot be told apart (run 2 or more)")
        floor = f"never fewer than {self.floor} tasks" if self.between > 0 else "no floor seen (the tasks differ too little to tell here)"
        return (f"{self.metric}: to detect ±{self.effect:g}{unit} at 80% power: {options}; {floor}; "
                f"you have {self.tasks} tasks × {self.repeats:.3g} ({split})")


def _before(r: int) -> int:
    return max((x for x in REPEATS if x < r), default=0)


def plan_size(rows, base: str, head: str, axis: str, decision: Decision, directions: dict[str, str]) -> list[Size]:
    """rows: the store's runs, as columns (compare.load_rows) or flat rows."""
    field, name, other = SIDES[axis]
    cols = as_columns(rows)
    known = aliases(axis, set(distinct(cols, field, name, other)))
    b, h = resolve(known, axis, base), resolve(known, axis, head)
    cols = two_sides(cols, axis, b, h)
    table, values = metrics(cols, directions)
    side = cols.text(field)
    at = [k for k in ("model", "revision", "task", "tier", "agent") if k != axis]
    columns = {"model": "model", "revision": "sha", "task": "task", "tier": "tier", "agent": "agent_version"}
    where = list(zip(*[cols.text(columns[a]) for a in at])) if len(cols) else []  # each run's cell, but for the side
    keep = [i for i in range(len(cols)) if side[i] in (b, h)]
    out = []
    names = [t[0] for t in table]
    for metric, effect in decision.effects().items():
        if metric not in names or effect <= 0:  # no size to plan for
            continue
        j = names.index(metric)
        cells: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: {b: [], h: []})
        for i in keep:
            if not np.isnan(values[i, j]):
                cells[where[i]][side[i]].append(float(values[i, j]))
        found = _split(table[j][1], cells, b, h, at.index("task"))
        if found:
            out.append(_size(metric, table[j][1], effect, *found))
    return out


def _split(kind: str, cells: dict, b: str, h: str, task_at: int):
    """(sd between, sd within or None, tasks, mean repeats) of the per-task difference."""
    by_task: dict[str, list[tuple[list[float], list[float]]]] = defaultdict(list)
    for key, sides in cells.items():
        if sides[b] and sides[h]:
            by_task[key[task_at]].append((sides[b], sides[h]))
    if len(by_task) < 2:
        return None
    diffs, within, counts = [], [], []
    for pairs in by_task.values():
        x = statistics.fmean(statistics.fmean(p[0]) for p in pairs)
        y = statistics.fmean(statistics.fmean(p[1]) for p in pairs)
        vx = statistics.fmean(statistics.variance(p[0]) for p in pairs) / len(pairs) if all(len(p[0]) > 1 for p in pairs) else None
        vy = statistics.fmean(statistics.variance(p[1]) for p in pairs) / len(pairs) if all(len(p[1]) > 1 for p in pairs) else None
        counts += [len(p[0]) for p in pairs] + [len(p[1]) for p in pairs]
        if kind == "rate":
            diffs.append(y - x)
            within.append(None if vx is None or vy is None else vx + vy)
        else:
            diffs.append(2 * (y - x) / (x + y) if x + y > 0 else 0.0)
            within.append(None if vx is None or vy is None or x + y == 0 else 16 * (x * x * vy + y * y * vx) / (x + y) ** 4)
    repeats = statistics.fmean(counts)
    seen = [w for w in within if w is not None]
    w = statistics.fmean(seen) if len(seen) == len(within) else None
    between = max(0.0, statistics.variance(diffs) - (w / repeats if w is not None else 0.0))
    return math.sqrt(between), None if w is None else math.sqrt(w), len(diffs), repeats


def _size(metric: str, kind: str, effect: float, between: float, within: float | None, tasks: int, repeats: float) -> Size:
    delta = effect if kind == "rate" else 2 * (effect / 100) / (2 + effect / 100)  # a % change as compare's relative difference
    w = within or 0.0
    needed = {r: _tasks(between**2 + w**2 / r, delta) for r in (REPEATS if within is not None else (1,))}
    return Size(metric=metric, kind=kind, effect=effect, between=between, within=within, tasks=tasks, repeats=repeats,
                needed=needed, floor=_tasks(between**2, delta))


def _tasks(variance: float, delta: float) -> int:
    """Tasks for 80% power at the 5% level: the normal approximation, then t-corrected once."""
    if delta <= 0 or variance <= 0:
        return 2
    n = max(2, math.ceil((NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(POWER)) ** 2 * variance / delta**2))
    return max(2, math.ceil((t_quantile(0.975, n - 1) + t_quantile(POWER, n - 1)) ** 2 * variance / delta**2))

