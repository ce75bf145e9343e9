"""Worker: one cell end to end — prepare, run pi through the proxy, parse its trace, score, store
— or a session's cells, one after another in one pi session.

The same function runs in-process for the local backend and inside a Job (`agent-eval worker
cell.json`); schedulers only decide where it runs. It writes only its own run folder, and
result.json last.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Callable, ContextManager

import git

from agent_eval import __version__
from agent_eval.grade import activation, graders, reads, score
from agent_eval.grade import trace as traces
from agent_eval.store import environments
from agent_eval.store.records import RETRIED, Cell, Grader, Result
from agent_eval.store.redact import held, redact
from agent_eval.store.store import Store, now
from agent_eval.suite import identity, profiles, releases, repo
from agent_eval.suite.config import ConfigError, ModelSpec, Profile
from agent_eval.suite.task import Task
from agent_eval.suite.load import load_task

from . import agent, envs, judge, outcome, prepare, sandbox, scratch, verifier, workfiles
from . import proxy as proxies
from .proxy import Control, Meter, Proxy

SETUP_FAILURES = (prepare.SetupError, repo.RepoError, releases.ReleaseError, git.GitCommandError, OSError)


def failed(cell: Cell, store: Store, status: str, message: str, started: float, secrets: list[str] = ()) -> Result:
    """Record a cell that never reached pi."""
    if not store.run_dir(cell).is_dir():
        store.start(cell)
    result = Result(
        cell=cell, status=status, errors=[message], wall_seconds=round(time.perf_counter() - started, 3),
        isolation=_isolation(), harness_version=__version__, finished_at=now(),
    )
    store.finish(result, secrets or held(key_names([cell])))
    return result


def _isolation() -> str | None:
    """How pi runs here, said on a failure too; None only when AGENT_EVAL_SANDBOX is misspelt (its
    error is what failed), as a failure must still be stored."""
    try:
        return sandbox.isolation().name
    except ConfigError:
        return None


def run_unit(
    cells: list[Cell], profile: Profile, tasks: dict[str, Task], store: Store, proxy: Proxy, controls: dict[str, Control],
    env: prepare.Env | None = None, served: dict[str, str] | None = None, secrets: list[str] | None = None,
    on_stored: Callable[[Cell, Result], None] = lambda cell, result: None, turn: Callable[[ModelSpec], ContextManager] = lambda model: nullcontext(),
) -> list[Result | None]:
    """Run a unit of work: one cell, or a session's cells one after another in one pi session — one
    working dir, one session file, a pi process per task (`--session` reopens it), so every task
    keeps its own budgets, timeout, proxy log and result. A result per cell, None where none was
    stored: interrupted, or never reached because an earlier task's harness, provider or machine
    failed (the session stops there; as it is not done, the next run runs it again whole).
    `served`: the URL of each offline model (by id) its agent or judge uses, served by the caller;
    `secrets`: every value to redact from what is stored (default: what this process holds);
    `on_stored` hears of each result as it is stored (progress, while a long session runs); `turn`:
    held around each judge call (a shared offline judge's slot: local.Slots)."""
    started = time.perf_counter()
    first = cells[0]
    secrets = held(key_names(cells)) if secrets is None else secrets
    url = profiles.repo_url(profile)
    try:
        env = env or envs.environment(profile, url, first.revision.sha, first.revision.release, first.resolve_at)
        for cell in cells:
            sandbox.require(sandbox.network_of(profile, cell.task))
        ws = prepare.workspace(first, profile, tasks[first.task.id], url)
    except SETUP_FAILURES as err:
        store.start(first)
        return [failed(first, store, "setup_error", f"{type(err).__name__}: {err}", started, secrets)] + [None] * (len(cells) - 1)
    results: list[Result | None] = []
    try:
        base = workfiles.baseline(ws.workdir)  # what the harness put there: not the agent's files
        for cell in cells:
            if results:
                _drop_torn_line(ws.scratch / "session.jsonl")
                prepare.add_inputs(tasks[cell.task.id], ws.workdir)
                base.update({p: v for p, v in workfiles.baseline(ws.workdir).items() if p in tasks[cell.task.id].files})
            result = _run_task(cell, profile, tasks[cell.task.id], store, proxy, controls[cell.key], env, ws, served or {}, secrets, started, base, turn)
            results.append(result)
            if result is not None:
                on_stored(cell, result)
            if result is None or result.status in RETRIED:
                break
            started = time.perf_counter()
    finally:
        scratch.remove(ws.scratch)
    return results + [None] * (len(cells) - len(results))


def _run_task(
    cell: Cell, profile: Profile, task: Task, store: Store, proxy: Proxy, control: Control, env: prepare.Env,
    ws: prepare.Workspace, served: dict[str, str], secrets: list[str], started: float, base: dict, turn: Callable,
) -> Result | None:
    """One prompt in the unit's pi session; what it did is what the session file gained meanwhile."""
    folder = store.start(cell)
    session = ws.scratch / "session.jsonl"
    since = len(traces.read_entries(session))
    meter = Meter(_where(served)(cell.model), proxies.api_key(cell.model), folder / "proxy.jsonl", cell.budgets, control,
                  stop_when=_activated(session, since) if cell.budgets.until_activated and task.trigger is not None else lambda: None)
    run = _run_pi(cell, task, ws, env, proxy, meter, folder, sandbox.network_of(profile, cell.task))  # the suite's network: none is in the cell's task
    if control.reason == "interrupted":
        return None
    if why := sandbox.failed_to_start(run.exit_code, folder / "agent.log"):
        return failed(cell, store, "setup_error", why, started, secrets)
    _keep_trace(session, folder, secrets)
    files, cut = workfiles.keep(ws.workdir, base, folder, secrets)  # in a session: all the agent left so far

    trace = traces.parse(folder / "trace.jsonl", since)
    unanswered = meter.silent_for() is not None  # a request the provider never began to answer: what it cost is unknown
    status, ended_by, extra = outcome.status(run, control.reason, trace, meter)
    activated_at = activation.first_read(trace)

    def judged() -> Grader | None:
        with turn(cell.judge):
            return judge.run(cell, task, trace.answer, folder, proxy, where=_where(served), stop=control.interrupted)

    verdicts = graders.every(task, trace, status, folder, verify=lambda: verifier.run(ws, env, task), judge=judged)
    if verdicts is None:  # Ctrl-C while the judge answered: the cell is not done, the next run does it again
        return None
    matched, credit = graders.combine(verdicts)
    result = Result(
        cell=cell, status=status, ended_by=ended_by, matched=matched, graders=verdicts, score=credit,
        tampered=workfiles.tampered(task.files, task.root, ws.workdir), answer=trace.answer,
        agent_seconds=round(run.seconds, 3), turns=trace.turns, tool_calls=trace.tool_calls, tokens=None if unanswered else meter.known_tokens,
        tokens_trace=trace.tokens, requests=meter.requests, cost=trace.cost or None,
        markers=score.fired(profile.markers, trace), grading=identity.grading(profile.markers, task.grading_hash, cell.judge), errors=[e for e in [control.detail] if e] + extra + trace.errors,
        steps=trace.steps, activated_at=activated_at, reads=reads.reads(trace, task.files, profile.name), files=files, files_cut=cut, isolation=sandbox.isolation().name, environment=_recorded(store, env, folder),
        harness_version=__version__, finished_at=now(),
        wall_seconds=round(time.perf_counter() - started, 3),
        session_position=cell.session.position if cell.session else None, trace_from=since,
    )
    store.finish(result, secrets)
    return result


def _activated(session: Path, since: int) -> Callable[[], str | None]:
    """Before each model request: has the agent read a SKILL.md yet? pi writes each tool's result to
    its session before asking the model again, so this is what grading will find in the trace."""
    return lambda: "activated" if activation.first_read(traces.parse(session, since)) is not None else None


def not_a_unit(cells: list[Cell]) -> str:
    """Why these cells are not one unit of work ("" when they are): one cell alone, or every task of one session in order."""
    first = cells[0]
    if not first.session:
        return "" if len(cells) == 1 else "one-shot cells run one at a time; give one cell.json"
    given = [(c.session.id, c.session.position) if c.session else None for c in cells]
    if given != [(first.session.id, p) for p in range(1, len(first.session.tasks) + 1)]:
        return f"a session runs whole: give the cell.json of each of its {len(first.session.tasks)} tasks, in order"
    return ""


def run_alone(cells: list[Cell], store: Store, say=print) -> list[Result | None]:
    """One unit of work in a process of its own (`agent-eval worker`, what a Job runs): its profile
    and tasks from the suite's snapshot, its own proxy and, for a local model, its own server.
    Whatever fails is stored as the first cell's setup_error with its cause, so `status` and `retry` can tell why."""
    started = time.perf_counter()
    cell = cells[0]
    snapshot = store.root / "suites" / cell.suite / "snapshot"
    try:
        profile = profiles.load(snapshot / "profile")
        tasks = {c.task.id: load_task(snapshot / "tasks" / f"{c.task.id}.yaml") for c in cells}
        agent.ensure_pi(cell.agent_version, say=say)
        with ExitStack() as stack:
            proxy = stack.enter_context(Proxy())
            served = None
            if local := offline(cells):
                from .serve import OnDemand

                # A worker writes only its run folder (in a Job, the only place it can write): the
                # servers' logs are scratch, and a log's last line is in the error if its server fails.
                logs = scratch.make("server")
                stack.callback(scratch.remove, logs)
                served = OnDemand(stack, logs, say)
                for model in local:  # the agent's model and its judges', before pi starts: one server each
                    served(model)
            return run_unit(cells, profile, tasks, store, proxy, {c.key: Control() for c in cells}, served=served and served.urls)
    except Exception as err:
        return [failed(cell, store, "setup_error", f"{type(err).__name__}: {str(err)[:500]}", started)] + [None] * (len(cells) - 1)


def key_names(cells: list[Cell]) -> set[str]:
    """The variables holding the keys of a unit's models, its agent's and its judges'."""
    return {m.key_env for c in cells for m in (c.model, c.judge) if m is not None and m.key_env}


def offline(cells: list[Cell]) -> list[ModelSpec]:
    """The offline models a unit of work uses, its agent's and its judges', each once, in a fixed order."""
    found = {m.id: m for c in cells for m in (c.model, c.judge) if m is not None and m.is_local}
    return [found[name] for name in sorted(found)]


def _where(served: dict[str, str]) -> Callable[[ModelSpec], str]:
    """Where a model's requests go: an offline model's server, as the caller serves it, else its endpoint."""
    return lambda model: served[model.id] if model.is_local else proxies.upstream(model)


def _recorded(store: Store, env: prepare.Env, folder: Path) -> str | None:
    """The environment's record kept in the store (once), and its digest for the result."""
    text = envs.record(env)
    return environments.keep(store.root, text, folder, store.shared) if text else None


def _run_pi(
    cell: Cell, task: Task, ws: prepare.Workspace, env: prepare.Env, proxy: Proxy, meter: Meter, folder: Path, network: sandbox.Network,
) -> agent.AgentRun:
    (folder / "proxy.jsonl").touch()
    dummy = proxy.register(meter)
    try:
        agent.write_config(ws.home, cell.model, proxy.url, dummy)
        cmd = agent.command(cell.model, cell.thinking, ws.scratch / "session.jsonl", ws.skill, cell.agent_version)
        timeout = task.timeout or cell.budgets.timeout
        with sandbox.Box(ws, env, network, proxy.url) as box:
            environment = box.environment(agent.environment(ws.home, env.bin))
            return agent.run(box.wrap(cmd), task.prompt, ws.workdir, environment, folder / "agent.log", timeout, meter.control)
    finally:
        proxy.unregister(dummy)


def _drop_torn_line(session: Path) -> None:
    """pi killed mid-write (a timeout) leaves half a line, which the next task's pi would append to: cut it off."""
    if session.is_file() and (data := session.read_bytes()) and not data.endswith(b"\n"):
        session.write_bytes(data[: data.rfind(b"\n") + 1])


def _keep_trace(session: Path, folder: Path, secrets: list[str]) -> None:
    """pi's session becomes trace.jsonl, and its log stays: both with known secrets redacted."""
    if session.is_file():
        (folder / "trace.jsonl").write_bytes(redact(session.read_bytes(), secrets))
    log = folder / "agent.log"
    log.write_bytes(redact(log.read_bytes(), secrets))
