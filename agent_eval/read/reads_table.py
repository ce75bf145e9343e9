"""Where agents look, in numbers: per revision × tier (× model, on request), each file or help page
with the share of runs that read it, among matched and among failed runs, the median turn of its
first read and the median lines read; head against base sorted by the change; compare's context.

Shares are of runs, counts kept beside them (12/40). A run the harness or the provider failed
(setup_error, infra_error) is not the agent's and is left out; tasks run in sessions are another
experiment (they read what the earlier tasks found) and are left out too. A file read by fewer runs
than one cell's repeats (the most runs any cell of the group has) is shown but not ranked: one
cell's repeats alone could make it. That reading precedes success is an association, never a cause.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel

from agent_eval.store.columns import Columns
from agent_eval.store.records import RETRIED

from .reads import Reads, of_runs


class FileReads(BaseModel):
    file: str  # "where: path" (grade/reads.py)
    runs: int  # runs that read it
    of: int  # runs in the group
    matched: int  # matched runs that read it
    of_matched: int
    failed: int  # failed runs (answer scored, not matched) that read it
    of_failed: int
    first_turn: float | None  # median over the runs that read it; None: no turn known
    lines: float | None  # median lines read, over the runs that say
    ranked: bool  # read by at least one cell's repeats


class Group(BaseModel):
    revision: str
    sha: str
    tier: str
    model: str | None  # None: every model together
    runs: int
    matched: int
    failed: int
    repeats: int  # the most runs of any one cell: below it a file is shown, not ranked
    files: list[FileReads]


class Change(BaseModel):
    file: str
    tier: str
    model: str | None
    base: int
    base_of: int
    head: int
    head_of: int
    change: float  # points: head's share minus base's
    ranked: bool


def counted(cols: Columns) -> Columns:
    """The runs that are the agent's work, one-shot."""
    return cols.take(~cols.isin("status", RETRIED) & np.isnan(cols["session_position"]))


class Tally:
    """Per (group, file) a group's runs read: how many runs, of them matched and failed, the median
    first turn and lines (NaN: none known). Arrays over the pairs present, counted on the cache's
    columns: no object per read. group: each run's group."""

    def __init__(self, cols: Columns, reads: Reads, group: np.ndarray):
        at = reads.at(cols)
        use = at >= 0
        at, file = at[use], reads.file[use].astype(np.int64)
        width = max(len(reads.names), 1)
        pairs, inverse = np.unique(group[at] * width + file, return_inverse=True)
        inverse = inverse.reshape(-1)
        self.group, self.file, k = pairs // width, pairs % width, len(pairs)
        matched, failed = (cols["matched"] == 1)[at], (cols["matched"] == 0)[at]
        self.runs = np.bincount(inverse, minlength=k)
        self.matched, self.failed = np.bincount(inverse[matched], minlength=k), np.bincount(inverse[failed], minlength=k)
        self.turn, self.lines = _medians(inverse, reads.turn[use], k), _medians(inverse, reads.lines[use], k)


def _medians(segment: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The median of the known (>= 0) values of each segment 0..k-1. One sort of (segment, value)
    packed in an int64: several times cheaper than a lexsort at 100k runs."""
    known = values >= 0
    segment, values = segment[known], values[known]
    packed = np.sort((segment.astype(np.int64) << 32) | values.astype(np.int64))
    values, counts = (packed & 0xFFFFFFFF).astype(float), np.bincount(segment, minlength=k)
    if not len(values):
        return np.full(k, np.nan)
    starts = np.cumsum(counts) - counts
    lo, hi = np.minimum(starts + (counts - 1) // 2, len(values) - 1), np.minimum(starts + counts // 2, len(values) - 1)
    return np.where(counts > 0, (values[lo] + values[hi]) / 2, np.nan)


def first_seen(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ids of the runs' keys numbered in the order the runs first have them, and each id's first run."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)], np.sort(first)


def most_per_cell(cols: Columns, group: np.ndarray, n: int, cell: tuple[str, ...] = ("model", "task", "agent_version")) -> np.ndarray:
    """Per group, the most runs any one cell of it has: its repeats."""
    cells, counts = np.unique(group * (len(cols) + 1) + cols.combined(*cell), return_counts=True)
    most = np.zeros(n, dtype=np.int64)
    np.maximum.at(most, cells // (len(cols) + 1), counts)
    return most


def groups(cols: Columns, reads: Reads, by_model: bool = False) -> list[Group]:
    """One group per revision × tier (× model), in the runs' order (give them in the suites' order)."""
    cols = counted(cols)
    group, first = first_seen(cols.combined("sha", "tier", *(["model_name"] if by_model else [])))
    tally, n = Tally(cols, reads, group), len(first)
    size = np.bincount(group, minlength=n)
    matched, failed = np.bincount(group[cols["matched"] == 1], minlength=n), np.bincount(group[cols["matched"] == 0], minlength=n)
    repeats = most_per_cell(cols, group, n).tolist()
    files: list[list[FileReads]] = [[] for _ in range(n)]
    for j in range(len(tally.group)):
        g = int(tally.group[j])
        files[g].append(FileReads(file=reads.names[tally.file[j]], runs=int(tally.runs[j]), of=int(size[g]), matched=int(tally.matched[j]),
                                  of_matched=int(matched[g]), failed=int(tally.failed[j]), of_failed=int(failed[g]),
                                  first_turn=_number(tally.turn[j]), lines=_number(tally.lines[j]), ranked=tally.runs[j] >= repeats[g]))
    value = {name: [cols.values(name)[c] for c in cols[name][first].tolist()] for name in ("revision", "sha", "tier", "model_name")}
    return [Group(revision=value["revision"][g], sha=value["sha"][g], tier=value["tier"][g], model=value["model_name"][g] if by_model else None,
                  runs=int(size[g]), matched=int(matched[g]), failed=int(failed[g]), repeats=repeats[g],
                  files=sorted(files[g], key=lambda x: (not x.ranked, -x.runs, x.file))) for g in range(n)]


def _number(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def diff(cols: Columns, reads: Reads, base: str, head: str, by_model: bool = False) -> list[Change]:
    """What head's agents read that base's did not and the reverse, per tier (× model) both ran:
    ranked changes first, the biggest first. base and head are SHAs."""
    found = {(g.sha, g.tier, g.model): g for g in groups(cols.take(cols.isin("sha", [base, head])), reads, by_model)}
    changes = []
    for (sha, tier, model), b in found.items():
        h = found.get((head, tier, model))
        if sha != base or h is None:
            continue
        before, after = {f.file: f.runs for f in b.files}, {f.file: f.runs for f in h.files}
        repeats = max(b.repeats, h.repeats)
        for name in dict.fromkeys([*after, *before]):
            x, y = before.get(name, 0), after.get(name, 0)
            changes.append(Change(file=name, tier=tier, model=model, base=x, base_of=b.runs, head=y, head_of=h.runs,
                                  change=100 * (y / h.runs - x / b.runs), ranked=max(x, y) >= repeats))
    changes.sort(key=lambda c: (not c.ranked, -abs(c.change), c.file))
    return changes


def context(cols: Columns, reads: Reads, field: str, base: str, head: str, most: int = 3, least: float = 5.0) -> list[str]:
    """compare's context: the biggest ranked changes in what base's and head's runs read, pooled over
    the cells compared (`field` holds base and head: sha, model, tier, agent_version), as lines."""
    kept = counted(cols)
    kept = kept.take(kept.isin(field, [base, head]))
    side = kept.isin(field, [head]).astype(np.int64)
    nb, nh = int((side == 0).sum()), int(side.sum())
    if not nb or not nh:
        return []
    tally = Tally(kept, reads, side)
    runs = {(int(g), int(f)): int(n) for g, f, n in zip(tally.group, tally.file, tally.runs)}
    repeats = int(most_per_cell(kept, np.zeros(len(kept), dtype=np.int64), 1, ("model", "sha", "task", "tier", "agent_version"))[0])
    moved = []
    for f in {f for _, f in runs}:
        x, y = runs.get((0, f), 0), runs.get((1, f), 0)
        if max(x, y) >= repeats and abs(change := 100 * (y / nh - x / nb)) >= least:
            moved.append((change, reads.names[f], x, y))
    moved.sort(key=lambda m: (-abs(m[0]), m[1]))
    return [f"head: {_pct(y, nh)} of runs read {name} (base {_pct(x, nb)}; {y}/{nh} vs {x}/{nb})" for _, name, x, y in moved[:most]]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def compare_context(store: Path, rows, axis: str, base: str, head: str, models: list[str] = (), tiers: list[str] = (),
                    tasks: list[str] = ()) -> list[str]:
    """compare's context lines (context above) for the runs compare compared: base and head
    named as compare takes them, the same --model/--tier/--task filters. rows: the runs, as columns
    (compare.load_rows) or flat rows."""
    import fnmatch

    from .compare import as_columns, distinct
    from .sides import SIDES, aliases, resolve

    field, name, other = SIDES[axis]
    cols = as_columns(rows)
    known = aliases(axis, set(distinct(cols, field, name, other)))
    b, h = resolve(known, axis, base), resolve(known, axis, head)
    keep = cols.isin(field, [b, h])
    if models:
        keep &= cols.isin("model", models) | cols.isin("model_name", models)
    if tiers:
        keep &= cols.isin("tier", tiers)
    if tasks:
        keep &= cols.isin("task", [t for t in cols.values("task") if any(fnmatch.fnmatchcase(t, g) for g in tasks)])
    kept = cols.take(keep)
    return context(kept, of_runs(store, kept), field, b, h)
