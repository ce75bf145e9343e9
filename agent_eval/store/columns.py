"""Columns: a store's current runs (superseded ones left out) as numpy arrays, for the readers that
aggregate — the report and compare — so that at 100k runs none of them makes a Python object per run.

Numbers are float64 arrays (NaN where a value is unknown, e.g. tokens a provider did not report);
strings are dictionary-encoded (each run's code into the column's distinct values, in the order
runs first have them); marker names are a runs × names 0/1 matrix. Rows are in folder order, as
index.rows() gives them. Answers, excerpts and timelines stay in the index's details table.

Derived from the index and cached beside it (index.NAME's neighbour index.COLUMNS_NAME), stamped
with the index's generation, which every write to the index changes: a reader checks the index as
always, then uses the cache when it was made from exactly this index and remakes it otherwise.

To add a column a reader needs, add one line to SPEC: its name (a column of results.COLUMNS) and
kind, or a name and (kind, SQL over the runs table) for one computed from others.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson

from . import index, schema
from .results import COLUMNS

NUMBER, TEXT, NAMES = "number", "text", "names"
SPEC: dict[str, str | tuple[str, str]] = {
    "key": TEXT, "folder": TEXT, "finished_at": TEXT, "suite": TEXT, "model": TEXT, "model_name": TEXT, "sha": TEXT, "revision": TEXT, "ref": TEXT, "tier": TEXT, "task": TEXT,
    "agent": TEXT, "agent_version": TEXT, "status": TEXT, "environment": TEXT, "session": TEXT, "grading": TEXT,
    "repeat": NUMBER, "matched": NUMBER, "score": NUMBER, "wall_seconds": NUMBER, "turns": NUMBER, "tool_calls": NUMBER, "tokens_new": NUMBER,
    "tokens_cached": NUMBER, "tokens_generated": NUMBER, "cost": NUMBER, "session_position": NUMBER,
    "activated": NUMBER, "trigger": NUMBER,
    "markers": NAMES,
    "profile": TEXT, "ended_by": TEXT, "isolation": TEXT, "harness_version": TEXT, "agent_seconds": NUMBER, "requests": NUMBER,
    "marker_list": (TEXT, '"markers"'),  # each run's markers as listed, in order: the rows' markers (the matrix has no order)
    "part": (TEXT, f"substr({schema.FOLDER}, 6, instr(substr({schema.FOLDER}, 6), '/') - 1)"),  # runs/<part>/…: the report's detail files go by it
    "task_id": (TEXT, "(SELECT task_id FROM details WHERE details.path = runs.path)"),  # the task's text, in the tasks table
}
KINDS = {name: spec if isinstance(spec, str) else spec[0] for name, spec in SPEC.items()}
SQL = {name: schema.READ[name] if isinstance(spec, str) else spec[1] for name, spec in SPEC.items()}
FORMAT = hashlib.blake2b(repr((2, SPEC)).encode(), digest_size=6).hexdigest()  # another SPEC: every cache is remade
INT = ".int"  # beside each number column: which runs held an int (10, not 10.0), so that rows give back exactly what was stored


class Columns:
    """Named columns of one length. `arrays`: numbers, codes of text columns, the NAMES matrices;
    `raw`: each text or NAMES column's distinct values as JSON, parsed when first asked for."""

    def __init__(self, arrays: dict[str, np.ndarray], raw: dict[str, bytes]):
        self.arrays, self.raw, self._values = arrays, raw, {}
        self.size = len(arrays["status"])

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, name: str) -> np.ndarray:
        """A number column (floats, NaN unknown), a text column's codes, or a NAMES column's matrix."""
        return self.arrays[name]

    def values(self, name: str) -> list:
        """A text column's distinct values (the codes index them), or a NAMES column's names."""
        if name not in self._values:
            self._values[name] = orjson.loads(self.raw[name])
        return self._values[name]

    def text(self, name: str) -> np.ndarray:
        """Each run's value of a text column (an object array: references, not copies)."""
        return np.array(self.values(name) + [None], dtype=object)[:-1][self.arrays[name]]

    def isin(self, name: str, wanted) -> np.ndarray:
        """Runs whose text column holds one of `wanted`."""
        wanted = set(wanted)
        return np.isin(self.arrays[name], [k for k, v in enumerate(self.values(name)) if v in wanted])

    def combined(self, *names: str) -> np.ndarray:
        """One code per run for the combination of these text columns' values (equal codes: equal
        values in every one): its rank among the combinations present, ordered as the codes are."""
        key, span = np.zeros(self.size, dtype=np.int64), 1
        for name in names:
            size = len(self.values(name))
            if span * size > DENSE:  # ranked so far, so that the key never overflows
                key, span = _ranked(key, span)
            key, span = key * size + self.arrays[name], span * size
        return _ranked(key, span)[0]

    def take(self, which: np.ndarray) -> Columns:
        """These runs (a mask or positions), with the same dictionaries."""
        kept = Columns({name: a[which] for name, a in self.arrays.items()}, self.raw)
        kept._values = self._values
        return kept

    def rows(self, names: list[str]) -> list[dict]:
        """These runs as flat rows of these columns, each value as the index holds it (10 stays 10,
        10.0 stays 10.0, a boolean a bool, markers a list in their order). Made column by column:
        each distinct string is shared among the rows, not made again for each run."""
        with index.bulk():
            columns = [self.listed(name) for name in names]
            return [dict(zip(names, values)) for values in zip(*columns)]

    def listed(self, name: str) -> list:
        """One column as a list of Python values, one per run."""
        if name == "markers":  # each distinct list parsed once; copied, so that changing one run's changes no other's
            distinct = [orjson.loads(v) for v in self.values("marker_list")]
            return [list(distinct[k]) for k in self.arrays["marker_list"].tolist()]
        if KINDS[name] == TEXT:
            return self.text(name).tolist()
        values, known = self.arrays[name], ~np.isnan(self.arrays[name])
        out = values.astype(object)
        if name in index.BOOLEANS:
            out[known] = (values[known] == 1).tolist()
        else:
            ints = known & self.arrays[name + INT]
            out[ints] = values[ints].astype(np.int64).tolist()
        out[~known] = None
        return out.tolist()

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Columns:
        """From flat rows (results.COLUMNS): for tests and callers without a store."""
        raw = {name: [r[name] for r in rows] for name in SPEC if name in rows[0]} if rows else {name: [] for name in SPEC}
        if rows and "markers" in rows[0]:
            raw["marker_list"] = [orjson.dumps(r["markers"]).decode() for r in rows]
        return encode(raw)


def _coded(values: list) -> tuple[np.ndarray, list]:
    """Each value's code, and the distinct values in the order runs first have them."""
    code: dict = {}
    codes = [code.setdefault(v, len(code)) for v in values]
    return np.array(codes, dtype=np.int32).reshape(len(codes)), list(code)


DENSE = 1 << 22  # a key below this ranks by counting (no sort of 100k runs per column)


def _ranked(key: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """Each key's rank among the distinct keys (all below `span`), and how many there are."""
    if span > DENSE:
        _, ranks = np.unique(key, return_inverse=True)
        return ranks.reshape(-1).astype(np.int64), int(ranks.max(initial=-1)) + 1
    seen = np.bincount(key, minlength=span) > 0
    rank = np.cumsum(seen) - 1
    return rank[key].astype(np.int64), int(seen.sum())


def encode(raw: dict[str, list]) -> Columns:
    """Columns from each column's values, one per run (NAMES: a list of names, or its JSON text)."""
    arrays, texts = {}, {}
    for name, values in raw.items():
        kind = KINDS[name]
        if kind == NUMBER:
            arrays[name] = np.array(values, dtype=np.float64).reshape(len(values))  # None becomes NaN
            arrays[name + INT] = np.fromiter(map(type, values), dtype=object, count=len(values)) == int
        elif kind == TEXT:
            arrays[name], distinct = _coded(values)
            texts[name] = orjson.dumps(distinct)
        else:  # each distinct list parsed once, and given its row of the matrix
            codes, distinct = _coded([v if isinstance(v, (str, bytes)) else orjson.dumps(v) for v in values])
            lists = [orjson.loads(v) for v in distinct]
            names = list(dict.fromkeys(n for listed in lists for n in listed))  # in the order runs first have them
            at = {n: k for k, n in enumerate(names)}
            matrix = np.zeros((len(lists), len(names)), dtype=np.uint8)
            for i, listed in enumerate(lists):
                matrix[i, [at[n] for n in listed]] = 1
            arrays[name], texts[name] = matrix[codes], orjson.dumps(names)
    return Columns(arrays, texts)


# --- from the index, through the cache ---------------------------------------------------------------


@contextmanager
def snapshot(store: Path, whole: bool = False):
    """The index, checked, in one read transaction: the columns and whatever else the caller reads
    of the index (details, tasks) then describe the same runs, whoever writes meanwhile. `whole`:
    the caller reads most of the index (the report, every run's details): read it through ahead."""
    if whole:
        index.prefetch(store)
    db = index.check(store)  # from a cold cache, without `whole`, only the pages the check needs are read
    try:
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")
    finally:
        db.close()


def rows(store: Path) -> list[dict]:
    """Every current run of the store as flat rows (results.COLUMNS), in folder order: index.rows()
    value for value, made column by column (no row fetched from SQLite)."""
    return read(store).rows(COLUMNS)


def read(store: Path) -> Columns:
    """Every current run of the store as columns (the index checked first, as every reader does)."""
    with snapshot(Path(store)) as db:
        return load(db, Path(store))


def load(db: sqlite3.Connection, store: Path) -> Columns:
    """The columns of the index `db` (of `store`), from the cache when it was made from this very
    index, else made from the index and cached. Inside a read transaction (snapshot)."""
    stamp, path = f"{FORMAT}-{index.generation(db)}", Path(store) / index.COLUMNS_NAME
    cached = _cached(path, stamp)
    if cached is not None:
        return cached
    cols = _from_index(db)
    _save(path, stamp, cols)
    return cols


def _from_index(db: sqlite3.Connection) -> Columns:
    found = db.execute(f"SELECT path, {', '.join(SQL.values())} FROM runs WHERE {index.CURRENT}").fetchall()
    with index.bulk():
        ordered = index.in_folder_order(found)
        transposed = list(zip(*ordered)) if ordered else [()] * (len(SPEC) + 1)
        return encode({name: list(values) for name, values in zip(SPEC, transposed[1:], strict=True)})


def _cached(path: Path, stamp: str) -> Columns | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            if bytes(saved["stamp"]).decode() != stamp:
                return None
            arrays = {name: saved[name].astype(np.int32) if KINDS[name] == TEXT else saved[name] for name in SPEC}
            size = len(arrays["status"])
            arrays |= {name + INT: np.unpackbits(saved[name + INT], count=size).astype(bool) for name in SPEC if KINDS[name] == NUMBER}
            raw = {name: bytes(saved[name + ".values"]) for name in SPEC if KINDS[name] != NUMBER}
    except (OSError, KeyError, ValueError):  # none yet, or damaged: made again
        return None
    return Columns(arrays, raw)


def _save(path: Path, stamp: str, cols: Columns) -> None:
    """Written whole then renamed in: a reader sees the old cache or the new one, never half of one.
    A store the reader may not write to (a read-only mount) is read without a cache."""
    arrays = {name: _narrow(a) if KINDS.get(name) == TEXT else np.packbits(a) if name.endswith(INT) else a for name, a in cols.arrays.items()}
    values = {name + ".values": np.frombuffer(raw, dtype=np.uint8) for name, raw in cols.raw.items()}
    part = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(part, "wb") as f:
            np.savez(f, stamp=np.frombuffer(stamp.encode(), dtype=np.uint8), **arrays, **values)
        os.replace(part, path)
    except OSError:
        part.unlink(missing_ok=True)


def _narrow(codes: np.ndarray) -> np.ndarray:
    top = int(codes.max(initial=0))
    return codes.astype(np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.int32)
