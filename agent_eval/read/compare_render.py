"""A Comparison as the user reads it: a rich table on a terminal, a PR comment in markdown, JSON with
a stable schema, and the --fail-on gate that turns it into a CI exit code."""

from __future__ import annotations

import re

import orjson
from pydantic import BaseModel

from agent_eval.suite.decision import effect_size
from agent_eval.suite.text import console, visible

from .compare import CompareError, Comparison, Metric
from .paired import MIN_TASKS
from .sequential_verdict import note as sequential_note
from .stats import holm

JSON_FIELDS = ["metric", "base", "head", "change", "ci_low", "ci_high", "verdict", "n_tasks", "n_runs_base", "n_runs_head"]


def value(m: Metric, x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f}%" if m.kind == "rate" else f"{x:,.4f}" if m.metric == "cost" else f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def change(m: Metric) -> str:
    if m.change is None:
        return "—"
    unit = " pts" if m.kind == "rate" else "%"
    shown = lambda x: "from 0" if m.kind == "cost" and x > FROM_NOTHING else f"{x:+.1f}"  # noqa: E731
    interval = f" [{shown(m.ci_low)}, {shown(m.ci_high)}]" if m.ci_low is not None else ""
    return f"{shown(m.change)}{'' if shown(m.change) == 'from 0' else unit}{interval}"


FROM_NOTHING = 1e5  # % : a cost's mean relative difference at its +2 edge (nothing at base on every task) is no ratio


def mde(m: Metric) -> str:
    """The smallest change the sample detects (80% power): ±points for a rate, the pair of
    percentages for a cost (a ratio: +37.5% up is -27.3% down); — when there is no spread to tell."""
    if m.mde is None:
        return "—"
    return f"±{m.mde:.1f} pts" if m.kind == "rate" else f"+{m.mde:.1f}% / {m.mde_down:.1f}%"


def rows(c: Comparison) -> list[list[str]]:
    return [[m.metric, value(m, m.base), value(m, m.head), change(m), m.verdict, str(m.n_tasks), f"{m.n_runs_base}/{m.n_runs_head}", mde(m)]
            for m in c.metrics]


HEADER = ["metric", "base", "head", "change [95% CI]", "verdict", "tasks", "runs b/h", "detectable"]


def verdicts(c: Comparison, model: str = "all", n_tasks: int | None = None) -> str:
    """The headline's claims for all models or one, as words: from c.headline, nothing else."""
    claims = [x for x in c.headline if x.model == model]
    parts = [f"{word}: {', '.join(x.metric for x in claims if x.verdict == word)}" for word in ("better", "worse")
             if any(x.verdict == word for x in claims)]
    n = c.n_tasks if n_tasks is None else n_tasks
    return "; ".join(parts) or (f"too few shared tasks to decide ({MIN_TASKS} needed)" if n < MIN_TASKS else "no detectable change")


def headline(c: Comparison) -> str:
    return f"{c.head} vs {c.base} — {verdicts(c)} ({c.n_tasks} shared tasks)."


def warnings(c: Comparison) -> list[str]:
    out = []
    if c.n_tasks < 5:
        out.append(f"only {c.n_tasks} shared tasks: intervals need at least 5 and are not shown")
    if c.dropped_cells:
        shown = ", ".join(c.dropped_cells[:10]) + (f" … and {len(c.dropped_cells) - 10} more" if len(c.dropped_cells) > 10 else "")
        out.append(f"{len(c.dropped_cells)} cells ran on one side only and were left out: {shown}")
    if c.tasks_for_10_points:
        out.append(f"detecting a 10-point match change would take about {c.tasks_for_10_points} tasks at this spread (80% power)")
    return out


def table(c: Comparison, by_model: dict[str, Comparison] | None = None) -> None:
    from rich.table import Table

    out = console(200)  # names come from the store: no markup, control characters written out
    t = Table(title=visible(f"{c.axis}: {c.base} → {c.head} · {c.n_tasks} tasks · {c.n_runs_base}/{c.n_runs_head} runs"), box=None)
    for h in HEADER:
        t.add_column(h, justify="left" if h in ("metric", "verdict") else "right")
    style = {"better": "green", "worse": "red"}
    for r, m in zip(rows(c), c.metrics, strict=True):
        t.add_row(*map(visible, r), style=style.get(m.verdict))
    out.print(t)
    for f in c.flips[:FLIPS_LISTED]:
        out.print(visible(f"flip: {f.task} ({f.cell}) {f.now}: {f.base:.0f}% → {f.head:.0f}%"))
    if len(c.flips) > FLIPS_LISTED:
        out.print(visible(more_flips(c)))
    for line in c.reading:
        out.print(visible(f"reading (context, not a verdict): {line}"))
    out.print(visible(f"headline: {verdicts(c)}"))
    if said := sequential_note(c):
        out.print(visible(f"sequential rounds: {said}"))
    for model, m in (by_model or {}).items() if by_model and len(by_model) > 1 else ():
        out.print(visible(f"  {model}: {verdicts(c, model, m.n_tasks)} ({m.n_tasks} tasks)"))
    for w in warnings(c):
        out.print(visible(f"note: {w}"), style="yellow")


FLIPS_LISTED = 20  # a terminal or a PR comment; --format json lists every flip


def more_flips(c: Comparison) -> str:
    fixed = sum(f.now == "fixed" for f in c.flips)
    return (f"… {len(c.flips) - FLIPS_LISTED} more flips ({fixed} fixed, {len(c.flips) - fixed} broken in all; "
            f"a cell's majority verdict flips by chance too: read the match interval above; --format json lists them all)")


def markdown(c: Comparison, report_url: str | None = None, by_model: dict[str, Comparison] | None = None) -> str:
    lines = [f"### agent-eval: {headline(c)}", ""]
    lines += [f"Sequential rounds: {said}.", ""] if (said := sequential_note(c)) else []
    if by_model and len(by_model) > 1:
        lines += [f"- **{model}**: {verdicts(c, model, m.n_tasks)} ({m.n_tasks} tasks)" for model, m in by_model.items()] + [""]
    primary = ", ".join(c.decision.get("primary", []))
    lines += [f"Claims are made on the primary metrics ({primary}) only, with a {c.decision.get('correction', 'holm').title()} correction "
              f"over the {c.decision.get('family', 0)} claims this headline could make (family-wise error under 5%); the other rows are "
              "exploratory: their interval, no verdict.", ""]
    lines += [f"Comparing **{c.axis}** `{c.base}` (base) → `{c.head}` (head): "
              f"{c.n_tasks} shared tasks, {c.n_runs_base} base runs, {c.n_runs_head} head runs.", "",
              "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r[:4] + [f"**{r[4]}**" if r[4] in ("better", "worse") else r[4]] + r[5:]) + " |" for r in rows(c)]
    if c.flips:
        lines += ["", "**Tasks whose match flipped**", ""] + [f"- `{f.task}` ({f.cell}): {f.now}, {f.base:.0f}% → {f.head:.0f}%" for f in c.flips[:FLIPS_LISTED]]
        lines += [f"- {more_flips(c)}"] if len(c.flips) > FLIPS_LISTED else []
    if c.movers:
        lines += ["", "**Largest movers**", ""] + [f"- {m.metric} `{m.task}`: {m.base:,.0f} → {m.head:,.0f} ({m.change:+.0f}%)" for m in c.movers]
    if c.reading:
        lines += ["", "**Where agents looked** (context, not a verdict: `agent-eval reads` has the rest)", ""] + [f"- {line}" for line in c.reading]
    for w in warnings(c):
        lines += ["", f"> ⚠️ {w}"]
    lines += ["", f"<details><summary>How the intervals were computed</summary>\n\n{c.method}\n</details>"]
    if report_url:
        lines += ["", f"[Full report]({report_url})"]
    return "\n".join(lines) + "\n"


def as_json(c: Comparison) -> bytes:
    metrics = [{k: getattr(m, k) for k in JSON_FIELDS} | {"kind": m.kind, "direction": m.direction, "mde": m.mde, "mde_down": m.mde_down,
                                                         "p": m.p, "primary": m.primary} for m in c.metrics]
    out = {"axis": c.axis, "base": c.base, "head": c.head, "n_tasks": c.n_tasks, "n_runs_base": c.n_runs_base, "n_runs_head": c.n_runs_head,
           "headline": [x.model_dump() for x in c.headline], "decision": c.decision,
           "metrics": metrics, "dropped_cells": c.dropped_cells, "flips": [f.model_dump() for f in c.flips],
           "movers": [m.model_dump() for m in c.movers], "tasks_for_10_points": c.tasks_for_10_points, "method": c.method,
           "reading": c.reading}
    return orjson.dumps(out, option=orjson.OPT_INDENT_2)


# --- the gate -----------------------------------------------------------------------------------------


class Rule(BaseModel):
    metric: str
    threshold: float  # in the metric's unit: points for rates, % for costs
    text: str


def parse_rule(text: str, known: list[str]) -> Rule:
    found = re.fullmatch(r"([\w:.-]+):([+-]?\d+(?:\.\d+)?%?)", text.strip())
    if not found:
        raise CompareError(f"--fail-on {text!r}: write METRIC:THRESHOLD, e.g. match:-5 (points) or tokens_new:+20% (percent)")
    if found[1] not in known:
        raise CompareError(f"--fail-on {text!r}: no metric {found[1]!r}; known: {', '.join(known)}")
    try:
        return Rule(metric=found[1], threshold=effect_size(found[1], found[2]), text=text)
    except ValueError as err:
        raise CompareError(f"--fail-on {text!r}: {err}") from None


GATE_ALPHA = 0.025  # one-sided: a rule that fires always has its 95% interval on the bad side of zero


def fired(c: Comparison, rules: list[Rule]) -> tuple[list[str], list[str]]:
    """(the rules a comparison breaks, the rules it could not check). A rule breaks on a change past
    the threshold in the bad direction that is significantly bad: one-sided tests, Holm-corrected
    across every rule checked, so all the rules of one invocation together fail a PR with no true
    change at most 2.5% of the time (measured: README). Without an interval (no data, fewer than 5
    tasks, a neutral marker) the rule cannot be checked, and says so rather than passing in silence."""
    by_name = {m.metric: m for m in c.metrics}
    unchecked, checked = [], []
    for rule in rules:
        m = by_name[rule.metric]
        if m.ci_low is None or m.direction == "neutral":
            why = ("has no direction (give the marker direction: up or down)" if m.direction == "neutral"
                   else "has no data (no run recorded it)" if m.verdict == "no data"
                   else f"has no interval (fewer than {MIN_TASKS} shared tasks)")
            unchecked.append(f"--fail-on {rule.text} not checked: {m.metric} {why}")
        else:
            checked.append((rule, m))
    bad = [(m.change < 0) == (m.direction == "up") for _, m in checked]
    one_sided = [m.p / 2 if b else 1 - m.p / 2 for (_, m), b in zip(checked, bad, strict=True)]
    rejected, _ = holm(one_sided, GATE_ALPHA)
    broken = [f"--fail-on {rule.text} fired: {m.metric} changed {change(m)}, worse than {rule.threshold:+g}{' pts' if m.kind == 'rate' else '%'}"
              for (rule, m), r in zip(checked, rejected, strict=True)
              if r and (m.change <= rule.threshold if m.direction == "up" else m.change >= rule.threshold)]
    return broken, unchecked


# --- the report's Compare view ------------------------------------------------------------------------


def for_report(plans: list[dict], flat) -> list[dict]:
    """Comparisons for the report to show, computed here so the page shows the CLI's numbers and
    never redoes the statistics. Revisions: every pair when there are at most 4, else each against
    the one before it, and the first against the last (in the suites' order); models, tiers and
    agent versions: every pair when at most 3, else each against the first. At most FLIPS_SHOWN flips a pair.
    `plans`: the suites' plan.json; `flat`: the store's one-shot runs, as columns (or flat rows)."""
    from . import compare as cmp
    from . import sequential_verdict

    cells, decision = cmp.summarize(flat, cmp.directions_in(plans)), cmp.decision_in(plans)
    planned = {"revision": [r["sha"] for p in plans for r in p["revisions"]], "model": [m["id"] for p in plans for m in p["models"]],
               "tier": [t for p in plans for t in p.get("tiers", [])], "agent": [v for p in plans for v in p.get("agent_versions", [])]}
    out = []
    for axis, listed in planned.items():
        present = set(cells.grouped(cmp.CELL.index(axis)))
        order = list(dict.fromkeys([v for v in listed if v in present] + sorted(present)))
        every = len(order) <= (4 if axis == "revision" else 3)
        if every:
            pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
        elif axis == "revision":
            pairs = list(zip(order, order[1:])) + [(order[0], order[-1])]
        else:
            pairs = [(order[0], b) for b in order[1:]]
        for base, head in pairs:
            try:
                c = cmp.compare(cells, base, head, axis, most_flips=FLIPS_SHOWN, decision=decision)
                if in_rounds := sequential_verdict.matching(plans, flat, axis, base, head):  # stopped early: its intervals only
                    c = sequential_verdict.apply(c, in_rounds, flat, cmp.directions_in(plans), decision)
            except cmp.CompareError:
                continue  # e.g. no shared cell: nothing to show for this pair
            shown = orjson.loads(as_json(c))
            out.append({**shown, "n_flips": c.n_flips, "table": rows(c),
                        "warnings": warnings(c) + ([f"sequential rounds: {said}"] if (said := sequential_note(c)) else []), "headline": headline(c)})
    return out


FLIPS_SHOWN = 100  # the report's data stays small at 100k runs; the command lists them all
