"""The report's "Where agents look" view: its data, written to reads.js beside data.js and loaded by
the page only when the view opens (the report's first content never waits for it).

Counts, not shares: per (model, revision, tier) group its runs, matched and failed runs, and for
each file the runs that read it and how many of those matched or failed; the page sums the groups
its model and tier filters keep, so any filter's shares are exact. Files of the docs and the Skill
that no run of a revision opened are listed as read/unopened.py finds them, or said to be unknown and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from agent_eval.store.columns import Columns

from .reads import Reads
from .reads_table import Tally, counted, first_seen, most_per_cell
from .unopened import Profiles, unopened


def write(store: Path, out: Path, dims: dict[str, list[dict]], cols: Columns, found: Reads) -> None:
    """reads.js for the page, from the report's dimensions (their order is the page's), its one-shot
    runs' columns and their reads (reads.of_runs)."""
    data = build(store, dims, cols, found)
    (out / "reads.js").write_bytes(b"window.reportReads(" + orjson.dumps(data) + b");\n")


def build(store: Path, dims: dict[str, list[dict]], cols: Columns, found: Reads) -> dict:
    runs = counted(cols)
    at = [_dim(runs, column, {d[key]: i for i, d in enumerate(dims[axis])}) for axis, column, key in
          (("model", "model", "id"), ("revision", "sha", "sha"), ("tier", "tier", "name"))]
    group, first = first_seen((at[0] * len(dims["revision"]) + at[1]) * len(dims["tier"]) + at[2])
    tally, n = Tally(runs, found, group), len(first)
    size = np.bincount(group, minlength=n).tolist()
    matched = np.bincount(group[runs["matched"] == 1], minlength=n).tolist()
    failed = np.bincount(group[runs["matched"] == 0], minlength=n).tolist()
    keys = [tuple(int(a[f]) for a in at) for f in first.tolist()]
    used = sorted(set(tally.file.tolist()))  # the page's file ids: only names these runs read
    renumber = {f: k for k, f in enumerate(used)}
    files: list[list] = [[] for _ in keys]
    read_at: dict[int, set[str]] = {}  # revision -> every file some run there read
    for g, f, c, m, x in zip(tally.group.tolist(), tally.file.tolist(), tally.runs.tolist(), tally.matched.tolist(), tally.failed.tolist()):
        files[g].append([renumber[f], c, m, x])
        read_at.setdefault(keys[g][1], set()).add(found.names[f])
    profiles = Profiles(store)
    repeats = most_per_cell(runs, np.zeros(len(runs), dtype=np.int64), 1, ("model", "sha", "task", "tier", "agent_version"))
    return {
        "files": [found.names[f] for f in used], "repeats": int(repeats.max(initial=0)),
        # [model, revision, tier, runs, matched, failed, [[file, read by, of them matched, of them failed]…]]
        "groups": [[*key, size[g], matched[g], failed[g], files[g]] for g, key in enumerate(keys)],
        "unopened": {str(i): unopened(d["sha"], read_at.get(i, set()), profiles) for i, d in enumerate(dims["revision"])},
    }


def _dim(cols: Columns, column: str, place: dict[str, int]) -> np.ndarray:
    """Each run's place in the page's dimension of this column (-1: a value only runs left out have)."""
    return np.array([place.get(v, -1) for v in cols.values(column)], dtype=np.int64)[cols[column]]


class PerRun:
    """Each run's reads for the report's run panel, a details file's runs at a time, as columns: the
    names that file's reads use, once; per read its name, first turn and lines (-1: not known); and
    where each run's reads start (`at`), each run's in the order first read. No object per read."""

    def __init__(self, found: Reads, cols: Columns):
        self.found = found
        self.order = np.argsort(found.run, kind="stable")
        count = np.bincount(found.run, minlength=len(found.folders) + 1)
        place = found.places(cols)[cols["folder"]]  # each run's place in the cache; len(folders): not there
        self.count, self.start = count[place], (np.cumsum(count) - count)[place]

    def chunk(self, first: int, end: int) -> bytes:
        """The reads of runs first..end-1 (of the columns), as JSON."""
        n = self.count[first:end]
        at = np.concatenate([[0], np.cumsum(n)])
        entries = self.order[np.repeat(self.start[first:end] - at[:-1], n) + np.arange(at[-1])]
        used, file = np.unique(self.found.file[entries], return_inverse=True)
        return orjson.dumps({"names": [self.found.names[f] for f in used.tolist()], "at": at.tolist(), "file": file.reshape(-1).tolist(),
                             "turn": self.found.turn[entries].tolist(), "lines": self.found.lines[entries].tolist()})
