"""Reads per run: what each stored run read (grade/reads.py), for the `reads` command, compare's
context and the report, without opening 100k result.json files each time.

STORE/reads.sqlite keeps each run folder's reads with the `finished_at` of the result they came from;
a run it does not hold, or holds from an earlier result (run again since), is read once: the
result's own `reads`, or — for a result stored before agent-eval recorded them — derived from its
trace.jsonl (its steps when the trace is gone), so an old store gets its reads without running
anything again. Like the index it is derived: delete it and it is made again. A store that cannot
be written (a read-only mirror) is read each time instead.
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

from agent_eval.grade import reads as reading
from agent_eval.grade import trace as traces
from agent_eval.store.records import Step

NAME = "reads.sqlite"
FORMAT = 1  # bump when grade/reads.py names a read differently: every cached run is read again
Reads = list[tuple[str, int | None, int | None]]  # (name "where: path", first turn, lines) per file read


def of_runs(store: Path, rows: list[dict]) -> dict[str, Reads]:
    """Each row's (results.flat) reads by its run folder, from the cache, read for runs it lacks."""
    return _synced(Path(store), rows)[0]


def fill(store: Path) -> int:
    """Read every run the cache lacks (agent-eval reindex): how many were read."""
    from agent_eval.store import index

    return _synced(Path(store), index.rows(Path(store)))[1]


def _synced(store: Path, rows: list[dict]) -> tuple[dict[str, Reads], int]:
    db = _connect(store)
    try:
        cached = {path: (done, blob) for path, done, blob in db.execute("SELECT path, finished_at, reads FROM runs")} if db else {}
        stale = [r["folder"] for r in rows if cached.get(r["folder"], (None,))[0] != r["finished_at"]]
        fresh = derive_many(store, stale)
        if db and fresh:
            with db:
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", [(f, done, blob) for f, (done, blob) in fresh.items()])
        found = {**{path: blob for path, (_, blob) in cached.items()}, **{f: blob for f, (_, blob) in fresh.items()}}
        return {r["folder"]: [tuple(x) for x in orjson.loads(found[r["folder"]])] for r in rows if r["folder"] in found}, len(stale)
    finally:
        if db:
            db.close()


def _connect(store: Path) -> sqlite3.Connection | None:
    try:
        db = sqlite3.connect(store / NAME, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
            with db:
                db.execute("DROP TABLE IF EXISTS runs")
                db.execute("CREATE TABLE runs (path TEXT PRIMARY KEY, finished_at TEXT, reads BLOB)")
                db.execute(f"PRAGMA user_version={FORMAT}")
        return db
    except sqlite3.DatabaseError:
        if (store / NAME).is_file() and os.access(store, os.W_OK):  # damaged: start again
            for name in (NAME, NAME + "-wal", NAME + "-shm"):
                (store / name).unlink(missing_ok=True)
            return _connect(store)
        return None


def derive_many(store: Path, folders: list[str]) -> dict[str, tuple[str, bytes]]:
    """{folder: (finished_at, reads as JSON)} for run folders, on every core when there are many."""
    if len(folders) < 500 or (os.cpu_count() or 1) < 2:
        return dict(filter(None, (derive(str(store), f) for f in folders)))
    chunk = max(100, len(folders) // ((os.cpu_count() or 1) * 4))
    with ProcessPoolExecutor(min(os.cpu_count() or 1, 8)) as pool:
        parts = pool.map(_derive_chunk, [(str(store), folders[i : i + chunk]) for i in range(0, len(folders), chunk)])
        return dict(x for part in parts for x in part)


def _derive_chunk(job: tuple[str, list[str]]) -> list:
    store, folders = job
    return list(filter(None, (derive(store, f) for f in folders)))


def derive(store: str, folder: str) -> tuple[str, tuple[str, bytes]] | None:
    """One run's reads: as its result recorded them, else from its trace, else from its steps."""
    run = Path(store) / folder
    try:
        result = orjson.loads((run / "result.json").read_bytes())
        cell = result["cell"]
        inputs, profile = list(cell["task"].get("files") or []), cell["profile"]
        if result.get("reads") is not None:
            found = [(r["where"], r["path"], r.get("turn"), r.get("lines")) for r in result["reads"]]
        elif (run / "trace.jsonl").is_file():
            parsed = traces.parse(run / "trace.jsonl", result.get("trace_from") or 0)
            found = [(r.where, r.path, r.turn, r.lines) for r in reading.reads(parsed, inputs, profile)]
        else:
            steps = [Step.model_validate(s) for s in result.get("steps") or []]
            found = [(r.where, r.path, r.turn, r.lines) for r in reading.from_steps(steps, inputs, profile)]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None  # unreadable: the index names it; it has no reads to show
    return folder, (result.get("finished_at", ""), orjson.dumps([(f"{w}: {p}", t, n) for w, p, t, n in found]))


def load(store: Path, models: list[str] = (), tiers: list[str] = (), say=lambda line: None) -> tuple[list[dict], dict[str, Reads]]:
    """The store's rows in the suites' order (only these models, by id or name, and tiers, when given)
    and their reads: what `agent-eval reads` and the report count."""
    from agent_eval.store import index
    from agent_eval.store.results import in_suite_order
    from agent_eval.store.store import read_plans

    rows = in_suite_order(index.rows(Path(store)), read_plans(Path(store), say))
    rows = [r for r in rows if (not models or r["model"] in models or r["model_name"] in models) and (not tiers or r["tier"] in tiers)]
    index.warn_bad(Path(store), say)
    return rows, of_runs(store, [r for r in rows if r["session_position"] is None])


def compare_context(store: Path, rows: list[dict], axis: str, base: str, head: str, models: list[str] = (), tiers: list[str] = (),
                    tasks: list[str] = ()) -> list[str]:
    """compare's context lines (reads_table.context) for the runs compare compared: base and head
    named as compare takes them, the same --model/--tier/--task filters."""
    import fnmatch

    from .reads_table import context
    from .sides import SIDES, aliases, resolve

    field, name, other = SIDES[axis]
    known = aliases(axis, {(r[field], r[name], r[other]) for r in rows})
    b, h = resolve(known, axis, base), resolve(known, axis, head)
    kept = [r for r in rows if r[field] in (b, h) and (not models or r["model"] in models or r["model_name"] in models)
            and (not tiers or r["tier"] in tiers) and (not tasks or any(fnmatch.fnmatchcase(r["task"], g) for g in tasks))]
    return context(kept, of_runs(store, kept), field, b, h)
