"""The decision's commands: compare (did head do better than base?) and plan-size (how many tasks and
repeats a decision needs), thin layers over agent_eval/read/compare.py, decide.py and plan_size.py."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent_eval.suite.text import visible

from .common import StoreArg, app, fail, require_store


class CompareFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


class Axis(str, Enum):
    revision = "revision"
    model = "model"
    tier = "tier"
    agent = "agent"


@app.command("compare")
def compare_cmd(
    store: StoreArg = Path("agent-eval-results"),
    base: Annotated[str, typer.Option(help="The base: a revision's SHA (prefix), or any name or ref it is stored under (a model or tier with --axis).")] = ...,
    head: Annotated[str, typer.Option(help="The head, named like --base.")] = ...,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Only this model (id or name); repeatable.")] = None,
    tier: Annotated[Optional[list[str]], typer.Option("--tier", help="Only this tier; repeatable.")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", help="Only tasks matching this glob; repeatable.")] = None,
    axis: Annotated[Axis, typer.Option(help="What base and head name; the other axes are held fixed and paired.")] = Axis.revision,
    format: Annotated[CompareFormat, typer.Option("--format", "-f", help="table (terminal), markdown (a PR comment) or json.")] = CompareFormat.table,
    fail_on: Annotated[Optional[list[str]], typer.Option("--fail-on", metavar="METRIC:THRESHOLD",
        help="Exit 1 when METRIC got worse than THRESHOLD, significantly: match:-5 (points), tokens_new:+20% (percent). The rules "
             "are Holm-corrected together: measured on 3,000 simulated PRs with no true change, the examples/ci rules failed 1.5% "
             "(95% CI 1.1-2.0%) of them: rarely, not never (README).")] = None,
    report_url: Annotated[Optional[str], typer.Option(help="Link the published report from the markdown.")] = None,
) -> None:
    """Did head do better than base? Every metric with its change, 95% interval (clustered by task) and verdict.

    \b
    Runs are paired within (model, task, tier, agent version), repeats averaged, and the interval is a t interval
    over per-task differences. Only the suite's primary metrics (decision: in suite.yaml; default match and
    tokens_new) are called better or worse, Holm-corrected across metrics and models: with no true change the
    headline claimed something in 4.2% (95% CI 3.6-5.0%) of 3,000 simulated comparisons, 1 and 3 models
    (README). --base/--head: a SHA (prefix), or any name or ref the revision is stored under.
    Exit 0, or 1 when a --fail-on rule fires, or 2 on bad input.
    """
    import orjson

    from agent_eval.read import compare as cmp
    from agent_eval.read import compare_envs, decide, sequential_verdict
    from agent_eval.read import compare_render as render
    from agent_eval.store.store import read_plans

    require_store(store)
    try:
        rows = cmp.load_rows(store, axis.value, base, head)
        plans = read_plans(store, lambda line: typer.echo(line, err=True))
        result, by_model = decide.verdict(rows, base, head, axis.value, models=model or [], tiers=tier or [], tasks=task or [],
                                          directions=cmp.directions_in(plans), decision=cmp.decision_in(plans))
        in_rounds = None if (model or tier or task) else sequential_verdict.matching(plans, rows, axis.value, base, head)
        if in_rounds:  # the suite stopped early: only the sequential intervals hold (per model: not part of its design)
            result, by_model = sequential_verdict.apply(result, in_rounds, rows, cmp.directions_in(plans), cmp.decision_in(plans)), {}
        rules = [render.parse_rule(r, [m.metric for m in result.metrics]) for r in fail_on or []]
        environment_notes = compare_envs.notes(store, rows, base, head, axis.value)
        from agent_eval.read import reads_table

        result.reading = reads_table.compare_context(store, rows, axis.value, base, head, model or [], tier or [], task or [])
    except cmp.CompareError as err:
        fail(str(err))
    if format == CompareFormat.json:
        sys.stdout.buffer.write(orjson.dumps({**orjson.loads(render.as_json(result)), "environments": environment_notes}, option=orjson.OPT_INDENT_2) + b"\n")
    elif format == CompareFormat.markdown:
        sys.stdout.write(render.markdown(result, report_url, by_model) + "".join(f"\n> ⚠️ {line}\n" for line in environment_notes))
    else:
        render.table(result, by_model)
        for line in environment_notes:
            typer.secho(visible(f"note: {line}"), fg="yellow")
    broken, unchecked = render.fired(result, rules)
    for line in unchecked + broken:
        typer.echo(line, err=True)
    if broken:
        raise typer.Exit(1)


@app.command("plan-size")
def plan_size_cmd(
    store: StoreArg = Path("agent-eval-results"),
    base: Annotated[Optional[str], typer.Option(help="The base, as compare takes it; default: the store's two revisions (or the sides it ran in rounds).")] = None,
    head: Annotated[Optional[str], typer.Option(help="The head, named like --base.")] = None,
    axis: Annotated[Axis, typer.Option(help="What base and head name.")] = Axis.revision,
) -> None:
    """From a pilot store: how many tasks × repeats detect each primary metric's min_effect at 80% power.

    \b
    Splits the spread of the per-task difference compare's interval rests on into its between-task and
    within-task (repeat) parts: repeats shrink only the second (README: Deciding in rounds)."""
    from agent_eval.read import compare as cmp
    from agent_eval.read.plan_size import plan_size
    from agent_eval.store.store import read_plans

    require_store(store)
    plans = read_plans(store, lambda line: typer.echo(line, err=True))
    if (base is None) != (head is None):
        fail("--base and --head: give both, or neither (the store's two revisions)")
    if base is None:
        base, head, axis = _pilot_sides(plans, axis)
    try:
        rows = cmp.load_rows(store, axis.value, base, head)
        sizes = plan_size(rows, base, head, axis.value, cmp.decision_in(plans), cmp.directions_in(plans))
    except cmp.CompareError as err:
        fail(str(err))
    if not sizes:
        fail(f"{store}: base and head share fewer than 2 tasks with data on a primary metric; run more tasks on both sides first")
    for size in sizes:
        typer.echo(visible(size.line()))


def _pilot_sides(plans: list[dict], axis):
    """The sides a store was run in rounds with, else its two revisions."""
    for plan in plans:
        if isinstance(seq := plan.get("sequential"), dict) and seq.get("base"):
            return seq["base"], seq["head"], Axis(seq["axis"])
    shas = list(dict.fromkeys(r["sha"] for p in plans for r in p["revisions"]))
    if len(shas) != 2 or axis != Axis.revision:
        fail(f"the store's suites name {len(shas)} revisions: give --base and --head" + (f" (along --axis {axis.value})" if axis != Axis.revision else ""))
    return shas[0], shas[1], axis
