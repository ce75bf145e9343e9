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

import hashlib
import os
import sqlite3
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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
}
# PRAGMA user_version: an index made for other tables or another FORMAT is rebuilt from the run folders.
VERSION = int.from_bytes(hashlib.blake2b(repr((FORMAT, TABLES, DETAIL_KEYS, TASK_KEYS)).encode(), digest_size=4).digest(), "big") >> 1
ORDER = "ORDER BY replace(path, '/', char(1))"  # folder by folder, like a sorted walk of runs/
DEPTH = 5  # runs/<sha>/<model>/<tier>/<task>/<run>
THREADS = 16  # stat() calls wait on the disk, not the CPU: many at once are faster on a cold cache


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


# --- reading run folders -----------------------------------------------------------------------


def listing(store: Path) -> dict[str, tuple[int, int]]:
    """{run folder relative to the store: (size, mtime_ns) of its result.json}, one stat per run."""
    root = Path(store) / "runs"
    if not root.is_dir():
        return {}
    with ThreadPoolExecutor(THREADS) as pool:
        folders = [str(root)]
        for _ in range(DEPTH):
            folders = _fan(pool, _subfolders, folders)
        found = _fan(pool, _stats, folders)
    cut = len(str(store)) + 1
    return {folder[cut:]: stat for folder, stat in found}


def _fan(pool: ThreadPoolExecutor, work, items: list) -> list:
    size = max(1, len(items) // (THREADS * 4))
    return [x for part in pool.map(work, [items[i : i + size] for i in range(0, len(items), size)]) for x in part]


def _subfolders(folders: list[str]) -> list[str]:
    out = []
    for folder in folders:
        try:
            out += [e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):  # removed while we looked
            pass
    return out


def _stats(folders: list[str]) -> list[tuple[str, tuple[int, int]]]:
    out = []
    for folder in folders:
        try:
            st = os.stat(f"{folder}/result.json")
            out.append((folder, (st.st_size, st.st_mtime_ns)))
        except (FileNotFoundError, NotADirectoryError):  # a run still going, or an interrupted one
            pass
    return out


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
    """Write what was read (rows and bad files) and forget folders whose result.json is gone. Under
    the write lock each file is looked at again: one another process changed since we read it is
    left to that process (its own update) or to the next check, never overwritten with old news."""
    with transaction(db):
        for path in gone:
            if not os.path.exists(f"{store}/{path}/result.json"):
                forget(db, path)
        fresh = [r for r in read_rows if r[2] is None or now(store, r[1]) == (r[2], r[3])]
        for kind, path, size, mtime_ns, *rest in fresh:
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


def forget(db: sqlite3.Connection, path: str) -> None:
    for table in ("runs", "details", "bad"):
        db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))


def now(store: Path, path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(f"{store}/{path}/result.json")
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def check(store: Path) -> sqlite3.Connection:
    """The index, brought in line with the run folders: only new, changed and gone ones are read."""
    store = Path(store)
    try:
        return _check(store)
    except sqlite3.DatabaseError as err:  # damaged in a way opening did not notice: start again
        if not damaged(err):
            raise
        remove(store)
        return _check(store)


def _check(store: Path) -> sqlite3.Connection:
    db = connect(store)
    on_disk = listing(store)
    known = dict(((p, (s, m)) for p, s, m in db.execute("SELECT path, size, mtime_ns FROM runs UNION ALL SELECT path, size, mtime_ns FROM bad")))
    stale = [p for p, stat in on_disk.items() if known.get(p) != stat]
    gone = [p for p in known if p not in on_disk]
    if stale or gone:
        store_rows(db, store, read_many(store, sorted(stale)), gone)
    return db


def update(store: Path, folders: list[str | Path]) -> None:
    """Bring these run folders' rows up to date (after a result is written, pulled or regraded);
    folders are relative to the store or absolute below it. Cheap: no listing of the store."""
    store = Path(store)
    paths = [Path(f).relative_to(store).as_posix() if Path(f).is_absolute() else Path(f).as_posix() for f in folders]
    present = [p for p in paths if (store / p / "result.json").is_file()]
    db = connect(store)
    try:
        store_rows(db, store, [read(str(store), p) for p in present], [p for p in paths if p not in present])
    finally:
        db.close()


# --- what readers get --------------------------------------------------------------------------


def rows(store: Path) -> list[dict]:
    """Every readable result of the store as flat rows (results.COLUMNS), in folder order."""
    db = check(store)
    try:
        return [decode(values) for values in db.execute(f"SELECT {QUOTED} FROM runs {ORDER}")]
    finally:
        db.close()


def decode(values: tuple) -> dict:
    row = dict(zip(COLUMNS, values))
    row["markers"] = orjson.loads(row["markers"])
    if row["matched"] is not None:
        row["matched"] = bool(row["matched"])
    return row


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
    db = check(store)
    try:
        tasks = {tid: orjson.loads(info) for tid, info in db.execute("SELECT id, info FROM tasks")}
        found, infos, details = [], {}, []
        query = f"SELECT {', '.join(f'runs.{q}' for q in QUOTED.split(', '))}, task_id, detail FROM runs JOIN details USING (path) {ORDER}"
        for values in db.execute(query):
            row = decode(values[:-2])
            infos.setdefault(row["task"], tasks[values[-2]])
            found.append(row)
            details.append(zlib.decompress(values[-1]))
        return found, infos, details
    finally:
        db.close()
