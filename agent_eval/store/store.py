"""The store: a folder of run folders, one per cell, and the suites' snapshots.

Layout (same on a local folder and a bucket):
  runs/<sha10>/<model-slug>/<tier>/<task>/r<repeat>-<key8>/{cell.json, result.json, trace.jsonl, proxy.jsonl, agent.log}
  suites/<suite>/{snapshot/{suite.yaml, profile/, tasks/}, plan.json}
  envs/<digest>.txt (environments.py: what an environment resolved to, once)
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

import orjson
from pydantic import ValidationError

from agent_eval.suite.config import Profile, Suite
from agent_eval.suite.task import Task

from .records import RETRIED, Cell, PlanFile, Result
from .redact import redact

SUPERSEDED = "superseded"  # in a run folder: its earlier runs, each whole in superseded/<n>/


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_plans(root: Path, say) -> list[dict]:
    """Every suite's plan.json, by suite name. One that cannot be read is left out and named through
    `say`: a plan adds only what the suite expected (its grid, revision order, markers), the results
    stand without it."""
    plans = []
    for path in sorted(Path(root).glob("suites/*/plan.json")):
        try:
            plan = orjson.loads(path.read_bytes())
            PlanFile.model_validate(plan)
            plans.append(plan)
        except (OSError, orjson.JSONDecodeError) as err:
            say(f"warning: skipped {path}: {err}; delete it, or run the suite again to write it")
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(map(str, first["loc"])) or "the top"
            say(f"warning: skipped {path}: not a plan (at {where}: {first['msg']}); delete it, or run the suite again to write it")
    return plans


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
    def __init__(self, root: Path, shared: bool = True):
        self.root = Path(root)
        self.bad: list[str] = []  # unreadable records met so far, "path: reason"
        # Whether this process may write beside the run folders (envs/): not a worker alone, which
        # in a Job can write its run folder only (anything else would vanish with the container).
        self.shared = shared

    def run_dir(self, cell: Cell) -> Path:
        return self.root / cell.folder

    def is_done(self, cell: Cell, since_ns: int | None = None) -> bool:
        """Whether the cell has a result that is not the harness's or the provider's failure; with
        `since_ns` (a --rerun sweep's start), only a result stored after that counts."""
        path = self.run_dir(cell) / "result.json"
        if not path.is_file() or (since_ns is not None and path.stat().st_mtime_ns < since_ns):
            return False
        try:
            return read_result(path).status not in RETRIED
        except BadRecord as err:
            self.bad.append(str(err))
            self._index(cell.folder, why=str(err).removeprefix(f"{path}: "))
            return False

    @contextmanager
    def claim(self, unit: list[Cell], since_ns: int | None = None):
        """Whether this process may run a unit of work (a cell, or every cell of a session): an
        exclusive lock per unit, so two sweeps on one store never run it twice. The kernel drops the
        lock when its holder dies, even by SIGKILL, so a killed sweep leaves no stale claim. Yields
        False while another holds it, or when the unit is done (since `since_ns`, for --rerun)."""
        path = self.root / ".claims" / f"{unit[0].unit[:32]}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield not all(self.is_done(cell, since_ns) for cell in unit)  # the holder may have just finished it
            finally:
                path.unlink(missing_ok=True)

    def start(self, cell: Cell) -> Path:
        """A clean run folder for the cell: leftovers of an interrupted attempt are dropped. The
        folder is emptied, not removed: in a Job it is a mount point."""
        folder = self.run_dir(cell)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "result.json").is_file():
            self._supersede(folder)
            self._index(cell.folder)  # its row goes until the new result lands
        for leftover in folder.iterdir():
            if leftover.name == SUPERSEDED:
                continue
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        (folder / "cell.json").write_bytes(orjson.dumps(cell.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
        return folder

    @staticmethod
    def _supersede(folder: Path) -> None:
        """A stored run about to be run again (--rerun, or a harness failure retried) is kept, whole,
        in superseded/<n>/, oldest first: readers count only the run folder's own result."""
        history = folder / SUPERSEDED
        kept = history / str(len(list(history.iterdir())) + 1 if history.is_dir() else 1)
        kept.mkdir(parents=True)
        for entry in folder.iterdir():
            if entry.name != SUPERSEDED:
                os.replace(entry, kept / entry.name)

    def finish(self, result: Result, secrets: list[str] = ()) -> None:
        data = orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
        write_atomic(self.run_dir(result.cell) / "result.json", redact(data, list(secrets)))
        self._index(result.cell.folder)

    def _index(self, folder: str, why: str | None = None) -> None:
        """The index's row for a run folder brought up to date, or with `why` dropped as unreadable."""
        from . import index

        if (self.root / index.NAME).is_file():  # none in a Job's /store: the bucket's readers build their own
            try:
                index.mark_bad(self.root, folder, why) if why else index.update(self.root, [folder])
            except Exception:  # noqa: BLE001 - the run folder is the truth; the next reader's check indexes it
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
                if task.verify_dir:  # a Job's worker and regrade run the verifier from here
                    shutil.copytree(task.verify_dir, partial / "tasks" / task.verify_dir.relative_to(task.root), dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__"))
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        with open(folder / ".snapshot.lock", "w") as lock:  # two sweeps of one suite swap in turn
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(snap, ignore_errors=True)
            partial.rename(snap)
            write_atomic(folder / "plan.json", orjson.dumps(plan, option=orjson.OPT_INDENT_2))
        return snap
