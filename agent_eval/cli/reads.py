"""`agent-eval reads`: where agents look — which files and help pages runs read, per revision and
tier. The work is in read/reads.py (each run's reads), read/reads_table.py and read/reads_render.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import StoreArg, app, fail, require_store
from .results import Format


@app.command()
def reads(
    store: StoreArg = Path("agent-eval-results"),
    by_model: Annotated[bool, typer.Option("--by-model", help="A group per model too (default: every model together).")] = False,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Only this model (id or name); repeatable.")] = None,
    tier: Annotated[Optional[list[str]], typer.Option("--tier", help="Only this tier; repeatable.")] = None,
    base: Annotated[Optional[str], typer.Option(help="With --head: what head's runs read that base's did not, and the reverse (a revision: SHA prefix, name or ref).")] = None,
    head: Annotated[Optional[str], typer.Option(help="The head revision, named like --base.")] = None,
    top: Annotated[int, typer.Option(help="Files shown per table (json and csv list all).", min=1)] = 20,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Which files and help pages agents read, per revision × tier: the share of runs that read each (12/40),
    among matched and among failed runs, the median turn of the first read and the lines read.

    \b
    Files are named by where they belong: library (the checkout), installed (inside site-packages,
    so revisions line up), skill, inputs, help (`help: wfl top` for `wfl top --help`), other.
    A store written before reads were recorded gets them from its traces, once (no model is called).
    """
    from agent_eval.read import reads as gather
    from agent_eval.read import reads_render as render
    from agent_eval.read import reads_table as tables
    from agent_eval.read.compare import distinct
    from agent_eval.read.sides import CompareError, aliases, resolve

    require_store(store)
    if (base is None) != (head is None):
        fail("--base and --head go together: give both (e.g. --base v1.0 --head main), or neither for every revision")
    cols, found = gather.load(store, model or [], tier or [], lambda line: typer.echo(line, err=True))
    if not len(cols):
        fail(f"{store}: no results{' for these --model/--tier filters' if model or tier else ''}; run a suite first (agent-eval run suite.yaml)")
    if base is not None:
        known = aliases("revision", set(distinct(cols, "sha", "revision", "ref")))
        try:
            b, h = resolve(known, "revision", base), resolve(known, "revision", head)
        except CompareError as err:
            fail(str(err))
        if b == h:
            fail(f"--base {base!r} and --head {head!r} name the same revision: give two different ones")
        changes = tables.diff(cols, found, b, h, by_model)
        if format == Format.json:
            sys.stdout.buffer.write(render.changes_json(changes) + b"\n")
        elif format == Format.csv:
            sys.stdout.write(render.changes_csv(changes))
        else:
            render.changes(changes, base, head, top)
        return
    groups = tables.groups(cols, found, by_model)
    if not groups:
        typer.echo(f"{store}: no run counts here: only harness or provider failures, or tasks run in sessions (reads counts one-shot runs)", err=True)
    if format == Format.json:
        sys.stdout.buffer.write(render.as_json(groups) + b"\n")
    elif format == Format.csv:
        sys.stdout.write(render.as_csv(groups))
    else:
        render.table(groups, top)
