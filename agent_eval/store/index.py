"""Index: every result of a store as one row of a SQLite table beside the run folders, so that
readers (results, report, compare, regrade, export) never open 100k result.json files.

result.json stays the truth; STORE/index.sqlite is derived from it and can be deleted at any time.
Each row records the size and mtime_ns of the result.json it was read from. Writers (Store.finish,
pull, regrade) `update` the rows they touch. Every reader first checks the index against the
folders (`check`, see folders.py): run folders added, removed or copied in by hand, and a result
that appeared in a folder seen waiting, are read; `verify` (agent-eval reindex) stats every
result.json for edits inside folders. A truncated, damaged or deleted index is rebuilt.

A cell run again under another definition (its task, profile, budgets or agent settings changed,
so its run key and folder changed) leaves its old run beside the new one. Readers count each
cell's newest run only (the `superseded` table names the others) and say how many were left out:
counted together, two definitions would pass for repeats.

SQLite: in the standard library, transactional, and safe with several processes at once (WAL, a
busy timeout, every write in one BEGIN IMMEDIATE transaction). A result.json that cannot be read
or parsed is kept in the `bad` table with the reason, for the readers to name.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

from .entry import DETAIL_KEYS, read, read_many  # noqa: F401 (DETAIL_KEYS: named here too, with what the index keeps)
from .folders import RACY_NS, look, result_stat
from .results import COLUMNS
from .schema import CELL_COLUMNS, INSERT_RUN, QUOTED, SAME_CELL, VERSION, cell_of, create, run_row

NAME = "index.sqlite"
COLUMNS_NAME = "index.columns.npz"  # columns.py's cache of what the aggregating readers need, derived from the index
BOOLEANS = ("matched", "activated", "trigger")


# --- the database ------------------------------------------------------------------------------


class UnusableIndex(Exception):
    """The index's path holds something that is not a file. One line, says what to do."""


def usable(store: Path) -> None:
    """sqlite3 would say only "unable to open database file" of a folder in the index's place."""
    path = Path(store) / NAME
    if path.exists() and not path.is_file():
        raise UnusableIndex(f"{path} is not a file but the store's index belongs there; move it away (the index is made again from the run folders)")


def connect(store: Path) -> sqlite3.Connection:
    """The store's index, created or recreated (unreadable, or another VERSION) as needed."""
    usable(store)
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
    for name in (NAME, NAME + "-wal", NAME + "-shm", COLUMNS_NAME):
        (Path(store) / name).unlink(missing_ok=True)


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)  # transactions are explicit
    try:
        db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            with transaction(db):  # asked again under the lock: another process may have just made it
                made = db.execute("PRAGMA user_version").fetchone()[0] != VERSION
                if made:
                    create(db)
                    db.execute("INSERT INTO generation VALUES (?, 0)", (os.urandom(8).hex(),))
            if made:
                shrink(db)
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, at worst the last commit is lost
        return db
    except sqlite3.DatabaseError:
        db.close()
        raise


def shrink(db: sqlite3.Connection) -> None:
    """The pages an older index used, free once its tables are dropped, given back: else its file
    would keep its old size for good. Left for the next rebuild when another process is writing."""
    try:
        db.execute("VACUUM")
    except sqlite3.OperationalError:
        pass


class transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")  # take the write lock now: two writers queue, never deadlock

    def __exit__(self, kind, *_):
        if not kind:
            self.db.execute("UPDATE generation SET n = n + 1")  # whatever was written: derived caches are stale
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def generation(db: sqlite3.Connection) -> str:
    """What the index holds, named: it changes with every write, and differs between two indexes."""
    made, n = db.execute("SELECT made, n FROM generation").fetchone()
    return f"{made}-{n}"


# --- writing rows ------------------------------------------------------------------------------

def store_rows(db: sqlite3.Connection, store: Path, read_rows: list[tuple], gone: list[str]) -> None:
    """Write what was read (rows and bad files) and forget run folders whose result.json is gone.
    Each file is looked at again here, under the write lock: one another process changed since we
    read it is left to that process (its own update) or to the next check, never overwritten with
    old news. Called inside a transaction; the cells touched are then sorted into newest and superseded."""
    touched = set()
    for path in gone:
        if not os.path.exists(f"{store}/{path}/result.json"):
            touched |= cells_under(db, path)
            forget(db, path)
    fresh = [r for r in read_rows if r[2] is None or result_stat(store, r[1]) == (r[2], r[3])]
    for kind, path, size, mtime_ns, *rest in fresh:
        db.execute("DELETE FROM pending WHERE path = ?", (path,))
        touched |= cells_under(db, path)  # what it was, if it changed cell
        if kind == "row":
            row, cell = run_row(path, size, mtime_ns, rest[:-3])
            db.execute(INSERT_RUN, row)
            db.execute("DELETE FROM bad WHERE path = ?", (path,))
            touched.add(cell)
        else:
            forget(db, path)
            db.execute("INSERT INTO bad VALUES (?, ?, ?, ?)", (path, size, mtime_ns, *rest))
    for kind, path, _, _, *rest in fresh:  # a second pass keeps `runs` in pages of its own: cheap to read cold
        if kind == "row":
            db.execute("INSERT OR REPLACE INTO details VALUES (?, ?, ?)", (path, rest[-3], rest[-2]))
            db.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?)", (rest[-3], rest[-1]))
    supersede(db, touched)


def mark_bad(store: Path, folder: str, why: str) -> None:
    """A result `run` found unreadable, though this index read it (run checks the whole record): its
    row goes and the readers name it, so every reader agrees with `run`."""
    size, mtime_ns = result_stat(store, folder) or (None, None)
    db = connect(store)
    try:
        with transaction(db):
            store_rows(db, store, [("bad", folder, size, mtime_ns, why)], [])
    finally:
        db.close()


def cells_under(db: sqlite3.Connection, path: str, below: bool = False) -> set[tuple]:
    """The cells (IDENTITY, as stored) of the runs at a run folder, or with `below` under a folder."""
    where, params = ("path > ? AND path < ?", (path + "/", path + "0")) if below else ("path = ?", (path,))
    return set(db.execute(f"SELECT {CELL_COLUMNS} FROM runs WHERE {where}", params))


def supersede(db: sqlite3.Connection, cells: set[tuple]) -> None:
    """Each cell's newest run (by finished_at, then folder) counts; its other runs are superseded."""
    if len(cells) > 200:  # a rebuild: one pass over the table beats a query per cell
        db.execute("DELETE FROM superseded")
        db.execute(f"""INSERT INTO superseded SELECT path, newest FROM (SELECT path, first_value(path) OVER
                       (PARTITION BY {CELL_COLUMNS} ORDER BY finished_at DESC, path DESC) AS newest FROM runs) WHERE path != newest""")
        return
    for cell in cells:
        paths = [p for (p,) in db.execute(f"SELECT path FROM runs WHERE {SAME_CELL} ORDER BY finished_at DESC, path DESC", (cell_of(cell), *cell))]
        db.executemany("DELETE FROM superseded WHERE path = ?", [(p,) for p in paths])
        db.executemany("INSERT INTO superseded VALUES (?, ?)", [(p, paths[0]) for p in paths[1:]])


def forget(db: sqlite3.Connection, path: str, below: bool = False) -> None:
    """Drop a run folder's rows, or with `below` everything under a folder that is gone."""
    for table in ("runs", "details", "bad", "pending", "folders", "superseded"):
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
        found.runs[path] = result_stat(store, path)
        held.update(known_runs(db, path.rsplit("/", 1)[0]))
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
                cells = cells_under(db, folder, below=True)
                forget(db, folder, below=True)
                supersede(db, cells)
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
            if db.execute("SELECT 1 FROM folders WHERE path = 'runs'").fetchone():  # once a check has listed the store
                # The folders above these runs, as unknown (-1): the next check lists them and from then on
                # watches them, so a folder removed by hand later takes its rows with it.
                above = {"/".join(p.split("/")[:k]) for p in present for k in range(2, p.count("/") + 1)}
                db.executemany("INSERT OR IGNORE INTO folders VALUES (?, -1)", [(a,) for a in sorted(above)])
    finally:
        db.close()


# --- what readers get --------------------------------------------------------------------------


def gradings(store: Path) -> dict[str, str | None]:
    """{run folder: the grading digest its result was graded under (None: stored before gradings
    were recorded)} of every indexed result, superseded ones too: planning counts the stale ones
    from this, never opening a result.json it has not read before."""
    with checked(store) as db:
        return dict(db.execute("SELECT path, grading FROM runs"))


def rows(store: Path) -> list[dict]:
    """Every readable result of the store as flat rows (results.COLUMNS), in folder order, as SQLite
    holds them. Readers take columns.rows(), made from the columns file: the same rows, faster."""
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


CURRENT = "path NOT IN (SELECT path FROM superseded)"


def select(db: sqlite3.Connection, where: str = "", params: tuple = ()) -> list[dict]:
    """Flat rows in folder order; `where` (SQL over the columns) keeps fewer, which is cheaper than
    making 100k rows in Python to drop most of them."""
    with bulk():
        found = db.execute(f"SELECT path, {QUOTED} FROM runs WHERE {CURRENT} {'AND (' + where + ')' if where else ''}", params).fetchall()
        return [decode(values[1:]) for values in in_folder_order(found)]


def decode(values: tuple) -> dict:
    row = dict(zip(COLUMNS, values))
    row["markers"] = orjson.loads(row["markers"])
    for name in BOOLEANS:  # SQLite keeps a bool as 0 or 1
        if row[name] is not None:
            row[name] = bool(row[name])
    return row


def in_folder_order(found: list[tuple]) -> list[tuple]:
    """Rows that start with their path, folder by folder like a sorted walk of runs/ ('/' before any
    other character). Sorted here, not by SQLite: its sort of 100k wide rows costs more than reading them."""
    return sorted(found, key=lambda values: values[0].replace("/", "\x01"))


def prefetch(store: Path) -> None:
    """Read the index through once, in the background while the check stats folders: from a cold
    cache one sequential read (0.1-0.3 s for 100 MB here) beats SQLite's page-by-page reads (2+ s).
    posix_fadvise(WILLNEED) would say the same to the kernel, but measured here it read nothing.
    The read is another process's (cat): closing a file descriptor of the database in this process
    would drop every POSIX lock SQLite holds on it here, and a writer elsewhere would then corrupt
    what this process reads ("database disk image is malformed", seen in the two-writers test)."""
    files = [str(Path(store) / name) for name in (NAME, NAME + "-wal") if (Path(store) / name).is_file()]
    if files:
        threading.Thread(target=subprocess.run, args=(["cat", *files],), daemon=True,
                         kwargs={"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}).start()


@contextmanager
def bulk():
    """The cyclic garbage collector off while 100k rows (3M objects, none in a cycle) are made: it
    would otherwise walk them again and again as they pile up. Also a decorator: @bulk()."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


UNREADABLE = "SELECT path, reason FROM bad ORDER BY path"


def bad(store: Path) -> list[tuple[str, str]]:
    """(run folder, why) for every result.json the index could not read, as of the last check."""
    db = connect(store)
    try:
        return list(db.execute(UNREADABLE))
    finally:
        db.close()


def warn_bad(store: Path, say) -> None:
    """One line per unreadable result.json, and one for superseded runs, so a reader's user knows
    what was left out and why."""
    db = connect(store)
    try:
        unreadable = list(db.execute(UNREADABLE))
        count, path, newer = db.execute("SELECT count(*), min(path), newer FROM superseded").fetchone()
    finally:
        db.close()
    for path_, why in unreadable:
        say(f"warning: skipped {Path(store) / path_ / 'result.json'}: {why}; fix or delete it, or run the cell again")
    if count:
        say(f"warning: left out {count} older run(s) of cells run again since under another definition (task, profile, "
            f"budgets or agent settings changed), e.g. {Path(store) / path} (superseded by {newer}); each cell counts its "
            f"newest run only: delete the old folders to silence this")
