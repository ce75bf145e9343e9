"""Index: every result of a store as one row of a SQLite table beside the run folders, so that
readers (results, report, compare, regrade, export) never open 100k result.json files.

result.json stays the truth; STORE/index.sqlite is derived from it and can be deleted at any time.
Each row records the size and mtime_ns of the result.json it was read from. Every reader first
lists the run folders and stats their result.json (`check`): a file that is new, changed, gone or
was bad before is read again, so a stale, truncated or deleted index heals itself and is never
trusted blindly. Writers (Store.finish, pull, regrade) also `update` the rows they touched, so the
check usually finds nothing to do.

SQLite: in the standard library, transactional, and safe with several processes at once (WAL, a
busy timeout, every write in one BEGIN IMMEDIATE transaction). A result.json that cannot be read
or parsed is kept in the `bad` table with the reason, for the readers to name.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import orjson

from .results import COLUMNS, flat

NAME = "index.sqlite"
FORMAT = 1  # bump when flat() computes a column differently: every index is then rebuilt
DETAIL_KEYS = ("answer", "errors", "ended_by", "requests", "markers", "steps")  # what the report's run panel shows
TASK_KEYS = ("id", "prompt", "expected", "match", "files")  # what the report shows of a task
QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)
# Value columns have no declared type: SQLite then keeps each value as given (10 stays 10, 10.0 stays 10.0).
TABLES = {
    "runs": f"path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, {QUOTED}",
    "details": "path TEXT PRIMARY KEY, task_id TEXT, detail BLOB",  # apart: `runs` stays small to scan
    "tasks": "id TEXT PRIMARY KEY, info BLOB",
    "bad": "path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, reason TEXT",
    "folders": "path TEXT PRIMARY KEY, mtime_ns INTEGER",  # runs/ down to the task folders, as last listed
    "pending": "path TEXT PRIMARY KEY",  # run folders last seen without a result.json: stat'ed at every check
}
# PRAGMA user_version: an index made for other tables or another FORMAT is rebuilt from the run folders.
VERSION = int.from_bytes(hashlib.blake2b(repr((FORMAT, TABLES, DETAIL_KEYS, TASK_KEYS)).encode(), digest_size=4).digest(), "big") >> 1
THREADS = 4  # stat() waits on the disk: a few at once beat one on a cold cache; more (measured: 16) lose to the GIL


# --- the database ------------------------------------------------------------------------------


def connect(store: Path) -> sqlite3.Connection:
    """The store's index, created or recreated (unreadable, or another VERSION) as needed."""
    try:
        return _open(Path(store) / NAME)
    except sqlite3.DatabaseError as err:
        if not damaged(err):
            raise
        remove(store)
        return _open(Path(store) / NAME)


def damaged(err: sqlite3.DatabaseError) -> bool:
    """Not a database, or a damaged one (never merely busy or locked: another process is using it)."""
    return getattr(err, "sqlite_errorcode", None) in (11, 26) or type(err) is sqlite3.DatabaseError  # SQLITE_CORRUPT, SQLITE_NOTADB


def remove(store: Path) -> None:
    for name in (NAME, NAME + "-wal", NAME + "-shm"):
        (Path(store) / name).unlink(missing_ok=True)


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)  # transactions are explicit
    try:
        db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            with transaction(db):  # asked again under the lock: another process may have just made it
                if db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
                    for table, columns in TABLES.items():
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                        db.execute(f"CREATE TABLE {table} ({columns})")
                    db.execute(f"PRAGMA user_version={VERSION}")
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, at worst the last commit is lost
        return db
    except sqlite3.DatabaseError:
        db.close()
        raise


class transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")  # take the write lock now: two writers queue, never deadlock

    def __exit__(self, kind, *_):
        self.db.execute("ROLLBACK" if kind else "COMMIT")


# --- looking at run folders --------------------------------------------------------------------
#
# Directories from runs/ down to the task folders (runs/<sha>/<model>/<tier>/<task>) are few (a
# third of the runs at 100k) and a directory's mtime changes when an entry is added, removed or
# renamed in it. So the cheap check stats only those: a folder whose mtime moved is listed again,
# and a task folder listed again has each of its run folders' result.json stat'ed. That finds new,
# removed and copied-in run folders without touching 100k files. A result.json rewritten inside a
# run folder it already had (by hand, or by a tool other than agent-eval's writers) changes no
# folder we stat: `verify` (agent-eval reindex) stats every result.json and finds those too.

TASK_DEPTH = 4  # runs/<sha>/<model>/<tier>/<task>: run folders are the level below
RACY_NS = 2_000_000_000  # a folder changed this recently may change again within the same mtime tick


class Look:
    """What one pass over the folders found: folders to record, run folders' result.json stats
    (None: no result.json yet), and folders that are gone."""

    def __init__(self):
        self.folders: dict[str, int] = {}
        self.runs: dict[str, tuple[int, int] | None] = {}
        self.task_folders: list[str] = []
        self.gone: list[str] = []


def look(store: Path, known: dict[str, int], full: bool) -> Look:
    """Stat the known folders (all of them, every run's result.json too, when `full`), and list
    again those whose mtime moved, descending into new folders."""
    found = Look()
    with ThreadPoolExecutor(THREADS) as pool:
        if full or not known:
            level = ["runs"]
        else:
            stamps = _fan(pool, lambda part: [(p, _mtime(store, p)) for p in part], list(known))
            level = [p for p, m in stamps if m != known[p]]
        while level:
            listed = _fan(pool, lambda part: [(p, *_list(store, p)) for p in part], level)
            level = []
            for path, mtime, subfolders in listed:
                if mtime is None:
                    found.gone.append(path)
                    continue
                found.folders[path] = mtime
                if path.count("/") == TASK_DEPTH:
                    found.task_folders.append(path)
                    found.runs.update((s, None) for s in subfolders)
                else:  # known subfolders were stat'ed on their own; new ones are walked
                    level += [s for s in subfolders if full or s not in known]
        found.runs.update(_fan(pool, lambda part: [(p, _result_stat(store, p)) for p in part], list(found.runs)))
    return found


def _fan(pool: ThreadPoolExecutor, work, items: list) -> list:
    size = max(1, len(items) // (THREADS * 4))
    return [x for part in pool.map(work, [items[i : i + size] for i in range(0, len(items), size)]) for x in part]


def _mtime(store: Path, path: str) -> int | None:
    try:
        return os.stat(f"{store}/{path}").st_mtime_ns
    except OSError:
        return None


def _list(store: Path, path: str) -> tuple[int | None, list[str]]:
    """The folder's mtime, taken before listing it (a change after that moves it again), and its subfolders."""
    mtime = _mtime(store, path)
    try:
        return mtime, [f"{path}/{e.name}" for e in os.scandir(f"{store}/{path}") if e.is_dir(follow_symlinks=False)]
    except OSError:  # removed while we looked
        return None, []


def _result_stat(store: Path, path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(f"{store}/{path}/result.json")
    except OSError:  # a run still going, or an interrupted one
        return None
    return st.st_size, st.st_mtime_ns


def read(store: str, path: str) -> tuple:
    """One run folder as ("row", values…) for the runs table, or ("bad", path, size, mtime, reason)."""
    file = f"{store}/{path}/result.json"
    try:
        st = os.stat(file)
        with open(file, "rb") as f:
            data = f.read()
    except OSError as err:
        return ("bad", path, None, None, f"cannot read: {err.strerror}")
    try:
        result = orjson.loads(data)
        row = flat(result)
        detail = {"folder": row["folder"], **{key: result.get(key) for key in DETAIL_KEYS}}  # as lenient as flat()
        task = {k: result["cell"]["task"].get(k) for k in TASK_KEYS}
        values = [orjson.dumps(row[c]).decode() if c == "markers" else row[c] for c in COLUMNS]
        odd = next((c for c, v in zip(COLUMNS, values) if not isinstance(v, (str, int, float, type(None)))), None)
        if odd:
            raise TypeError(f"field {odd} is {type(row[odd]).__name__}, not a number or a string")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        return ("bad", path, st.st_size, st.st_mtime_ns, reason(err))
    info = orjson.dumps(task)
    task_id = hashlib.blake2b(info, digest_size=8).hexdigest()
    return ("row", path, st.st_size, st.st_mtime_ns, *values, task_id, zlib.compress(orjson.dumps(detail), 1), info)


def reason(err: Exception) -> str:
    if isinstance(err, orjson.JSONDecodeError):
        return f"not valid JSON ({err})"
    if isinstance(err, KeyError):
        return f"missing field {err}"
    return f"unexpected shape ({err})"


def read_many(store: Path, paths: list[str]) -> list[tuple]:
    """Many run folders at once: on every core when there are enough to pay for the processes."""
    if len(paths) < 2000 or (os.cpu_count() or 1) < 2:
        return [read(str(store), p) for p in paths]
    chunk = max(500, len(paths) // ((os.cpu_count() or 1) * 4))
    with ProcessPoolExecutor(min(os.cpu_count() or 1, 8)) as pool:
        parts = pool.map(_read_chunk, [(str(store), paths[i : i + chunk]) for i in range(0, len(paths), chunk)])
        return [row for part in parts for row in part]


def _read_chunk(job: tuple[str, list[str]]) -> list[tuple]:
    store, paths = job
    return [read(store, p) for p in paths]


# --- writing rows ------------------------------------------------------------------------------

INSERT_RUN = f"INSERT OR REPLACE INTO runs (path, size, mtime_ns, {QUOTED}) VALUES ({', '.join('?' * (len(COLUMNS) + 3))})"


def store_rows(db: sqlite3.Connection, store: Path, read_rows: list[tuple], gone: list[str]) -> None:
    """Write what was read (rows and bad files) and forget run folders whose result.json is gone.
    Each file is looked at again here, under the write lock: one another process changed since we
    read it is left to that process (its own update) or to the next check, never overwritten with
    old news. Called inside a transaction."""
    for path in gone:
        if not os.path.exists(f"{store}/{path}/result.json"):
            forget(db, path)
    fresh = [r for r in read_rows if r[2] is None or _result_stat(store, r[1]) == (r[2], r[3])]
    for kind, path, size, mtime_ns, *rest in fresh:
        db.execute("DELETE FROM pending WHERE path = ?", (path,))
        if kind == "row":
            db.execute(INSERT_RUN, (path, size, mtime_ns, *rest[:-3]))
            db.execute("DELETE FROM bad WHERE path = ?", (path,))
        else:
            forget(db, path)
            db.execute("INSERT INTO bad VALUES (?, ?, ?, ?)", (path, size, mtime_ns, *rest))
    for kind, path, _, _, *rest in fresh:  # a second pass keeps `runs` in pages of its own: cheap to read cold
        if kind == "row":
            db.execute("INSERT OR REPLACE INTO details VALUES (?, ?, ?)", (path, rest[-3], rest[-2]))
            db.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?)", (rest[-3], rest[-1]))


def forget(db: sqlite3.Connection, path: str, below: bool = False) -> None:
    """Drop a run folder's rows, or with `below` everything under a folder that is gone."""
    for table in ("runs", "details", "bad", "pending", "folders"):
        db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))
        if below:
            db.execute(f"DELETE FROM {table} WHERE path > ? AND path < ?", (path + "/", path + "0"))  # '0' follows '/'


def known_runs(db: sqlite3.Connection, folder: str) -> dict[str, tuple[int, int]]:
    """{run folder: (size, mtime_ns)} of what the index holds under a task folder, bad files included."""
    span = (folder + "/", folder + "0")
    query = "SELECT path, size, mtime_ns FROM {} WHERE path > ? AND path < ?"
    return {p: (s, m) for t in ("runs", "bad") for p, s, m in db.execute(query.format(t), span)}


def check(store: Path, full: bool = False) -> sqlite3.Connection:
    """The index, brought in line with the run folders: only new, changed and gone ones are read.
    The cheap check (the default) looks at folders' mtimes; `full` stats every result.json."""
    store = Path(store)
    try:
        return _check(store, full)
    except sqlite3.DatabaseError as err:  # damaged in a way opening did not notice: start again
        if not damaged(err):
            raise
        remove(store)
        return _check(store, full)


def _check(store: Path, full: bool) -> sqlite3.Connection:
    db = connect(store)
    started = time.time_ns()
    known = dict(db.execute("SELECT path, mtime_ns FROM folders"))
    found = look(store, known, full)
    held: dict[str, tuple[int, int]] = {}
    for folder in found.task_folders:
        held.update(known_runs(db, folder))
    pending = {p for (p,) in db.execute("SELECT path FROM pending")}
    gone = [p for p in held if p not in found.runs]
    for path in pending - found.runs.keys():  # a run folder seen without its result.json, in a folder not listed
        if not os.path.isdir(store / path):
            gone.append(path)
            continue
        found.runs[path] = _result_stat(store, path)
        held.update((p, stat) for p, stat in known_runs(db, path.rsplit("/", 1)[0]).items() if p == path)
    stale = sorted(p for p, stat in found.runs.items() if stat is not None and held.get(p) != stat)
    gone += [p for p, stat in found.runs.items() if stat is None and p in held]
    waiting = [(p,) for p, stat in found.runs.items() if stat is None and p not in pending]
    # A folder changed within RACY_NS of this check is recorded as unknown (-1): listed again next time.
    moved = [(p, m if m < started - RACY_NS else -1) for p, m in found.folders.items()]
    moved = [(p, m) for p, m in moved if known.get(p) != m]
    if not (stale or gone or found.gone or waiting or moved):
        return db
    rows = read_many(store, stale)
    with transaction(db):
        for folder in found.gone:
            if not os.path.exists(store / folder):
                forget(db, folder, below=True)
        store_rows(db, store, rows, gone)
        db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", waiting)
        db.executemany("INSERT OR REPLACE INTO folders VALUES (?, ?)", moved)
    return db


def verify(store: Path) -> sqlite3.Connection:
    """The full check: every result.json stat'ed, so edits inside run folders are found too."""
    return check(store, full=True)


def update(store: Path, folders: list[str | Path]) -> None:
    """Bring these run folders' rows up to date (after a result is written, pulled or regraded);
    folders are relative to the store or absolute below it. Cheap: no listing of the store."""
    store = Path(store)
    paths = [Path(f).relative_to(store).as_posix() if Path(f).is_absolute() else Path(f).as_posix() for f in folders]
    present = [p for p in paths if (store / p / "result.json").is_file()]
    db = connect(store)
    try:
        with transaction(db):
            store_rows(db, store, [read(str(store), p) for p in present], [p for p in paths if p not in present])
    finally:
        db.close()


# --- what readers get --------------------------------------------------------------------------


def rows(store: Path) -> list[dict]:
    """Every readable result of the store as flat rows (results.COLUMNS), in folder order."""
    with checked(store) as db:
        return select(db)


@contextmanager
def checked(store: Path):
    """The index, read ahead and checked, for several queries in a row."""
    prefetch(store)
    db = check(store)
    try:
        yield db
    finally:
        db.close()


def select(db: sqlite3.Connection, where: str = "", params: tuple = ()) -> list[dict]:
    """Flat rows in folder order; `where` (SQL over the columns) keeps fewer, which is cheaper than
    making 100k rows in Python to drop most of them."""
    with bulk():
        found = db.execute(f"SELECT path, {QUOTED} FROM runs {'WHERE ' + where if where else ''}", params).fetchall()
        return [decode(values[1:]) for values in in_folder_order(found)]


def decode(values: tuple) -> dict:
    row = dict(zip(COLUMNS, values))
    row["markers"] = orjson.loads(row["markers"])
    if row["matched"] is not None:
        row["matched"] = bool(row["matched"])
    return row


def in_folder_order(found: list[tuple]) -> list[tuple]:
    """Rows that start with their path, folder by folder like a sorted walk of runs/ ('/' before any
    other character). Sorted here, not by SQLite: its sort of 100k wide rows costs more than reading them."""
    return sorted(found, key=lambda values: values[0].replace("/", "\x01"))


def prefetch(store: Path) -> None:
    """Read the index through once, in the background while the check stats folders: from a cold
    cache one sequential read (0.1-0.3 s for 100 MB here) beats SQLite's page-by-page reads (2+ s).
    posix_fadvise(WILLNEED) would say the same to the kernel, but measured here it read nothing."""

    def read_through():
        for name in (NAME, NAME + "-wal"):
            try:
                with open(Path(store) / name, "rb", buffering=0) as f:
                    while f.read(1 << 20):
                        pass
            except OSError:
                pass

    threading.Thread(target=read_through, daemon=True).start()


class bulk:
    """The cyclic garbage collector off while 100k rows (3M objects, none in a cycle) are made: it
    would otherwise walk them again and again as they pile up."""

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *_):
        if self.was:
            gc.enable()


def bad(store: Path) -> list[tuple[str, str]]:
    """(run folder, why) for every result.json the index could not read, as of the last check."""
    db = connect(store)
    try:
        return list(db.execute("SELECT path, reason FROM bad ORDER BY path"))
    finally:
        db.close()


def warn_bad(store: Path, say) -> None:
    """One line per unreadable result.json, so a reader's user knows what was left out and why."""
    for path, why in bad(store):
        say(f"warning: skipped {Path(store) / path / 'result.json'}: {why}; fix or delete it, or run the cell again")


def report_rows(store: Path) -> tuple[list[dict], dict[str, dict], list[bytes]]:
    """What the report needs: the rows, each task's info by id (first seen), and each row's
    run-panel details as compact JSON bytes (the report writes them without parsing them)."""
    prefetch(store)
    db = check(store)
    try:
        tasks = {tid: orjson.loads(info) for tid, info in db.execute("SELECT id, info FROM tasks")}
        found, infos, details = [], {}, []
        query = f"SELECT path, {', '.join(f'runs.{q}' for q in QUOTED.split(', '))}, task_id, detail FROM runs JOIN details USING (path)"
        with bulk():
            for values in in_folder_order(db.execute(query).fetchall()):
                row = decode(values[1:-2])
                infos.setdefault(row["task"], tasks[values[-2]])
                found.append(row)
                details.append(zlib.decompress(values[-1]))
        return found, infos, details
    finally:
        db.close()
