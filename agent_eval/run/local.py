"""Local backend: run a plan's units of work (cells, or sessions of cells) from this one process,
at most `jobs` pi processes at a time.

Threads, not processes: each cell is a pi subprocess plus a little parsing, so a fresh Python
interpreter per cell would cost more than the harness's whole work. Environments are built first,
once per revision, so cells only start pi. Ctrl-C stops every running pi and stores nothing for
the interrupted cells: the next run picks them up.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager, nullcontext

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agent_eval.store import index
from agent_eval.store.records import RETRIED, Cell, Result
from agent_eval.store.redact import held
from agent_eval.store.store import Store
from agent_eval.suite import profiles
from agent_eval.suite.config import ConfigError, ModelSpec

from . import agent, prepare, scratch, serve, speed, worker
from . import envs as build
from .estimate import duration
from .plan import Plan
from .proxy import Control, Proxy

console = Console(stderr=True, highlight=False, soft_wrap=True)


ELSEWHERE = "run by another sweep"  # the cell was claimed by another `agent-eval run` on this store
NOT_STORED = "not stored"  # its result could not be written (a full disk): the next run tries again
NOT_REACHED = "not reached"  # an earlier task of its session failed (harness, provider, machine): the session runs again


class Outcome(Counter):
    """Counts by status, plus matched, interrupted, and cells left to another sweep or not stored."""

    def line(self) -> str:
        parts = [f"{self[s]} {s}" for s in ("ok", "agent_error", "timeout", "silent_failure", "setup_error", "infra_error") if self[s]]
        matched = f" ({self['matched']} matched)" if self["ok"] else ""
        left = [f"{self[k]} {k}" for k in (ELSEWHERE, NOT_STORED, NOT_REACHED) if self[k]]
        left += [f"{self['interrupted']} interrupted, will run next time"] if self["interrupted"] else []
        return (", ".join(parts) or "nothing ran") + matched + "".join(f"; {x}" for x in left)

    @property
    def not_done(self) -> int:
        """Planned cells this sweep leaves without a result that counts: the next run tries them
        again. A cell run by another sweep is that sweep's to report."""
        return sum(self[k] for k in ("setup_error", "infra_error", NOT_STORED, NOT_REACHED))


def record(plan: Plan) -> None:
    """The plan and its snapshot kept in the store, with nothing to run."""
    Store(plan.suite.store_path).snapshot(plan.suite, plan.profile, plan.tasks, plan.summary())


def run(plan: Plan, jobs: int) -> Outcome:
    # A kill (SIGTERM) stops the sweep like Ctrl-C: pi and the model server run in sessions of their
    # own, so dying without stopping them would leave them running.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(plan, jobs)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(plan: Plan, jobs: int) -> Outcome:
    store = Store(plan.suite.store_path)
    if removed := scratch.sweep():  # a killed run's working dirs hold the agent's raw sessions
        console.print(f"removed {removed} scratch folder(s) left by killed runs")
    for version in sorted({cell.agent_version for cell in plan.todo}):
        agent.ensure_pi(version, say=console.print)
    envs, failed = environments(plan)
    if failed and not envs:  # the install itself is wrong, not one old revision: say so, store nothing
        raise ConfigError(f"{plan.profile.root / 'profile.yaml'}: field 'install': the library installs at no revision "
                          f"({next(iter(failed.values()))}); fix the install spec, extras or packages")
    make_index(store)
    store.snapshot(plan.suite, plan.profile, plan.tasks, plan.summary())
    tasks = {t.id: t for t in plan.tasks}
    controls: dict[str, Control] = {cell.key: Control() for cell in plan.todo}
    secrets = held({m.key_env for m in [*plan.suite.models, *plan.suite.judges.values()]})  # every key this process holds, whatever the cell
    # With --rerun a cell counts as done only if it was stored after this sweep began: by another
    # sweep on this store, so that two reruns at once still run each cell once.
    since_ns = time.time_ns() if plan.rerun else None

    with Proxy() as proxy, ExitStack() as stack, Display(len(plan.todo)) as display, ThreadPoolExecutor(max_workers=jobs) as pool:
        servers = Servers(plan, store, stack, controls)

        def one(unit: list[Cell]) -> list[Result | str | None]:
            try:
                return attempt(unit, time.perf_counter())
            except Exception as err:  # a harness bug or a full disk must cost one unit, not the sweep
                console.print(f"[red]internal error in {unit[0].folder}: {type(err).__name__}: {err}[/]")
                why = f"internal error: {type(err).__name__}: {err}"
                try:
                    return [worker.failed(unit[0], store, "setup_error", why, time.perf_counter(), secrets)] + [NOT_REACHED] * (len(unit) - 1)
                except OSError:
                    return [NOT_STORED] * len(unit)

        def attempt(unit: list[Cell], started: float) -> list[Result | str | None]:
            with store.claim(unit, since_ns) as mine:
                return run_claimed(unit, started) if mine else [ELSEWHERE] * len(unit)

        def run_claimed(unit: list[Cell], started: float) -> list[Result | str | None]:
            first, rest = unit[0], [NOT_REACHED] * (len(unit) - 1)
            if first.revision.sha in failed:
                return [worker.failed(first, store, "setup_error", failed[first.revision.sha], started, secrets)] + rest
            with servers.slots.slot(unit):  # a session keeps the server's one slot, and its cache, to itself
                if first.model.id in servers.dead:
                    return [worker.failed(first, store, "infra_error", servers.dead[first.model.id], started, secrets)] + rest
                if controls[first.key].reason == "interrupted":
                    return [None] * len(unit)
                with display.running():
                    results = worker.run_unit(unit, plan.profile, tasks, store, proxy, controls, envs.get(first.revision.sha),
                                              servers.urls, secrets, on_stored=display.finished, turn=servers.slots.turn)
            stopped = any(r is not None and r.status in RETRIED for r in results)
            return [NOT_REACHED if r is None and stopped else r for r in results]

        futures = {pool.submit(one, unit): unit for unit in plan.units()}
        try:
            for future in as_completed(futures):
                for cell, result in zip(futures[future], future.result()):
                    display.finished(cell, result)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: stopping running cells…[/]")
            pool.shutdown(wait=False, cancel_futures=True)
            for control in controls.values():
                control.stop("interrupted")
    return tally(futures)


def make_index(store: Store) -> None:
    """The store's index, there before the first result, so each result is indexed as it is stored."""
    store.root.mkdir(parents=True, exist_ok=True)
    try:
        index.connect(store.root).close()
    except (sqlite3.Error, OSError, index.UnusableIndex) as err:  # derived data: a reader builds it later from the run folders
        console.print(f"[yellow]warning: the store's index could not be made ({err}); results are stored all the same[/]")


class Servers:
    """The offline models a plan uses, as agent or judge: each served once for the whole sweep, one
    unit at a time (the server has one slot: Slots). If a server dies, the cells its model runs
    stop at once and those still waiting fail fast with the reason; the rest of the sweep goes on
    (a dead judge's calls fail as grading errors, which regrade asks again)."""

    def __init__(self, plan: Plan, store: Store, stack: ExitStack, controls: dict[str, Control]):
        self.urls: dict[str, str] = {}
        self.dead: dict[str, str] = {}
        agents = {c.model.id for c in plan.todo if c.model.is_local}
        judges = {c.judge.id for c in plan.todo if c.judge and c.judge.is_local}
        self.slots = Slots(agents | judges)
        for model in sorted(agents | judges):
            keys = [c.key for c in plan.todo if c.model.id == model]
            log = store.root / "suites" / plan.suite.name / f"server-{model.replace('/', '--')}.log"
            console.print(f"starting {model} on 127.0.0.1 (log: {log})…")
            started = time.perf_counter()
            server = stack.enter_context(serve.ModelServer(model, log, on_exit=self._died(model, keys, controls)))
            console.print(f"{model} ready at {server.url} in {time.perf_counter() - started:.1f}s")
            if model in agents and (measured := speed.measure(server.url)) and (warning := speed.too_slow(model, measured, _longest(plan, model))):
                console.print(warning, markup=False)
            self.urls[model] = server.url

    def _died(self, model: str, keys: list[str], controls: dict[str, Control]):
        def stop_cells(message: str) -> None:
            self.dead[model] = message
            console.print(f"[red]{message}[/]")
            for key in keys:
                controls[key].stop("server_died", message)
        return stop_cells


class Slots:
    """Each offline model's one slot. A unit whose agent is an offline model holds its slot from
    start to end, and its judges' slots too (their calls come after its agent's, in the unit):
    all taken before it starts, in one order (by model id), so a unit holding a slot never waits
    for another — two units judging each other's model cannot deadlock. A unit whose agent is
    elsewhere holds none: each of its judge calls waits its turn on the judge's server alone."""

    def __init__(self, models: set[str]):
        self.locks = {model: threading.RLock() for model in models}  # re-entrant: a judge call in a unit that holds the slot passes

    @contextmanager
    def slot(self, unit: list[Cell]):
        with ExitStack() as held:
            for model in worker.offline(unit) if unit[0].model.is_local else []:
                held.enter_context(self.locks[model.id])
            yield

    def turn(self, model: ModelSpec):
        return self.locks[model.id] if model.is_local else nullcontext()


def _longest(plan: Plan, model: str) -> float:
    timeouts = {t.id: t.timeout for t in plan.tasks}
    return max(timeouts.get(c.task.id) or c.budgets.timeout for c in plan.todo if c.model.id == model)


def tally(futures: dict) -> Outcome:
    outcome = Outcome()
    for future, unit in futures.items():
        for result in [None] * len(unit) if future.cancelled() else future.result():
            outcome["interrupted" if result is None else result if isinstance(result, str) else result.status] += 1
            outcome["matched"] += isinstance(result, Result) and bool(result.matched)
    return outcome


def environments(plan: Plan) -> tuple[dict[str, prepare.Env], dict[str, str]]:
    """Build each needed revision's environment once; a failure fails that revision's cells only."""
    url = profiles.repo_url(plan.profile)
    envs, failed = {}, {}
    needed = {c.revision.sha for c in plan.todo}
    if needed and (warning := build.building_unsandboxed()):
        console.print(f"warning: {warning}", style="yellow", markup=False)
    for rev in plan.revisions:
        if rev.sha not in needed:
            continue
        started = time.perf_counter()
        try:
            envs[rev.sha] = build.environment(plan.profile, url, rev.sha, rev.release, plan.resolve_at)
            console.print(f"environment for {rev.name} ({rev.sha[:10]}) ready in {time.perf_counter() - started:.1f}s")
        except worker.SETUP_FAILURES as err:
            failed[rev.sha] = f"{type(err).__name__}: {err}"
            console.print(f"[red]environment for {rev.name} failed:[/] {err}")
    return envs, failed


class Display:
    """A live bar on a terminal; one plain line per finished cell otherwise (CI logs, pipes)."""

    def __init__(self, total: int):
        self.live = sys.stderr.isatty()
        self.total, self.count, self.failed, self.active = total, 0, 0, 0
        self.started = time.perf_counter()
        self.shown: set[str] = set()
        self.lock = threading.Lock()
        self.bar = Progress(
            TextColumn("cells"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[active]} running"),
            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.task = self.bar.add_task("cells", total=total, failed=0, active=0)

    @contextmanager
    def running(self):
        self._count_running(+1)
        try:
            yield
        finally:
            self._count_running(-1)

    def _count_running(self, step: int) -> None:
        with self.lock:
            self.active += step
            self.bar.update(self.task, active=self.active)

    def __enter__(self) -> Display:
        if self.live:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.bar.stop()

    def finished(self, cell: Cell, result: Result | str | None) -> None:
        """One line per cell, once: a session's tasks are shown as each is stored, the rest when their unit ends."""
        with self.lock:
            if cell.key not in self.shown:
                self.shown.add(cell.key)
                self._show(cell, result)

    def _show(self, cell: Cell, result: Result | str | None) -> None:
        self.count += 1
        status = "interrupted" if result is None else result if isinstance(result, str) else result.status
        self.failed += status not in ("ok", "interrupted", ELSEWHERE, NOT_REACHED)
        done = isinstance(result, Result)
        mark = "" if not done or result.matched is None else (" match" if result.matched else " miss")
        seconds = f" {result.wall_seconds:.1f}s" if done else ""
        where = f" #{cell.session.position}" if cell.session else ""
        left = self.total - self.count
        eta = f" · eta {duration((time.perf_counter() - self.started) / self.count * left)}" if left else ""
        line = f"[{self.count}/{self.total}{eta}] {status}{mark}{seconds}  {cell.model.display} · {cell.revision.name} · {cell.tier} · {cell.task.id} r{cell.repeat}{where}"
        if self.live:
            self.bar.update(self.task, advance=1, failed=self.failed)
            self.bar.console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)
