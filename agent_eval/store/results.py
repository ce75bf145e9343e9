"""Collect: every result in a store as flat rows, for a table, JSON or CSV — and for every reader
(report, compare, regrade, export) that wants numbers rather than whole records.

A row is one result.json flattened to the columns below: stable names, documented in the README.
`tokens_*` are None when the provider reported no usage (unknown, never zero).
"""

from __future__ import annotations

import csv
import io
import sys

import orjson

from agent_eval.suite.text import console, visible

COLUMNS = [
    "key", "folder", "suite", "profile", "model", "model_name", "revision", "ref", "sha", "tier", "task", "repeat",
    "status", "ended_by", "matched", "wall_seconds", "agent_seconds", "turns", "tool_calls", "tokens_new",
    "tokens_cached", "tokens_generated", "requests", "cost", "markers", "agent", "agent_version", "isolation",
    "environment", "session_position", "session", "harness_version", "finished_at",
    "score", "activated", "trigger", "grading",
]
NUMBERS = ("repeat", "matched", "wall_seconds", "agent_seconds", "turns", "tool_calls", "tokens_new", "tokens_cached",
           "tokens_generated", "requests", "cost", "session_position", "score", "activated", "trigger")  # the rest are text


def flat(result: dict) -> dict:
    """One result.json (as a dict) as a row of COLUMNS."""
    cell, tokens = result["cell"], result.get("tokens")
    model, revision = cell["model"], cell["revision"]
    return {
        "key": cell["key"], "folder": cell["folder"], "suite": cell["suite"], "profile": cell["profile"],
        "model": model["id"], "model_name": model.get("name") or model["id"], "revision": revision["name"],
        "ref": revision["ref"], "sha": revision["sha"], "tier": cell["tier"], "task": cell["task"]["id"],
        "repeat": cell["repeat"], "status": result["status"], "ended_by": result.get("ended_by"),
        "matched": result.get("matched"), "wall_seconds": result.get("wall_seconds", 0.0),
        "agent_seconds": result.get("agent_seconds", 0.0), "turns": result.get("turns", 0),
        "tool_calls": sum((result.get("tool_calls") or {}).values()),
        "tokens_new": tokens["new"] if tokens else None, "tokens_cached": tokens["cached"] if tokens else None,
        "tokens_generated": tokens["generated"] if tokens else None, "requests": result.get("requests", 0),
        "cost": result.get("cost"), "markers": [m["name"] for m in result.get("markers") or []],
        "agent": cell.get("agent", "pi"), "agent_version": cell.get("agent_version", ""),
        "isolation": result.get("isolation"), "environment": result.get("environment"), "session_position": result.get("session_position"),
        "session": (cell.get("session") or {}).get("id"),
        "harness_version": result.get("harness_version", ""), "finished_at": result.get("finished_at", ""),
        "score": result.get("score"),
        "activated": None if "activated_at" not in result else result["activated_at"] is not None,
        "trigger": cell["task"].get("trigger"), "grading": result.get("grading"),
    }


def in_suite_order(rows: list[dict], plans: list[dict]) -> list[dict]:
    """Rows as the suites list them: models, revisions and tiers in each plan's order (a revision
    v1.10 after v1.9, never sorted by SHA or as text), then task and repeat. What no plan names comes last."""
    order = _planned(plans)
    last = len(order)
    return sorted(rows, key=lambda r: (order.get(("model", r["model"]), last), order.get(("sha", r["sha"]), last), r["revision"],
                                      order.get(("tier", r["tier"]), last), r["tier"], r["task"], r["repeat"], r["session_position"] or 0))


def suite_order(cols, plans: list[dict]):
    """The positions of the runs of `cols` (store/columns.py) in in_suite_order's order, found on the
    columns' codes (one lexsort, stable like sorted()): no row per run."""
    import numpy as np

    order = _planned(plans)
    last = len(order)

    def planned(axis: str, name: str) -> np.ndarray:
        return np.array([order.get((axis, v), last) for v in cols.values(name)], dtype=np.int64)[cols[name]]

    def as_text(name: str) -> np.ndarray:  # each value's place among the column's values sorted as Python sorts them
        values = cols.values(name)
        rank = np.empty(len(values), dtype=np.int64)
        rank[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
        return rank[cols[name]]

    keys = [planned("model", "model"), planned("sha", "sha"), as_text("revision"), planned("tier", "tier"), as_text("tier"), as_text("task"),
            cols["repeat"], np.nan_to_num(cols["session_position"], nan=0.0)]
    return np.lexsort(keys[::-1])  # lexsort's last key is the first compared


def _planned(plans: list[dict]) -> dict[tuple[str, str], int]:
    """Each model, revision (by SHA) and tier the plans name, numbered in their order."""
    order: dict[tuple[str, str], int] = {}
    for plan in plans:
        for axis, values in (("model", [m["id"] for m in plan["models"]]), ("sha", [r["sha"] for r in plan["revisions"]]), ("tier", plan["tiers"])):
            for value in values:
                order.setdefault((axis, value), len(order))
    return order


def as_json(rows: list[dict]) -> bytes:
    """`results --format json`: a list of flat rows (COLUMNS), not whole records."""
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2)


def as_jsonl(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def as_csv(rows: list[dict]) -> str:
    """Markers space-separated; None as an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({**r, "markers": " ".join(r["markers"])} for r in rows)
    return out.getvalue()


def print_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(box=None)
    columns = ["model_name", "revision", "tier", "task", "repeat", "status", "matched", "wall_seconds", "turns", "tool_calls", "tokens_new", "tokens_generated", "markers"]
    for column in columns:
        table.add_column(column.removesuffix("_name").replace("_", " "))
    for row in rows:
        table.add_row(*[visible(" ".join(row[c]) if c == "markers" else row[c]) for c in columns])
    console(400).print(table)
    print(f"{len(rows)} results", file=sys.stderr)
