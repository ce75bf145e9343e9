"""What every `agent-eval` command shares: the app, one-line failures, the plan's header, Hub
errors. The command modules (main, results, jobs) import this one; results also takes jobs's bucket helpers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from agent_eval.suite.text import visible

HELP = """Measure how much work a coding agent (pi) needs to *use* a library.

\b
A PROFILE (profiles/<name>/profile.yaml) says how to install the library at a git revision, what
each TIER gives the agent, and which MARKERS to look for in what it did:
  bare   the library installed, an empty working dir
  clone  the library's source at that revision checked out in the working dir
  skill  the library installed, plus its Skill (curated docs) loaded with pi's --skill
A TASK (tasks/<profile>/<id>.yaml) is a prompt with an expected answer (substring, regex or exact).
A SUITE (suite.yaml) picks models, revisions, tasks, tiers and repeats; every combination is a CELL.
Each cell runs pi once and stores result.json, pi's trace and the proxy's token log.

\b
Start with:  agent-eval validate suite.yaml   then   agent-eval run suite.yaml --dry-run
"""

app = typer.Typer(
    name="agent-eval", help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def fail(message: str, code: int = 2) -> None:
    # The message may quote what a file held (a name, a path): its control characters are shown, not obeyed.
    typer.echo(f"error: {visible(message)}", err=True)
    raise typer.Exit(code)


def user_errors() -> tuple[type[Exception], ...]:
    from agent_eval.run.agent import AgentError
    from agent_eval.run.serve import ServeError
    from agent_eval.suite.config import ConfigError
    from agent_eval.suite.releases import ReleaseError
    from agent_eval.suite.repo import RepoError

    return ConfigError, RepoError, ReleaseError, AgentError, ServeError


StoreArg = Annotated[Path, typer.Argument(help="The store folder.")]


def require_repo_id(value: str, option: str, example: str) -> None:
    if "/" not in value:
        fail(f"{option} is required as ORG/NAME, e.g. {option} {example}")


def require_store(store: Path) -> None:
    from agent_eval.store import index

    if not (store / "runs").is_dir():
        fail(f"{store}: no runs/ folder here; is this a store? (default ./agent-eval-results)")
    try:
        index.usable(store)  # every reader opens the index
    except index.UnusableIndex as err:
        fail(str(err))


def make_plan(suite: Path, rerun: bool = False, store: Path | None = None):
    from agent_eval.run import plan

    try:
        return plan.make(suite, rerun=rerun, store=store)
    except user_errors() as err:
        fail(str(err))


def say(text: str) -> None:
    """A line to stderr, with any control character that came from a file or the store shown, not obeyed."""
    typer.echo(visible(text), err=True)


def print_plan(made, every_cell: bool) -> None:
    s = made.suite
    total = len(made.todo) + len(made.done)
    left_out = f"{made.combinations} − {made.combinations - total} not applicable = " if made.combinations != total else ""
    versions = s.agent.version or []
    agents = f" × {len(versions)} pi versions ({', '.join(versions)})" if len(versions) > 1 else ""
    say(
        f"suite {s.name}: {len(s.models)} models{agents} × {len(made.revisions)} revisions × {len(made.tasks)} tasks × "
        f"{len(s.tiers)} tiers × {s.repeats} repeats = {left_out}{total} cells; "
        f"{len(made.done)} done, {len(made.todo)} to run"
    )
    if s.sessions:
        drawn = made.summary()["sessions"]["orders_drawn"]
        say(f"  sessions: {len(drawn)} groups of up to {s.sessions.tasks} tasks, each in {s.sessions.orders} orders "
            f"(rotations, seed {s.sessions.seed}): {len(made.units()) + len({c.session.id for c in made.done})} sessions; "
            + "; ".join(" | ".join(" ".join(ids) for ids in group) for group in drawn))
    for reason in made.not_applicable:
        say(f"  not applicable: {reason}")
    for reason in made.collapsed:
        say(f"  collapsed: {reason}")
    if made.resolve_at:
        say(f"  dependencies resolved as of {made.resolve_at} ({made.resolve_source}; the library under test exempt)")
    for reason in made.changed:
        say(f"  {reason}")
    for reason in made.unreadable:
        say(f"  unreadable, will run again: {reason}")
    if made.stale_grading:
        say(f"  {made.stale_grading} done results were graded under an older grading (answers, markers, verifiers or judges "
            f"edited since): `agent-eval regrade --suite {s.path}` brings them up to date; nothing runs again for it")
    from agent_eval.run.sandbox import isolation, unseen_path

    found = isolation()
    say(f"isolation: {found.detail}" if found.name == "bwrap" else f"isolation: NONE — {found.detail}")
    if found.name == "bwrap" and (hidden := unseen_path(os.environ.get("PATH", ""))):
        more = f" and {len(hidden) - 2} more (agent-eval doctor lists them)" if len(hidden) > 2 else ""
        say(f"  PATH entries the sandboxed agent will not have (not in its mount view): {':'.join(hidden[:2])}{more}")
    if every_cell:
        done = {c.key for c in made.done}
        for cell in made.done + made.todo:
            state = "done" if cell.key in done else "run "
            where = f" · session {cell.session.id[:8]} #{cell.session.position}" if cell.session else ""
            typer.echo(visible(f"  {state}  {cell.model.display} · pi {cell.agent_version} · {cell.revision.name} ({cell.revision.sha[:10]}) · {cell.tier} · {cell.task.id} · r{cell.repeat}{where}"))


def hub_errors() -> tuple[type[Exception], ...]:
    import httpx2  # what huggingface_hub talks HTTP with
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError

    return HfHubHTTPError, LocalTokenNotFoundError, HFValidationError, httpx2.TransportError


HUB_HINTS = {
    401: "the Hub did not accept the token: set HF_TOKEN or run `hf auth login`",
    403: "the token may not do this: use one with write access to the repo, bucket or Jobs of this namespace",
    404: "not found: check the ORG/NAME (and that the token can see it)",
}


def one_line(err: Exception) -> str:
    """One line with the cause: for a Hub reply, its status, the server's own message and what to do."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, HfHubHTTPError) and err.response is not None:
        status = err.response.status_code
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        generic = bool(lines) and lines[0].startswith(("Client error", "Server error"))  # httpx's words, not the Hub's
        said = (err.server_message or " ".join(lines[1:] if generic else lines[:1])).strip().replace("\n", " ")[:300]
        hint = HUB_HINTS.get(status, "")
        if status == 401:
            from huggingface_hub import get_token

            hint = hint if get_token() else "no Hugging Face token found: set HF_TOKEN or run `hf auth login`"
        parts = [f"the Hub answered {status} to {err.response.request.method} {err.response.url.path}", said, hint]
        return "; ".join(p for p in parts if p)
    if type(err).__module__.startswith("httpx"):
        return f"cannot reach the Hub at {constants.ENDPOINT} ({err}); check the network or HF_ENDPOINT"
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
