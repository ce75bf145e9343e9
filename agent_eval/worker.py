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


def failed(cell: Cell, store: Store, status: str, message: str, started: float) -> Result:
    """Record a cell that never reached pi."""
    if not store.run_dir(cell).is_dir():
        store.start(cell)
    result = Result(
        cell=cell, status=status, errors=[message], wall_seconds=round(time.perf_counter() - started, 3),
        harness_version=__version__, finished_at=now(),
    )
    store.finish(result)
    return result


def run_cell(
    cell: Cell, profile: Profile, task: Task, store: Store, proxy: Proxy,
    control: Control | None = None, env: prepare.Env | None = None, upstream: str | None = None,
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
        return failed(cell, store, "setup_error", f"{type(err).__name__}: {err}", started)
    meter = Meter(upstream or cell.model.base_url or HF_ROUTER, _key(cell), folder / "proxy.jsonl", cell.budgets, control)
    try:
        run = _run_pi(cell, task, ws, env, proxy, meter, folder)
        if control.reason == "interrupted":
            return None
        _keep_trace(ws.scratch / "session.jsonl", folder, secrets_of(cell))
    finally:
        shutil.rmtree(ws.scratch, ignore_errors=True)

    trace = traces.parse(folder / "trace.jsonl")
    status, ended_by, extra = score.status(run, control.reason, trace, meter.tokens.generated)
    result = Result(
        cell=cell, status=status, ended_by=ended_by, matched=score.matches(task, trace.answer), answer=trace.answer,
        agent_seconds=round(run.seconds, 3), turns=trace.turns, tool_calls=trace.tool_calls, tokens=meter.tokens,
        tokens_trace=trace.tokens, requests=meter.requests, cost=trace.cost or None,
        markers=score.fired(profile.markers, trace), errors=[e for e in [control.detail] if e] + extra + trace.errors,
        steps=trace.steps, harness_version=__version__, finished_at=now(),
        wall_seconds=round(time.perf_counter() - started, 3),
    )
    store.finish(result)
    return result


def _key(cell: Cell) -> str:
    return os.environ.get(cell.model.key_env, "") if cell.model.key_env else ""


def _run_pi(cell: Cell, task: Task, ws: prepare.Workspace, env: prepare.Env, proxy: Proxy, meter: Meter, folder: Path) -> agent.AgentRun:
    (folder / "proxy.jsonl").touch()
    dummy = proxy.register(meter)
    try:
        agent.write_config(ws.home, cell.model, proxy.url, dummy)
        cmd = agent.command(cell.model, cell.thinking, ws.scratch / "session.jsonl", ws.skill, cell.agent_version)
        timeout = task.timeout or cell.budgets.timeout
        return agent.run(cmd, task.prompt, ws.workdir, agent.environment(ws.home, env.bin), folder / "agent.log", timeout, meter.control)
    finally:
        proxy.unregister(dummy)


def _keep_trace(session: Path, folder: Path, secrets: list[str]) -> None:
    """pi's session becomes trace.jsonl, and its log stays: both with known secrets redacted."""
    if session.is_file():
        (folder / "trace.jsonl").write_bytes(redact(session.read_bytes(), secrets))
    log = folder / "agent.log"
    log.write_bytes(redact(log.read_bytes(), secrets))
