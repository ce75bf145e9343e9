"""Explain: what the agent did on one task, each revision side by side — the "why" behind a number
in compare. Read from result.json alone (its ordered steps, answer, markers and costs)."""

from __future__ import annotations

import fnmatch
import sys
from collections import defaultdict
from pathlib import Path

import orjson
from pydantic import BaseModel

from agent_eval.grade.regrade import history
from agent_eval.store import environments
from agent_eval.suite.text import console, visible

from . import reads


class ExplainError(Exception):
    """Bad input: one line for the user."""


class Run(BaseModel):
    revision: str
    repeat: int
    status: str
    matched: bool | None
    answer: str
    markers: list[str]
    steps: list[dict]  # tool, input, error
    turns: int
    tool_calls: int
    tokens: dict | None  # new, cached, generated; None when unknown
    wall_seconds: float
    cost: float | None
    gradings: list[dict] = []  # what regrade replaced, oldest first (the first is the run's own)
    environment: str | None = None  # the environment's record (store/environments.py); None: not recorded
    files: list[dict] = []  # what the agent created, changed or deleted in its working dir
    files_cut: str | None = None
    reads: list[str] = []  # what it read, as `agent-eval reads` names it, in the order first read


def runs(store: Path, task: str, model: str | None = None, tier: str | None = None) -> dict[tuple[str, str], list[Run]]:
    """(model name, tier) -> the task's runs there, in the suites' revision order, then by repeat."""
    from agent_eval.store import columns

    found, tasks = [], set()
    for row in columns.rows(Path(store)):  # the index picks the runs; their result.json says what happened
        tasks.add(row["task"])
        if fnmatch.fnmatchcase(row["task"], task) and (not model or model in (row["model"], row["model_name"])) and (not tier or row["tier"] == tier):
            folder = Path(store) / row["folder"]
            found.append({**orjson.loads((folder / "result.json").read_bytes()), "gradings": history(folder)})
    if not found:
        raise ExplainError(f"no run of task {task!r}{f' with model {model!r}' if model else ''}{f' on tier {tier!r}' if tier else ''}; "
                           f"tasks in the store: {', '.join(sorted(tasks)[:12]) or 'none'}")
    order = _revision_order(Path(store))
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in sorted(found, key=lambda r: (order.get(r["cell"]["revision"]["sha"], len(order)), r["cell"]["revision"]["name"], r["cell"]["repeat"])):
        c = r["cell"]
        groups[c["model"].get("name") or c["model"]["id"], c["tier"]].append(Run(
            revision=c["revision"]["name"], repeat=c["repeat"], status=r["status"], matched=r.get("matched"), answer=r.get("answer", ""),
            markers=[m["name"] for m in r.get("markers") or []], steps=r.get("steps") or [], turns=r.get("turns", 0),
            tool_calls=sum((r.get("tool_calls") or {}).values()), tokens=r.get("tokens"), wall_seconds=r.get("wall_seconds", 0.0), cost=r.get("cost"),
            gradings=[*r["gradings"], {k: r.get(k) for k in ("matched", "markers", "graded")}] if r["gradings"] else [],
            environment=environments.read(Path(store), r.get("environment"), c["folder"]),
            files=r.get("files") or [], files_cut=r.get("files_cut"),
            reads=reads.names_of(store, c["folder"]),
        ))
    return dict(groups)


def _revision_order(store: Path) -> dict[str, int]:
    order: dict[str, int] = {}
    from agent_eval.store.store import read_plans

    for plan in read_plans(store, lambda line: print(line, file=sys.stderr)):
        for rev in plan["revisions"]:
            order.setdefault(rev["sha"], len(order))
    return order


def timeline(run: Run, width: int = 70) -> str:
    lines = []
    for k, step in enumerate(run.steps, 1):
        text = " ".join(step["input"].split())
        text = text if len(text) <= width else text[: width - 1] + "…"
        lines.append(f"{k}. {step['tool']}{' ✗' if step['error'] else ''}: {text}")
    return "\n".join(lines) or "(no tool calls)"


def cost(run: Run) -> str:
    tokens = "tokens unknown" if run.tokens is None else f"{run.tokens['new']:,} new · {run.tokens['cached']:,} cached · {run.tokens['generated']:,} generated"
    money = f" · ${run.cost:.4f}" if run.cost is not None else ""
    return f"{run.turns} turns · {run.tool_calls} tool calls · {run.wall_seconds:.1f} s\n{tokens}{money}"


def gradings(run: Run) -> str:
    """Each grading the run has had, oldest first, the current one last: when, by what, what it said."""
    def line(g: dict) -> str:
        when = f"regraded {g['graded']['at'][:16]}" if g.get("graded") else "as run"
        verdict = "matched" if g.get("matched") else "no match" if g.get("matched") is False else "not scored"
        return f"{when}: {verdict} · {', '.join(m['name'] for m in g.get('markers') or []) or '—'}"
    return "\n".join(map(line, run.gradings)) or "as run"


def files(run: Run, most: int = 12) -> str:
    """The agent's files, one a line: + created, ~ changed, - deleted, with their size."""
    sign = {"created": "+", "changed": "~", "deleted": "-"}
    lines = [f"{sign[f['change']]} {f['path']}" + (f" ({f['size']:,} B{'' if f.get('kept', True) else ', not kept'})" if f["change"] != "deleted" else "")
             for f in run.files[:most]]
    lines += [f"… {len(run.files) - most} more"] if len(run.files) > most else []
    return "\n".join(lines + ([run.files_cut] if run.files_cut else [])) or "(none)"


def environment(run: Run, first: Run) -> str:
    """The record's digest and size; against the table's first run, what else differs."""
    if run.environment is None:
        return environments.NOT_RECORDED
    found = environments.packages(run.environment)
    line = f"{environments.digest(run.environment)[:12]}: python {found.get('python', '?')}, {len(found) - ('python' in found)} distributions"
    if run is first or first.environment is None:
        return line
    changed = environments.differences(first.environment, run.environment)
    return line + (f"\nbesides the library, vs {first.revision}: " + "; ".join(changed[:5]) + (" …" if len(changed) > 5 else "") if changed else "")


def show(groups: dict[tuple[str, str], list[Run]], task: str) -> None:
    from rich.table import Table

    out = console(200)
    for (model, tier), found in groups.items():
        table = Table(title=visible(f"{task} · {model} · {tier}"), show_lines=True)
        table.add_column("")
        for run in found:
            table.add_column(visible(f"{run.revision} r{run.repeat}"))
        verdict = lambda r: f"{r.status} · {'matched' if r.matched else 'no match' if r.matched is False else 'not scored'}"  # noqa: E731
        rows = [("result", verdict), ("answer", lambda r: r.answer.strip() or "(none)"),
                ("markers", lambda r: ", ".join(r.markers) or "—"), ("cost", cost), ("read", lambda r: "\n".join(r.reads) or "—"), ("timeline", timeline), ("files", files),
                ("environment", lambda r: environment(r, found[0]))]
        if any(r.gradings for r in found):  # regraded: every grading, so a flip can be traced to its cause
            rows.insert(3, ("gradings", gradings))
        for label, cell in rows:
            table.add_row(label, *[visible(cell(r), newlines=True) for r in found])
        out.print(table)
