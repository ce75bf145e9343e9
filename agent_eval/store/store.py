"""The store: where every cell's record lives, and the two records themselves (Cell, Result).

Layout (same on a local folder and, later, a bucket):
  runs/<sha10>/<model-slug>/<tier>/<task>/r<repeat>-<key8>/{cell.json, result.json, trace.jsonl, proxy.jsonl, agent.log}
  suites/<suite>/{snapshot/{suite.yaml, profile/, tasks/}, plan.json}
A cell is done iff its result.json exists and is not a setup error (the harness failed, not the
agent, so the next run tries again). result.json is written last, atomically.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ValidationError, computed_field

from .config import Budgets, ModelSpec, Profile, Suite, Task
from .redact import redact
from .releases import Release

Status = Literal["ok", "agent_error", "timeout", "setup_error", "silent_failure", "infra_error"]
# Whose fault a bad run was. setup_error: the harness could not prepare the cell; infra_error: the
# model provider or the machine failed (5xx after retries, pi killed by a signal or out of memory,
# the local model server died). Neither says anything about the agent: both are retried by the next
# run and kept out of match % and medians, and counted as errors.
RETRIED = ("setup_error", "infra_error")


def run_folder(sha: str, model_slug: str, tier: str, task: str, repeat: int, key: str) -> str:
    return f"runs/{sha[:10]}/{model_slug}/{tier}/{task}/r{repeat}-{key[:8]}"


class Revision(BaseModel):
    ref: str
    name: str
    sha: str  # a git SHA, or for a release the digest of its files' hashes
    release: Release | None = None  # the resolved distribution files, when named by a release


class SessionRef(BaseModel):
    """Where a cell sits in a session: the tasks run one after another in one pi session."""

    id: str  # shared by every task of the session; the hash of their run keys in order
    position: int  # 1: the first task, the one that meets the library fresh
    group: int  # which group of the suite's tasks (orders.py)
    order: int  # which of the group's orders
    tasks: list[str]  # the session's task ids, in the order they run


class Cell(BaseModel):
    """One (model, revision, task, tier, repeat): everything the worker needs besides the snapshot."""

    key: str
    suite: str
    profile: str
    model: ModelSpec
    revision: Revision
    task: Task
    tier: str
    repeat: int
    budgets: Budgets
    thinking: str
    agent: str = "pi"
    agent_version: str
    serving: dict | None = None  # how the offline model was served (engine, weights hash, template…)
    session: SessionRef | None = None  # None: a run of its own (one-shot)

    @computed_field  # stored in cell.json and result.json, so every record says where it lives
    @property
    def folder(self) -> str:
        return run_folder(self.revision.sha, self.model.slug, self.tier, self.task.id, self.repeat, self.key)

    @property
    def unit(self) -> str:
        """The unit of work it is run in (claimed, scheduled, given a Job): its session, or itself."""
        return self.session.id if self.session else self.key


class Tokens(BaseModel):
    new: int = 0  # uncached input
    cached: int = 0  # cache reads
    generated: int = 0  # output, reasoning included

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(new=self.new + other.new, cached=self.cached + other.cached, generated=self.generated + other.generated)


class MarkerHit(BaseModel):
    name: str
    where: str
    excerpt: str


class Step(BaseModel):
    """One tool call, in order: what the report's timeline shows."""

    tool: str
    input: str
    error: bool


class Result(BaseModel):
    cell: Cell
    status: Status
    ended_by: str | None = None  # which budget stopped the run: wall_clock, max_turns, max_tool_calls
    matched: bool | None = None  # None: behaviour-only task, or no answer to score
    answer: str = ""
    wall_seconds: float = 0.0  # the whole cell, setup included
    agent_seconds: float = 0.0  # the pi process alone
    turns: int = 0  # successful model calls
    tool_calls: dict[str, int] = {}
    tokens: Tokens | None = Tokens()  # as the metering proxy saw them: ground truth; None: the provider reported no usage
    tokens_trace: Tokens = Tokens()  # as pi's session file reports them
    requests: int = 0  # model requests through the proxy, pi's retries included
    cost: float | None = None
    markers: list[MarkerHit] = []
    errors: list[str] = []
    steps: list[Step] = []
    isolation: Literal["bwrap", "none"] | None = None  # how pi was sandboxed (sandbox.py); None: pi never ran
    session_position: int | None = None  # in a session: 1 for the first task; every number above is this task's alone
    trace_from: int = 0  # in a session: trace.jsonl's entries before this task's prompt (the earlier tasks')
    harness_version: str = ""
    finished_at: str = ""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:  # a full disk, a kill: the old file stays whole, no half-written one is left
        partial.unlink(missing_ok=True)
        raise


def read_result(path: Path) -> Result:
    """A stored result, checked; BadRecord (path and reason) when it is not one."""
    try:
        result = Result.model_validate_json(path.read_bytes())
    except OSError as err:
        raise BadRecord(f"{path}: cannot be read ({err.strerror})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadRecord(f"{path}: not a valid result ({f'{where}: ' if where else ''}{first['msg'][:120]})") from None
    if result.cell.folder != path.parent.relative_to(path.parents[6]).as_posix():
        raise BadRecord(f"{path}: belongs to another run folder ({result.cell.folder})")
    return result


class BadRecord(Exception):
    """A result.json that cannot be read back: readers skip and name it, `run` runs its cell again."""


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.bad: list[str] = []  # unreadable records met so far, "path: reason"

    def run_dir(self, cell: Cell) -> Path:
        return self.root / cell.folder

    def is_done(self, cell: Cell) -> bool:
        path = self.run_dir(cell) / "result.json"
        if not path.is_file():
            return False
        try:
            return read_result(path).status not in RETRIED
        except BadRecord as err:
            self.bad.append(str(err))
            return False

    @contextmanager
    def claim(self, unit: list[Cell]):
        """Whether this process may run a unit of work (a cell, or every cell of a session): an
        exclusive lock per unit, so two sweeps on one store never run it twice. The kernel drops the
        lock when its holder dies, even by SIGKILL, so a killed sweep leaves no stale claim. Yields
        False while another holds it."""
        path = self.root / ".claims" / f"{unit[0].unit[:32]}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield not all(self.is_done(cell) for cell in unit)  # the holder may have just finished it
            finally:
                path.unlink(missing_ok=True)

    def start(self, cell: Cell) -> Path:
        """A clean run folder for the cell: leftovers of an interrupted attempt are dropped. The
        folder is emptied, not removed: in a Job it is a mount point."""
        folder = self.run_dir(cell)
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        (folder / "cell.json").write_bytes(orjson.dumps(cell.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
        return folder

    def finish(self, result: Result, secrets: list[str] = ()) -> None:
        data = orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
        write_atomic(self.run_dir(result.cell) / "result.json", redact(data, list(secrets)))
        from . import index

        if (self.root / index.NAME).is_file():  # none in a Job's /store: the bucket's readers build their own
            try:
                index.update(self.root, [result.cell.folder])
            except Exception:  # noqa: BLE001 - the result is stored; the next reader's check indexes it
                pass

    def results(self) -> list[Result]:
        """Every readable result; the others are named in self.bad."""
        found = []
        for path in sorted(self.root.glob("runs/*/*/*/*/*/result.json")):
            try:
                found.append(read_result(path))
            except BadRecord as err:
                self.bad.append(str(err))
        return found

    def snapshot(self, suite: Suite, profile: Profile, tasks: list[Task], plan: dict) -> Path:
        """What was run, kept beside the results: the suite, the profile folder, the tasks used.
        Built aside and swapped in whole, so a failed copy never leaves half a snapshot."""
        folder = self.root / "suites" / suite.name
        snap = folder / "snapshot"
        folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=folder))
        (partial / "tasks").mkdir()
        try:
            shutil.copy2(suite.path, partial / "suite.yaml")
            shutil.copytree(profile.root, partial / "profile", ignore=shutil.ignore_patterns("__pycache__"))
            for task in tasks:
                shutil.copy2(task.root / f"{task.id}.yaml", partial / "tasks")
                for name in task.files:
                    (partial / "tasks" / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(task.root / name, partial / "tasks" / name)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        with open(folder / ".snapshot.lock", "w") as lock:  # two sweeps of one suite swap in turn
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(snap, ignore_errors=True)
            partial.rename(snap)
            write_atomic(folder / "plan.json", orjson.dumps(plan, option=orjson.OPT_INDENT_2))
        return snap
