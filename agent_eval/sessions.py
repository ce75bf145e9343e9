"""Sessions, read back: what an interface costs once the agent has learned it.

For every (model, pi version, revision, tier) that ran sessions, one line per position in the
session — the first task meets the library fresh, the later ones have the earlier tasks in their
context — and one for the later tasks together; beside them the one-shot runs of the same cells
(the same tasks as those run first, at the same model, revision and tier), which the first task
should resemble. Each line gives the runs and sessions behind it, match %, and medians of each
task's marginal cost. Like every reader, runs the harness, provider or machine spoiled
(setup_error, infra_error) are left out; a session stopped part-way counts at the positions it
reached. Medians, not a verdict: `runs` says how little a line may rest on.
"""

from __future__ import annotations

import statistics
import sys

from pydantic import BaseModel

from .store import RETRIED

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


def by_position(rows: list[dict]) -> list[Line]:
    """The lines described above, grouped in the order the groups first appear."""
    kept = [r for r in rows if r["status"] not in RETRIED]
    groups: dict[tuple, list[dict]] = {}
    for row in kept:
        if row["session_position"] is not None:
            groups.setdefault(_where(row), []).append(row)
    lines = []
    for where, session_rows in groups.items():
        first_tasks = {r["task"] for r in session_rows if r["session_position"] == 1}
        one_shot = [r for r in kept if r["session_position"] is None and _where(r) == where and r["task"] in first_tasks]
        positions = sorted({r["session_position"] for r in session_rows})
        parts = [("one-shot", one_shot)] if one_shot else []
        parts += [(str(p), [r for r in session_rows if r["session_position"] == p]) for p in positions]
        parts += [("later", [r for r in session_rows if r["session_position"] > 1])] if len(positions) > 1 else []
        lines += [_line(where, name, part) for name, part in parts]
    return lines


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
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    heads = ["model", "pi", "revision", "tier", "position", "runs", "sessions", "match %", *[m.replace("_", " ") for m in METRICS]]
    for head in heads:
        table.add_column(head, justify="right" if head not in ("model", "revision", "tier") else "left")
    for line in lines:
        cells = [line.model, line.agent_version, line.revision, line.tier, line.position, line.runs, line.sessions or "",
                 line.matched, *line.medians.values()]
        table.add_row(*["–" if c is None else f"{c:g}" if isinstance(c, float) else str(c) for c in cells])
    Console(width=None if sys.stdout.isatty() else 400).print(table)
