"""`agent-eval reads` as the user reads it: a table per revision × tier on a terminal, or JSON and
CSV with every file. Counts always beside shares (12/40)."""

from __future__ import annotations

import csv
import io

import orjson

from agent_eval.suite.text import visible

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
    """Plain aligned text: a rich table per group costs more than everything before it at 100k runs."""
    lines = []
    for g in groups:
        who = f" · {g.model}" if g.model else ""
        lines.append(f"{g.revision} ({g.sha[:10]}) · {g.tier}{who} — {g.runs} runs: {g.matched} matched, {g.failed} failed")
        rows = [[f.file + ("" if f.ranked else " ·"), count(f.runs, f.of), count(f.matched, f.of_matched), count(f.failed, f.of_failed),
                 number(f.first_turn), number(f.lines)] for f in g.files[:top]]
        lines += aligned(["file", "read by", "matched", "failed", "first turn", "lines"], rows) if rows else ["  no run of this group read a file or asked for help"]
        if len(g.files) > top:
            lines.append(f"  … {len(g.files) - top} more (--top, or --format csv for all)")
        lines.append("")
    lines.append(f"note: {NOTE}")
    print("\n".join(map(visible, lines)))


def changes(found: list[Change], base: str, head: str, top: int) -> None:
    rows = [[c.tier + (f" · {c.model}" if c.model else ""), c.file + ("" if c.ranked else " ·"), count(c.base, c.base_of), count(c.head, c.head_of),
             f"{c.change:+.0f} pts"] for c in found[:top]]
    lines = [f"what agents read: {base} → {head}, by the change in the share of runs", *aligned(["tier", "file", "base", "head", "change"], rows)]
    if len(found) > top:
        lines.append(f"  … {len(found) - top} more (--top, or --format csv for all)")
    print("\n".join(map(visible, [*lines, f"note: {NOTE}"])))


def aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: text columns (the first two at most) to the left, numbers to the right."""
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    text = {k for k, h in enumerate(header) if h in ("file", "tier")}
    return ["  " + "  ".join(str(c).ljust(w) if k in text else str(c).rjust(w) for k, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in [header, *rows]]


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
