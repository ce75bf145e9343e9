"""`agent-eval run`: plan a suite, run the cells not yet done, and say what its comparison found."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import app, fail, make_plan, print_plan, say, user_errors


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml to run.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (every cell, done or to run) and its time (and cost) estimate from the runs already stored, and stop.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cells at once (pi processes).")] = os.cpu_count() or 2,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run every cell again, even those already done.")] = False,
    store: Annotated[Optional[str], typer.Option(help="Store folder; overrides the suite's `store`.")] = None,
    until_decided: Annotated[bool, typer.Option("--until-decided", help="Run the suite's two sides in rounds (one more repeat of every cell each) "
                                                "and stop when its primary metrics are decided, shown smaller than min_effect, or every round is spent.")] = False,
) -> None:
    """Run a suite locally: one pi run per cell; cells already in the store are skipped (resume)."""
    if store is not None and not store.strip():  # Path("") is ".": the project folder would become the store
        fail("--store: is empty, which would make the current folder the store; give a folder, e.g. --store agent-eval-results")
    if until_decided and rerun:
        fail("--until-decided with --rerun: rounds resume from the runs stored; run without --rerun, or into a new --store")
    made = make_plan(suite, rerun, Path(store) if store is not None else None)
    if until_decided:
        from agent_eval.read import rounds

        try:
            rounds.sides(made)
        except user_errors() as err:
            fail(str(err))
    print_plan(made, every_cell=dry_run)
    if until_decided and not dry_run:
        return _rounds(made, jobs)
    if not made.todo:
        if made.aliases and not dry_run:  # results found under their old keys: the plan remembers where, for after the next edit
            from agent_eval.run import local

            local.record(made)
        if not dry_run:
            _found(made)
        return
    from agent_eval.run import local
    from agent_eval.run.estimate import estimate

    say(estimate(made, jobs).line())
    if dry_run:
        return

    try:
        outcome = local.run(made, jobs)
    except user_errors() as err:
        fail(str(err))
    say(f"{len(made.todo)} cells: {outcome.line()}. Results in {made.suite.store_path}")
    if outcome["interrupted"]:
        raise typer.Exit(130)
    if outcome.not_done:  # a CI job must see it: these cells are not done, whoever's fault it was
        typer.echo(f"error: {outcome.not_done} of {len(made.todo)} cells are not done (harness, provider or disk "
                   "failures, above); run again to retry them", err=True)
        raise typer.Exit(1)
    _found(made)


def _found(made) -> None:
    """The run's last line: what the suite's own comparison found (read/summary.py), when it names one."""
    from agent_eval.read import summary

    try:
        said = summary.found(made)
    except user_errors():
        return  # a store compare cannot read is said by compare itself; the run has finished either way
    if said:
        say(said)


def _rounds(made, jobs: int) -> None:
    from agent_eval.read import rounds

    try:
        ended = rounds.run(made, jobs, say)
    except user_errors() as err:
        fail(str(err))
    say(f"{ended.line()}. Results in {made.suite.store_path}")
    if ended.stop == "interrupted":
        raise typer.Exit(130)
    if ended.stop == "incomplete":
        typer.echo(f"error: {ended.not_done} cells of round {len(ended.looks) + 1} are not done (harness, provider or disk failures, "
                   "above): the round is not decided on; run again to retry them", err=True)
        raise typer.Exit(1)
