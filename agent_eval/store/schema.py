"""The index's schema: its tables, how a run's row is stored in them, and the VERSION that names
both, so that an index made for another schema is rebuilt from the run folders (it is derived).

Kept small, since a cold reader reads it through (README: Benchmarks has its size at 100k runs): result.json's
copy of the run folder is left out when it is the path, the key and SHA are kept as the bytes their
hex spells, tables of rows found by path are one b-tree each (no second copy of every path in an
index), and runs of one cell are found by a 63-bit hash of the cell, not by an index of its eight
text columns.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

from .entry import DETAIL_KEYS, FILE_CHARS, FILES_LISTED, RUN_CHARS, TASK_KEYS
from .results import COLUMNS

FORMAT = 2  # bump when flat() computes a column differently, or entry.read takes other values: every index is then rebuilt
NAMES = ", ".join(f'"{c}"' for c in COLUMNS)
# result.json's cell.folder is the run folder's path but in a folder copied by hand: stored as NULL
# when equal to it, and a result's own null as X'' (no result value is a blob), so both read back as given.
FOLDER = """CASE WHEN "folder" IS NULL THEN path ELSE nullif("folder", X'') END"""
# The run key and the revision's SHA, a row's widest texts, are lowercase hex: stored as the bytes
# they spell (half the size) and read back as that text. Any other value is stored as given.
HEX = ("key", "sha")
HEX_TEXT = re.compile(r"(?:[0-9a-f]{2})+")
READ = {c: FOLDER if c == "folder" else f"""CASE WHEN typeof("{c}") = 'blob' THEN lower(hex("{c}")) ELSE "{c}" END""" if c in HEX else f'"{c}"'
        for c in COLUMNS}  # each value column as SQL that reads it back as given
QUOTED = ", ".join(READ.values())
# Value columns have no declared type: SQLite then keeps each value as given (10 stays 10, 10.0 stays 10.0).
TABLES = {
    "runs": f"path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, cell INTEGER, {NAMES}",
    "details": "path TEXT PRIMARY KEY, task_id TEXT, detail BLOB",  # apart: `runs` stays small to scan
    "tasks": "id TEXT PRIMARY KEY, info BLOB",
    "bad": "path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, reason TEXT",
    "folders": "path TEXT PRIMARY KEY, mtime_ns INTEGER",  # runs/ down to the task folders, as last listed
    "pending": "path TEXT PRIMARY KEY",  # run folders last seen without a result.json: stat'ed at every check
    "superseded": "path TEXT PRIMARY KEY, newer TEXT",  # runs of a cell that has a newer run under another key
    "generation": "made TEXT, n INTEGER",  # one row: this index's identity and a count every write bumps (columns.py's cache stamp)
}
# Rows found by path, of a few hundred bytes at most (a run's details, zlib): one b-tree each, not a
# table and an index of its paths. Not `runs`: its other index (runs_cell) would then hold paths.
ROWLESS = ("details", "bad", "folders", "pending", "superseded")
# For a look by hand (README): each run's columns as result.json gives them. A view's name is never
# one of an older schema's tables: an older agent-eval drops those with DROP TABLE, which fails on a view.
VIEWS = {"results": "SELECT path, " + ", ".join(f'{READ[c]} AS "{c}"' for c in COLUMNS) + " FROM runs"}
IDENTITY = ("suite", "model", "sha", "task", "tier", "agent_version", "repeat", "session")  # one cell of one suite, whatever its key
CELL_COLUMNS = ", ".join(f'"{c}"' for c in IDENTITY)
SAME_CELL = "cell = ? AND " + " AND ".join(f'"{c}" IS ?' for c in IDENTITY)  # the hash finds the rows, the columns decide
INDEXES = ["CREATE INDEX runs_cell ON runs (cell)"]
# PRAGMA user_version: an index made for other tables, values stored otherwise (READ) or another FORMAT is rebuilt from the run folders.
VERSION = int.from_bytes(hashlib.blake2b(repr((FORMAT, TABLES, ROWLESS, VIEWS, READ, INDEXES, IDENTITY, DETAIL_KEYS, TASK_KEYS, FILES_LISTED, FILE_CHARS, RUN_CHARS)).encode(),
                                         digest_size=4).digest(), "big") >> 1


def create(db: sqlite3.Connection) -> None:
    """This schema in place of whatever the index held (tables of an older one included). In a transaction."""
    for kind, name in db.execute("SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%'").fetchall():
        db.execute(f'DROP {kind} "{name}"')
    for table, columns in TABLES.items():
        db.execute(f"CREATE TABLE {table} ({columns}){' WITHOUT ROWID' if table in ROWLESS else ''}")
    for view, query in VIEWS.items():
        db.execute(f"CREATE VIEW {view} AS {query}")
    for statement in INDEXES:
        db.execute(statement)
    db.execute(f"PRAGMA user_version={VERSION}")


def cell_of(identity: tuple) -> int:
    """A cell's (IDENTITY's values, as stored) 63-bit hash. Equal wherever SQLite's IS finds the values
    equal: numbers are hashed as floats (a stored True reads back as 1, and 1 IS 1.0), texts and bytes as themselves."""
    same = tuple(v if v is None or isinstance(v, (str, bytes)) else float(v) for v in identity)
    return int.from_bytes(hashlib.blake2b(repr(same).encode(), digest_size=8).digest(), "big") >> 1


INSERT_RUN = f"INSERT OR REPLACE INTO runs (path, size, mtime_ns, cell, {NAMES}) VALUES ({', '.join('?' * (len(COLUMNS) + 4))})"
CELL_AT = [COLUMNS.index(c) for c in IDENTITY]


def run_row(path: str, size: int, mtime_ns: int, values: list) -> tuple[tuple, tuple]:
    """INSERT_RUN's parameters for a run folder's values (results.COLUMNS), and its cell as stored."""
    stored = [stored_value(path, c, v) for c, v in zip(COLUMNS, values)]
    cell = tuple(stored[k] for k in CELL_AT)
    return (path, size, mtime_ns, cell_of(cell), *stored), cell


def stored_value(path: str, column: str, value):
    if column == "folder":
        return None if value == path else b"" if value is None else value
    if column in HEX and isinstance(value, str) and HEX_TEXT.fullmatch(value):
        return bytes.fromhex(value)
    return value
