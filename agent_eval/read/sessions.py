"""Sessions, read back: what an interface costs once the agent has learned it.

For every (model, pi version, revision, tier) that ran sessions, one line per position in the
session — the first task meets the library fresh, the later ones have the earlier tasks in their
context — and one for the later tasks together; beside them the one-shot runs of the same cells
(the same tasks as those run first, at the same model, revision and tier), which the first task
should resemble. Each line gives the runs and sessions behind it, match %, and medians of each
task's marginal cost. Like every reader, runs the harness, provider or machine spoiled
(setup_error, infra_error) are left out; a session stopped part-way counts at the positions it
reached. Medians describe; they decide nothing.

The decision is `saved`: for each task that ran both first and later, the ratio of its cost later
to its cost first (geometric means of its runs: a task runs first once per order and later many
times, and the log of an arithmetic mean of many runs would sit above the log of one run), averaged
on the log scale over tasks, with a 95% Student t interval on the per-task log ratios — compare.py's
method, the task as the cluster, so a task's own difficulty cancels out. The same for first against
one-shot. With fewer than paired.MIN_TASKS tasks there is an estimate but no interval. Orders
(orders.py) decide how many tasks run both first and later: with as many orders as tasks, all do.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

import numpy as np
from pydantic import BaseModel

from agent_eval.store.columns import Columns
from agent_eval.store.records import RETRIED
from agent_eval.store.results import COLUMNS
from agent_eval.suite.text import console, visible

from .paired import MIN_TASKS
from .stats import t_quantile

METRICS = ("tokens_new", "tokens_cached", "tokens_generated", "turns", "tool_calls", "requests", "agent_seconds")


class Line(BaseModel):
    model: str
    agent_version: str
    revision: str
    tier: str
    position: str  # "one-shot", "1", "2", …, or "later" (2 and after)
    runs: int
    sessions: int  # 0 for one-shot
    matched: float | None  # % of the runs with an expected answer; None: none had one
    medians: dict[str, float | None]


def rows_of(cols: Columns) -> list[dict]:
    """Flat rows of the runs the lines and savings below read: every run of each (model, pi version,
    revision, tier) some session ran in, one-shot runs of them too. None for a store of one-shot runs."""
    group = cols.combined("model_name", "agent_version", "revision", "sha", "tier")
    return cols.take(np.isin(group, group[~np.isnan(cols["session_position"])])).rows(COLUMNS)


def by_position(rows: list[dict]) -> list[Line]:
    """The lines described above, grouped in the order the groups first appear."""
    kept = [r for r in rows if r["status"] not in RETRIED]
    groups: dict[tuple, list[dict]] = {}
    for row in kept:
        if row["session_position"] is not None:
            groups.setdefault(_where(row), []).append(row)
    alone: dict[tuple, list[dict]] = {}
    for row in kept:
        if row["session_position"] is None and (where := _where(row)) in groups:
            alone.setdefault(where, []).append(row)
    lines = []
    for where, session_rows in groups.items():
        first_tasks = {r["task"] for r in session_rows if r["session_position"] == 1}
        one_shot = [r for r in alone.get(where, []) if r["task"] in first_tasks]
        positions = sorted({r["session_position"] for r in session_rows})
        parts = [("one-shot", one_shot)] if one_shot else []
        parts += [(str(p), [r for r in session_rows if r["session_position"] == p]) for p in positions]
        parts += [("later", [r for r in session_rows if r["session_position"] > 1])] if len(positions) > 1 else []
        lines += [_line(where, name, part) for name, part in parts]
    return lines


class Saving(BaseModel):
    model: str
    agent_version: str
    revision: str
    tier: str
    comparison: str  # "later / first" or "first / one-shot"
    metric: str
    n_tasks: int  # tasks seen on both sides
    change: float | None  # % change of the cost, from the mean per-task log ratio; None: no task on both sides
    ci_low: float | None  # 95% interval; None below MIN_TASKS tasks
    ci_high: float | None


def saved(rows: list[dict]) -> list[Saving]:
    """Per (model, pi version, revision, tier) and metric: later against first, and first against one-shot."""
    kept = [r for r in rows if r["status"] not in RETRIED]
    sessioned = {_where(r) for r in kept if r["session_position"] is not None}
    groups: dict[tuple, list[dict]] = {}
    for row in kept:
        if (where := _where(row)) in sessioned:  # one-shot runs of cells no session ran are not looked at
            groups.setdefault(where, []).append(row)
    found = []
    for where, group in groups.items():
        if not any(r["session_position"] for r in group):
            continue
        first = [r for r in group if r["session_position"] == 1]
        sides = {"later / first": (first, [r for r in group if (r["session_position"] or 0) > 1]),
                 "first / one-shot": ([r for r in group if r["session_position"] is None], first)}
        model, version, revision, _, tier = where
        for comparison, (base, head) in sides.items():
            for metric in METRICS:
                n, change, low, high = ratio(base, head, metric)
                found.append(Saving(model=model, agent_version=version, revision=revision, tier=tier, comparison=comparison,
                                    metric=metric, n_tasks=n, change=change, ci_low=low, ci_high=high))
    return found


def ratio(base: list[dict], head: list[dict], metric: str) -> tuple[int, float | None, float | None, float | None]:
    """(tasks, % change, 95% low, high) of head's cost over base's, paired by task on the log scale."""
    sides = [_log_means(base, metric), _log_means(head, metric)]
    logs = [sides[1][t] - sides[0][t] for t in sides[0].keys() & sides[1].keys()]
    if not logs:
        return 0, None, None, None
    mean = statistics.fmean(logs)
    if len(logs) < MIN_TASKS:
        return len(logs), _percent(mean), None, None
    half = t_quantile(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return len(logs), _percent(mean), _percent(mean - half), _percent(mean + half)


def _log_means(rows: list[dict], metric: str) -> dict[str, float]:
    """Task -> mean log cost of its runs; a zero or unknown cost is left out (no log)."""
    logs = defaultdict(list)
    for row in rows:
        if row[metric] is not None and row[metric] > 0:
            logs[row["task"]].append(math.log(row[metric]))
    return {task: statistics.fmean(v) for task, v in logs.items()}


def _percent(log_ratio: float) -> float:
    return round(100.0 * (math.exp(log_ratio) - 1.0), 1)


def _where(row: dict) -> tuple:
    return row["model_name"], row["agent_version"], row["revision"], row["sha"], row["tier"]


def _line(where: tuple, position: str, rows: list[dict]) -> Line:
    model, version, revision, _, tier = where
    scored = [r["matched"] for r in rows if r["matched"] is not None]
    return Line(
        model=model, agent_version=version, revision=revision, tier=tier, position=position, runs=len(rows),
        sessions=len({r["session"] for r in rows if r["session"]}),
        matched=round(100 * sum(scored) / len(scored), 1) if scored else None,
        medians={m: _median([r[m] for r in rows]) for m in METRICS},
    )


def _median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def print_table(lines: list[Line]) -> None:
    from rich.table import Table

    table = Table(box=None)
    heads = ["model", "pi", "revision", "tier", "position", "runs", "sessions", "match %", *[m.replace("_", " ") for m in METRICS]]
    for head in heads:
        table.add_column(head, justify="right" if head not in ("model", "revision", "tier") else "left")
    for line in lines:
        cells = [line.model, line.agent_version, line.revision, line.tier, line.position, line.runs, line.sessions or "",
                 line.matched, *line.medians.values()]
        table.add_row(*["–" if c is None else f"{c:g}" if isinstance(c, float) else visible(c) for c in cells])
    console(400).print(table)


def print_savings(savings: list[Saving]) -> None:
    from rich.table import Table

    table = Table(box=None, title="change in cost, paired by task (95% interval from 5 tasks on)")
    for head in ("model", "pi", "revision", "tier", "comparison", "metric", "tasks", "change", "95% interval"):
        table.add_column(head)
    for s in savings:
        if not s.n_tasks:  # nothing on both sides (no one-shot runs, or one order): json still has the line
            continue
        change = "–" if s.change is None else f"{s.change:+.1f}%"
        interval = f"{s.ci_low:+.1f}% … {s.ci_high:+.1f}%" if s.ci_low is not None else "–"
        where = [visible(v) for v in (s.model, s.agent_version, s.revision, s.tier)]
        table.add_row(*where, s.comparison, s.metric.replace("_", " "), str(s.n_tasks), change, interval)
    console(400).print(table)
