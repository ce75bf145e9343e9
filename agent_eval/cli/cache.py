"""`agent-eval cache`: the environments in the cache, listed and pruned (run/envcache.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import app, fail, say

cache_app = typer.Typer(help="The revision environments in the cache: list them (`cache`), prune them (`cache prune`).",
                        invoke_without_command=True)
app.add_typer(cache_app, name="cache")

StoresOpt = Annotated[Optional[list[Path]], typer.Option("--store", help="A store whose results count as using environments; repeatable. Default: ./agent-eval-results.")]
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@cache_app.callback()
def cache_list(ctx: typer.Context, store: StoresOpt = None) -> None:
    """Every environment: profile, revision, size, last used, and which suites' results (in the stores) used it."""
    if ctx.invoked_subcommand:
        return
    from agent_eval.run import envcache

    found = envcache.listing(stores(store))
    for env in found:
        used = ", ".join(env.suites) or ("no result in the stores looked at" if env.record else "not recorded (built before records)")
        typer.echo(f"{env.profile:16} {env.revision[:60]:60} {envcache.human(env.size):>9}  last used {ago(env.last_used):>9}  {used}")
    say(f"{len(found)} environments, {envcache.human(sum(e.size for e in found))} in {envcache.cache_dir() / 'envs'}")


@cache_app.command("prune")
def cache_prune(
    older_than: Annotated[Optional[str], typer.Option(help="Remove environments last used longer ago than this: 30d, 12h, 2w.")] = None,
    unused: Annotated[bool, typer.Option("--unused", help="Remove environments no result in the stores ran with.")] = False,
    store: StoresOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed and how much it would free; remove nothing.")] = False,
) -> None:
    """Remove environments by age, or those no result references (both: those that are both). The next run builds what it needs again."""
    from agent_eval.run import envcache

    if older_than is None and not unused:
        fail("say what to prune: --older-than 30d (last used that long ago), --unused (no result ran with it), or both")
    seconds = duration(older_than) if older_than else None
    gone = envcache.chosen(envcache.listing(stores(store)), seconds, unused)
    freed, skipped = 0, 0
    for env in gone:
        if dry_run or envcache.remove(env):
            freed += env.size
            typer.echo(f"{'would remove' if dry_run else 'removed'} {env.path.name} ({env.profile} {env.revision[:40]}, {envcache.human(env.size)})")
        else:
            skipped += 1
            say(f"skipped {env.path.name}: being built right now")
    say(f"{'would free' if dry_run else 'freed'} {envcache.human(freed)} ({len(gone) - skipped} environments)")


def stores(given: list[Path] | None) -> list[Path]:
    return given or [Path("agent-eval-results")]


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip())
    if not match:
        fail(f"--older-than '{text[:40]}' is not a duration; write a number and a unit: 90m, 12h, 30d, 2w")
    return float(match[1]) * UNITS[match[2]]


def ago(when: float) -> str:
    seconds = time.time() - when
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return "just now"
