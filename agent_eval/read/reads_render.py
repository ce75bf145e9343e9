"""`agent-eval reads` as the user reads it: a table per revision × tier on a terminal, or JSON and
CSV with every file. Counts always beside shares (12/40)."""

from __future__ import annotations

import csv
import io

import orjson

from agent_eval.suite.text import console, visible

from .reads_table import Change, Group

CSV_FIELDS = ["revision", "sha", "tier", "model", "file", "runs", "of", "share", "matched", "of_matched", "failed", "of_failed",
              "first_turn", "lines", "ranked"]
CHANGE_FIELDS = ["tier", "model", "file", "base", "base_of", "head", "head_of", "change", "ranked"]
NOTE = ("shares are of runs (setup and infra errors, and tasks in sessions, left out); a file read by fewer runs than one cell's "
        "repeats is shown after the ranked ones, marked ·; reading a file before success is an association, not a cause")


def count(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / whole:.0f}%" if whole else "—"


def number(x: float | None) -> str:
    return "—" if x is None else f"{x:g}"


def table(groups: list[Group], top: int) -> None:
    from rich.table import Table

    out = console(200)  # file names come from what agents typed: written out, never markup
    for g in groups:
        who = f" · {g.model}" if g.model else ""
        out.print(visible(f"{g.revision} ({g.sha[:10]}) · {g.tier}{who} — {g.runs} runs: {g.matched} matched, {g.failed} failed"), style="bold")
        t = Table(box=None)
        for h in ("file", "read by", "matched", "failed", "first turn", "lines"):
            t.add_column(h, justify="left" if h == "file" else "right")
        for f in g.files[:top]:
            t.add_row(visible(f.file + ("" if f.ranked else " ·")), count(f.runs, f.of), count(f.matched, f.of_matched),
                      count(f.failed, f.of_failed), number(f.first_turn), number(f.lines))
        if g.files:
            out.print(t)
        if len(g.files) > top:
            out.print(f"… {len(g.files) - top} more (--top, or --format csv for all)")
        if not g.files:
            out.print("no run of this group read a file or asked for help")
        out.print()
    out.print(f"note: {NOTE}", style="dim")


def changes(found: list[Change], base: str, head: str, top: int) -> None:
    from rich.table import Table

    out = console(200)
    t = Table(title=visible(f"what agents read: {base} → {head}, by the change in the share of runs"), box=None, title_justify="left")
    for h in ("tier", "file", "base", "head", "change"):
        t.add_column(h, justify="left" if h in ("tier", "file") else "right")
    for c in found[:top]:
        t.add_row(visible(c.tier + (f" · {c.model}" if c.model else "")), visible(c.file + ("" if c.ranked else " ·")),
                  count(c.base, c.base_of), count(c.head, c.head_of), f"{c.change:+.0f} pts")
    out.print(t)
    if len(found) > top:
        out.print(f"… {len(found) - top} more (--top, or --format csv for all)")
    out.print(f"note: {NOTE}", style="dim")


def as_json(groups: list[Group]) -> bytes:
    return orjson.dumps([g.model_dump() for g in groups], option=orjson.OPT_INDENT_2)


def changes_json(found: list[Change]) -> bytes:
    return orjson.dumps([c.model_dump() for c in found], option=orjson.OPT_INDENT_2)


def as_csv(groups: list[Group]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for g in groups:
        for f in g.files:
            writer.writerow({"revision": g.revision, "sha": g.sha, "tier": g.tier, "model": g.model, **f.model_dump(),
                             "share": round(f.runs / f.of, 4) if f.of else None})
    return out.getvalue()


def changes_csv(found: list[Change]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CHANGE_FIELDS)
    writer.writeheader()
    writer.writerows({**c.model_dump(), "change": round(c.change, 2)} for c in found)
    return out.getvalue()
