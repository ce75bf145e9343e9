"""Collect: every result in a store as flat rows, for a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import sys

import orjson

from .store import Result

COLUMNS = [
    "model", "revision", "sha", "tier", "task", "repeat", "status", "matched", "wall_seconds", "turns",
    "tool_calls", "tokens_new", "tokens_cached", "tokens_generated", "requests", "markers", "ended_by", "key",
]


def row(result: Result) -> dict:
    cell = result.cell
    return {
        "model": cell.model.display, "revision": cell.revision.name, "sha": cell.revision.sha[:10], "tier": cell.tier,
        "task": cell.task.id, "repeat": cell.repeat, "status": result.status, "matched": result.matched,
        "wall_seconds": result.wall_seconds, "turns": result.turns, "tool_calls": sum(result.tool_calls.values()),
        "tokens_new": result.tokens.new, "tokens_cached": result.tokens.cached, "tokens_generated": result.tokens.generated,
        "requests": result.requests, "markers": " ".join(m.name for m in result.markers), "ended_by": result.ended_by,
        "key": cell.key[:8],
    }


def as_json(results: list[Result]) -> bytes:
    return orjson.dumps([r.model_dump(mode="json") for r in results], option=orjson.OPT_INDENT_2)


def as_csv(results: list[Result]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(row(r) for r in results)
    return out.getvalue()


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    columns = ["model", "revision", "tier", "task", "repeat", "status", "matched", "wall_seconds", "turns", "tool_calls", "tokens_new", "tokens_generated", "markers"]
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*[str(row[c]) for c in columns])
    Console(width=None if sys.stdout.isatty() else 400).print(table)  # never squeeze a piped table
    print(f"{len(rows)} results", file=sys.stderr)
