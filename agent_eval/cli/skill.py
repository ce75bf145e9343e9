"""`agent-eval skill run`: a Skill author's eval files (the Agent Skills guide's evals/evals.json and
a trigger query set) run as an ordinary suite, in arms with the Skill, without it and with its older
version (suite/skill_arms.py), then summed up (read/skill_summary.py) and, when asked, written out
in the guide's own layout (read/skill_workspace.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import app, fail, say, user_errors

skill_app = typer.Typer(help="Evaluate an Agent Skill: its evals.json cases and trigger queries, with and without it.", no_args_is_help=True)
app.add_typer(skill_app, name="skill")


@skill_app.command("run")
def skill_run(
    skill: Annotated[Path, typer.Argument(help="The Skill's folder: SKILL.md, and evals/evals.json and/or a trigger query set.")],
    suite: Annotated[Path, typer.Option(help="The library's suite: its profile (how to install the library), models, revision, "
                                              "repeats, budgets, judges and store.")] = Path("suite.yaml"),
    old: Annotated[Optional[str], typer.Option(help="The Skill's previous version, run as the old_skill arm: a git revision of the "
                                                    "repository the Skill folder is in (HEAD~1, v1.0, a SHA), or a folder.")] = None,
    queries: Annotated[Optional[Path], typer.Option(help="The trigger query set ([{query, should_trigger}]); default: "
                                                         "eval_queries.json or the one *queries*.json under evals/, else beside SKILL.md.")] = None,
    query_repeats: Annotated[int, typer.Option(min=1, help="Runs of each trigger query (the guide: 3 or more).")] = 3,
    until_activated: Annotated[bool, typer.Option("--until-activated", help="End a trigger query's run at its first read of "
                                                  "SKILL.md (or its answer): activation is then known, the rest would cost for nothing.")] = False,
    workspace: Annotated[Optional[Path], typer.Option(help="Also write the guide's files here: iteration-N/eval-<id>/<arm>/"
                                                           "{timing.json, grading.json, outputs/} and benchmark.json.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Where the generated suite goes; default: skill-evals/<skill> beside --suite.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cells at once (pi processes).")] = os.cpu_count() or 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write the suite and print its plan; run nothing.")] = False,
) -> None:
    """Run a Skill's evals with it (with_skill), without it (without_skill) and, with --old, its older version (old_skill).

    \b
    Each evals.json case becomes a task whose expectations a judge checks one by one, with evidence
    (typed checks it understands run as deterministic assertions); each trigger query a task run
    --query-repeats times with the Skill listed, not forced: it triggered when the agent read SKILL.md.
    The result is an ordinary suite (written to --out) in the suite's store: `compare --axis tier
    --base without_skill --head with_skill` decides on the expectation pass rate (score), recall and
    false activation like any comparison. Exit 2 on bad input, nothing stored.
    """
    from agent_eval.suite import skill_arms, skill_evals

    from .run import run as run_suite

    if not suite.is_file():
        fail(f"--suite {suite}: no such file; name the library's suite.yaml (its profile, models and store)")
    try:
        name = skill_evals.skill_meta(skill)[0]
        made = skill_arms.generate(skill, suite, out or suite.parent / "skill-evals" / name, old=old, queries=queries,
                                   until_activated=until_activated, query_repeats=query_repeats)
    except user_errors() as err:
        fail(str(err))
    for line in made.notes:
        say(line)
    say(f"the Skill's suite: {made.suite} (arms: {', '.join(made.arms)})")
    try:
        run_suite(made.suite, dry_run=dry_run, jobs=jobs, rerun=False, store=None, until_decided=False)
    except typer.Exit as ended:
        if ended.exit_code == 1:  # some cells not done (said above): what is done is still worth reading
            _report(made.suite, workspace)
        raise
    if not dry_run:
        _report(made.suite, workspace)


def _report(suite: Path, workspace: Path | None) -> None:
    from agent_eval.read import skill_summary, skill_workspace
    from agent_eval.read.skill_runs import SkillReadError
    from agent_eval.suite.load import load_suite

    loaded = load_suite(suite)
    try:
        typer.echo(skill_summary.text(skill_summary.summarize(loaded.store_path, loaded.name)))
        if workspace is not None:
            written = skill_workspace.write(loaded.store_path, loaded.name, workspace)
            say(f"the guide's files: {', '.join(map(str, written)) or 'none (no run to write)'}")
    except SkillReadError as err:
        fail(str(err))
