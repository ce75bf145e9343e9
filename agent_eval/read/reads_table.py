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

import statistics
from collections import Counter, defaultdict

from pydantic import BaseModel

from agent_eval.store.records import RETRIED

from .reads import Reads


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


def counted(rows: list[dict]) -> list[dict]:
    """The runs that are the agent's work, one-shot."""
    return [r for r in rows if r["status"] not in RETRIED and r["session_position"] is None]


def groups(rows: list[dict], reads: dict[str, Reads], by_model: bool = False) -> list[Group]:
    """One group per revision × tier (× model), in the rows' order (give them in the suites' order)."""
    members: dict[tuple, list[dict]] = defaultdict(list)
    for r in counted(rows):
        members[r["sha"], r["tier"], r["model_name"] if by_model else None].append(r)
    return [group(runs, reads, sha, tier, model) for (sha, tier, model), runs in members.items()]


def group(runs: list[dict], reads: dict[str, Reads], sha: str, tier: str, model: str | None) -> Group:
    tally: dict[str, list] = {}
    for r in runs:
        for name, turn, lines in reads.get(r["folder"], ()):
            t = tally.setdefault(name, [0, 0, 0, [], []])
            t[0] += 1
            t[1] += r["matched"] is True
            t[2] += r["matched"] is False
            if turn is not None:
                t[3].append(turn)
            if lines is not None:
                t[4].append(lines)
    repeats = max(Counter((r["model"], r["task"], r["agent_version"]) for r in runs).values(), default=0)
    matched, failed = sum(r["matched"] is True for r in runs), sum(r["matched"] is False for r in runs)
    files = [FileReads(file=name, runs=n, of=len(runs), matched=m, of_matched=matched, failed=f, of_failed=failed,
                       first_turn=_median(turns), lines=_median(lines), ranked=n >= repeats)
             for name, (n, m, f, turns, lines) in tally.items()]
    files.sort(key=lambda x: (not x.ranked, -x.runs, x.file))
    return Group(revision=runs[0]["revision"], sha=sha, tier=tier, model=model, runs=len(runs), matched=matched, failed=failed,
                 repeats=repeats, files=files)


def diff(rows: list[dict], reads: dict[str, Reads], base: str, head: str, by_model: bool = False) -> list[Change]:
    """What head's agents read that base's did not and the reverse, per tier (× model) both ran:
    ranked changes first, the biggest first. base and head are SHAs."""
    found = {(g.sha, g.tier, g.model): g for g in groups([r for r in rows if r["sha"] in (base, head)], reads, by_model)}
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


def context(rows: list[dict], reads: dict[str, Reads], field: str, base: str, head: str, most: int = 3, least: float = 5.0) -> list[str]:
    """compare's context: the biggest ranked changes in what base's and head's runs read, pooled over
    the cells compared (`field` holds base and head: sha, model, tier, agent_version), as lines."""
    kept = counted(rows)
    sides = {side: [r for r in kept if r[field] == key] for side, key in (("base", base), ("head", head))}
    if not sides["base"] or not sides["head"]:
        return []
    share = {side: Counter(name for r in runs for name, _, _ in reads.get(r["folder"], ())) for side, runs in sides.items()}
    repeats = max(Counter((r["model"], r["sha"], r["task"], r["tier"], r["agent_version"]) for r in kept).values())
    nb, nh = len(sides["base"]), len(sides["head"])
    moved = [(100 * (share["head"][f] / nh - share["base"][f] / nb), f) for f in share["head"].keys() | share["base"].keys()
             if max(share["head"][f], share["base"][f]) >= repeats]
    moved = sorted((m for m in moved if abs(m[0]) >= least), key=lambda m: (-abs(m[0]), m[1]))[:most]
    return [f"head: {_pct(share['head'][f], nh)} of runs read {f} (base {_pct(share['base'][f], nb)}; "
            f"{share['head'][f]}/{nh} vs {share['base'][f]}/{nb})" for _, f in moved]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def _median(values: list) -> float | None:
    return float(statistics.median(values)) if values else None
