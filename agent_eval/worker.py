"""Worker: one cell end to end — prepare, run pi through the proxy, parse its trace, score, store.

The same function runs in-process for the local backend and inside a Job (`agent-eval worker
cell.json`); schedulers only decide where it runs. It writes only its own run folder, and
result.json last.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import git

from . import __version__, agent, prepare, profiles, repo, score
from . import trace as traces
from .config import Profile, Task
from .proxy import Control, Meter, Proxy
from .store import Cell, Result, Store, now

HF_ROUTER = os.environ.get("AGENT_EVAL_HF_ROUTER", "https://router.huggingface.co/v1")
SETUP_FAILURES = (prepare.SetupError, repo.RepoError, git.GitCommandError, OSError)


def secrets_of(cell: Cell) -> list[str]:
    """Values that must never be stored: the model key and the Hub token."""
    names = {cell.model.key_env, "HF_TOKEN"} - {""}
    return [os.environ[n] for n in names if len(os.environ.get(n, "")) >= 6]


def redact(data: bytes, secrets: list[str]) -> bytes:
    for secret in secrets:
        data = data.replace(secret.encode(), b"[REDACTED]")
    return data


def setup_failed(cell: Cell, store: Store, message: str, started: float) -> Result:
    result = Result(
        cell=cell, status="setup_error", errors=[message], wall_seconds=round(time.perf_counter() - started, 3),
        harness_version=__version__, finished_at=now(),
    )
    store.finish(result)
    return result


def run_cell(
    cell: Cell, profile: Profile, task: Task, store: Store, proxy: Proxy,
    control: Control | None = None, env: prepare.Env | None = None,
) -> Result | None:
    """Run one cell; None when it was interrupted (nothing stored, so the next run retries it)."""
    started = time.perf_counter()
    control = control or Control()
    folder = store.start(cell)
    url = profiles.repo_url(profile)
    try:
        env = env or prepare.environment(profile, url, cell.revision.sha)
        ws = prepare.workspace(cell, profile, task, url)
    except SETUP_FAILURES as err:
        return setup_failed(cell, store, f"{type(err).__name__}: {err}", started)
    try:
        return _run_agent(cell, profile, task, store, proxy, control, env, ws, folder, started)
    finally:
        shutil.rmtree(ws.scratch, ignore_errors=True)


def _run_agent(cell, profile, task, store, proxy, control, env, ws, folder: Path, started: float) -> Result | None:
    secrets = secrets_of(cell)
    key = os.environ.get(cell.model.key_env, "") if cell.model.key_env else ""
    meter = Meter(cell.model.base_url or HF_ROUTER, key, folder / "proxy.jsonl", cell.budgets, control)
    (folder / "proxy.jsonl").touch()
    dummy = proxy.register(meter)
    session = ws.scratch / "session.jsonl"
    try:
        agent.write_config(ws.home, cell.model, proxy.url, dummy)
        cmd = agent.command(cell.model, cell.thinking, session, ws.skill)
        timeout = task.timeout or cell.budgets.timeout
        run = agent.run(cmd, task.prompt, ws.workdir, agent.environment(ws.home, env.bin), folder / "agent.log", timeout, control)
    finally:
        proxy.unregister(dummy)
    if control.reason == "interrupted":
        return None
    if session.is_file():
        (folder / "trace.jsonl").write_bytes(redact(session.read_bytes(), secrets))
    log = folder / "agent.log"
    log.write_bytes(redact(log.read_bytes(), secrets))

    trace = traces.parse(folder / "trace.jsonl")
    status, ended_by, extra = score.status(run, control.reason, trace, meter.tokens.generated)
    result = Result(
        cell=cell, status=status, ended_by=ended_by, matched=score.matches(task, trace.answer),
        answer=trace.answer, agent_seconds=round(run.seconds, 3), turns=trace.turns, tool_calls=trace.tool_calls,
        tokens=meter.tokens, tokens_trace=trace.tokens, requests=meter.requests, cost=trace.cost or None,
        markers=score.fired(profile.markers, trace), errors=extra + trace.errors, steps=trace.steps,
        harness_version=__version__, finished_at=now(),
    )
    result.wall_seconds = round(time.perf_counter() - started, 3)
    store.finish(result)
    return result
