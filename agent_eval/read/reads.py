"""Reads per run: what each stored run read (grade/reads.py), for the `reads` command, compare's
context and the report, without opening 100k result.json files each time.

STORE/reads.npz keeps every run folder's reads as columns (run, file, first turn, lines: integers,
the names once), with the `finished_at` of the result they came from: loading it and counting 100k
runs is a few numpy calls, never an object per read. A run it does not hold, or holds from an earlier
result (run again since), is read once: the result's own `reads`, or — for a result stored before
agent-eval recorded them — derived from its trace.jsonl (its steps when the trace is gone), so an old
store gets its reads without running anything again. Like the index it is derived: delete it and it
is made again; it is replaced whole, atomically. A store that cannot be written (a read-only mirror)
is read each time instead.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np
import orjson

from agent_eval.grade import reads as reading
from agent_eval.grade import trace as traces
from agent_eval.store.columns import Columns
from agent_eval.store.records import Step
from agent_eval.store.store import write_atomic

NAME = "reads.npz"
FORMAT = 1  # bump when grade/reads.py names a read differently: every cached run is read again
SEP = "\0"  # between names in one array: no path holds it


class Reads:
    """Every cached run's reads as columns: entry i is run `run[i]` (an index into `folders`) reading
    file `file[i]` (into `names`), first at `turn[i]`, `lines[i]` lines (-1: not known). A run reads a
    file at most once here (grade/reads.py counts repeats)."""

    def __init__(self, folders: list[str], finished: list[str], names: list[str], run, file, turn, lines):
        self.folders, self.finished, self.names = folders, finished, names
        self.run, self.file, self.turn, self.lines = (np.asarray(a, dtype=np.int32) for a in (run, file, turn, lines))
        self._places: tuple[list, np.ndarray] | None = None  # the last folder dictionary placed, and where its folders are

    @cached_property
    def position(self) -> dict[str, int]:
        """Each folder's place here: made only when a lookup needs it (a cache in the index's order does not)."""
        return {f: i for i, f in enumerate(self.folders)}

    def of(self, folder: str) -> list[tuple[str, int | None, int | None]]:
        """One run's reads as (name, first turn, lines), in the order first read."""
        at = np.flatnonzero(self.run == self.position[folder]) if folder in self.position else []
        return [(self.names[self.file[i]], _known(self.turn[i]), _known(self.lines[i])) for i in at]

    def at(self, cols: Columns) -> np.ndarray:
        """For each entry, the position in `cols` of the run that read it; -1 when that run is not among them."""
        where = np.full(len(self.folders) + 1, -1, dtype=np.int64)
        where[self.places(cols)[cols["folder"]]] = np.arange(len(cols))
        where[-1] = -1
        return where[self.run] if len(self.run) else np.empty(0, dtype=np.int64)

    def places(self, cols: Columns) -> np.ndarray:
        """For each of the columns' folder values, its position here; len(folders) when not here.
        Columns taken from the same columns share one dictionary: it is placed once."""
        values = cols.values("folder")
        if self._places is None or self._places[0] is not values:
            if values == self.folders:  # the cache made in the index's order, as it mostly is: one C comparison
                at = np.arange(len(values), dtype=np.int64)
            else:
                at = np.array([self.position.get(f, len(self.folders)) for f in values], dtype=np.int64)
            self._places = (values, at)
        return self._places[1]


def _known(x) -> int | None:
    return None if x < 0 else int(x)


def of_runs(store: Path, cols: Columns) -> Reads:
    """The reads of these runs (store/columns.py; others the cache holds may come along), from the
    cache, read for the runs it lacks."""
    return _synced(Path(store), cols)[0]


def fill(store: Path) -> int:
    """Read every run the cache lacks (agent-eval reindex): how many were read."""
    from agent_eval.store import columns

    return _synced(Path(store), columns.read(Path(store)))[1]


def stale(cached: Reads, cols: Columns) -> list[str]:
    """The folders of the runs the cache lacks, or holds from an earlier result: compared on the
    columns' codes, no string per run."""
    if not len(cols):
        return []
    finished = cols.values("finished_at")
    code = {w or "": k for k, w in enumerate(finished)}  # a result without finished_at is cached as ""
    known = np.array([code.get(w, -1) for w in cached.finished] + [-2], dtype=np.int64)  # -2: not cached at all
    when = np.array([code[w or ""] for w in finished], dtype=np.int64)[cols["finished_at"]]
    old = known[cached.places(cols)[cols["folder"]]] != when
    folders = cols.values("folder")
    return [folders[k] for k in cols["folder"][old].tolist()]


def _synced(store: Path, cols: Columns) -> tuple[Reads, int]:
    """The cache with these runs brought up to date (and saved), and how many were read."""
    cached = _load(store)
    todo = stale(cached, cols)
    if not todo:
        return cached, 0
    fresh = derive_many(store, todo)
    keep = np.ones(len(cached.folders), dtype=bool)
    keep[[cached.position[f] for f in fresh if f in cached.position]] = False  # read again: their old entries go
    folders = [f for f, k in zip(cached.folders, keep) if k]
    finished = [d for d, k in zip(cached.finished, keep) if k]
    names, ids = list(cached.names), {n: i for i, n in enumerate(cached.names)}
    added: list[list[int]] = [[], [], [], []]  # run, file, turn, lines of the runs just read
    for folder, (when, found) in fresh.items():
        for name, turn, lines in orjson.loads(found):
            if name not in ids:
                ids[name] = len(names)
                names.append(name)
            for column, value in zip(added, (len(folders), ids[name], turn, lines)):
                column.append(-1 if value is None else value)
        folders.append(folder)
        finished.append(when)
    kept = keep[cached.run] if len(cached.run) else np.empty(0, dtype=bool)
    old = [(np.cumsum(keep) - 1)[cached.run[kept]], cached.file[kept], cached.turn[kept], cached.lines[kept]]
    made = Reads(folders, finished, names, *(np.concatenate([a, np.array(b, dtype=np.int64)]) for a, b in zip(old, added)))
    made = _aligned(made, cols)
    _save(store, made)
    return made, len(todo)


def _aligned(reads: Reads, cols: Columns) -> Reads:
    """The cache in the index's folder order, runs the index no longer has (superseded, deleted) left
    out: a cache holding every run of the index then finds them all without a lookup per run
    (Reads.places). Paid once per update, when runs were just read anyway."""
    index = {f: k for k, f in enumerate(cols.values("folder"))}
    at = np.array([index.get(f, -1) for f in reads.folders], dtype=np.int64)
    order = np.flatnonzero(at >= 0)
    order = order[np.argsort(at[order], kind="stable")]
    renumber = np.full(len(reads.folders) + 1, -1, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    entries = np.flatnonzero(renumber[reads.run] >= 0) if len(reads.run) else np.empty(0, dtype=np.int64)
    entries = entries[np.argsort(renumber[reads.run[entries]], kind="stable")]  # a run's entries stay in the order first read
    return Reads([reads.folders[i] for i in order], [reads.finished[i] for i in order], reads.names,
                 renumber[reads.run[entries]], reads.file[entries], reads.turn[entries], reads.lines[entries])


def _load(store: Path) -> Reads:
    try:
        with np.load(store / NAME, allow_pickle=False) as data:
            if int(data["format"][0]) != FORMAT:
                raise ValueError("another format")
            text = [bytes(data[k]).decode().split(SEP)[1:] for k in ("folders", "finished", "names")]
            return Reads(*text, data["run"], data["files"], data["turn"], data["lines"])
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError):  # none yet, damaged, or older: made again
        return Reads([], [], [], [], [], [], [])


def _save(store: Path, reads: Reads) -> None:
    import io

    text = {k: np.frombuffer("".join(SEP + x for x in v).encode(), dtype=np.uint8) for k, v in
            (("folders", reads.folders), ("finished", reads.finished), ("names", [n.replace(SEP, "") for n in reads.names]))}
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array([FORMAT]), run=reads.run, files=reads.file, turn=reads.turn, lines=reads.lines, **text)
    try:
        write_atomic(store / NAME, buffer.getvalue())
    except OSError:
        pass  # a store we may not write: read again next time


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
    return folder, (result.get("finished_at") or "", orjson.dumps([(f"{w}: {p}", t, n) for w, p, t, n in found]))


def names_of(store: Path, folder: str) -> list[str]:
    """One run's reads by name, in the order first read (explain): read from its folder, no cache."""
    found = derive(str(store), folder)
    return [name for name, _, _ in orjson.loads(found[1][1])] if found else []


def load(store: Path, models: list[str] = (), tiers: list[str] = (), say=lambda line: None) -> tuple[Columns, Reads]:
    """The store's runs as columns (store/columns.py) in the suites' order, only these models (by id
    or name) and tiers when given, and their reads: what `agent-eval reads` counts. Never a row per
    run: at 100k runs that alone costs more than the counting."""
    from agent_eval.store import columns, index
    from agent_eval.store.results import suite_order
    from agent_eval.store.store import read_plans

    cols = columns.read(Path(store))
    keep = np.ones(len(cols), dtype=bool)
    if models:
        keep &= cols.isin("model", models) | cols.isin("model_name", models)
    if tiers:
        keep &= cols.isin("tier", tiers)
    cols = cols.take(keep)
    cols = cols.take(suite_order(cols, read_plans(Path(store), say)))
    index.warn_bad(Path(store), say)
    return cols, of_runs(store, cols)  # sessions' runs too, though not counted: the cache then holds every run, in order
