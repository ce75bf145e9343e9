"""The report's "Where agents look" view: its data, written to reads.js beside data.js and loaded by
the page only when the view opens (the report's first content never waits for it).

Counts, not shares: per (model, revision, tier) group its runs, matched and failed runs, and for
each file the runs that read it and how many of those matched or failed; the page sums the groups
its model and tier filters keep, so any filter's shares are exact. Files of the docs and the Skill
that no run of a revision opened are listed from the revision's tree, where this machine's cache
has it (the tree pip installed from), else said to be unknown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import yaml

from agent_eval.store.columns import Columns
from agent_eval.suite.cache import cache_dir

from . import reads as gather
from .reads_table import Tally, counted, first_seen, most_per_cell

DOCS = (".md", ".rst", ".txt", ".ipynb")


def write(store: Path, out: Path, dims: dict[str, list[dict]], cols: Columns) -> None:
    """reads.js for the page, from the report's dimensions (their order is the page's) and its one-shot runs' columns."""
    data = build(store, dims, cols)
    (out / "reads.js").write_bytes(b"window.reportReads(" + orjson.dumps(data) + b");\n")


def build(store: Path, dims: dict[str, list[dict]], cols: Columns) -> dict:
    runs = counted(cols)
    found = gather.of_runs(store, runs)
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
    repeats = most_per_cell(runs, np.zeros(len(runs), dtype=np.int64), 1, ("model", "sha", "task", "tier", "agent_version"))
    return {
        "files": [found.names[f] for f in used], "repeats": int(repeats.max(initial=0)),
        # [model, revision, tier, runs, matched, failed, [[file, read by, of them matched, of them failed]…]]
        "groups": [[*key, size[g], matched[g], failed[g], files[g]] for g, key in enumerate(keys)],
        "unopened": {str(i): unopened(store, d["sha"], read_at.get(i, set())) for i, d in enumerate(dims["revision"])},
    }


def _dim(cols: Columns, column: str, place: dict[str, int]) -> np.ndarray:
    """Each run's place in the page's dimension of this column (-1: a value only runs left out have)."""
    return np.array([place.get(v, -1) for v in cols.values(column)], dtype=np.int64)[cols[column]]


def unopened(store: Path, sha: str, read: set[str]) -> list[str] | None:
    """The revision's docs and Skill files no run opened, as "library: docs/x.md" / "skill: SKILL.md";
    None when its tree is not in this machine's cache (a store pulled from elsewhere)."""
    tree = cache_dir() / "src" / sha
    if not tree.is_dir():
        return None
    skill = skill_path(store)
    out = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(tree).as_posix()
        in_skill = skill is not None and rel.startswith(skill + "/")
        if not (in_skill or rel.endswith(DOCS) or rel.startswith("docs/")):
            continue
        names = {f"library: {rel}"} | ({f"skill: {rel[len(skill) + 1:]}"} if in_skill else set())
        if not names & read:
            out.append(f"skill: {rel[len(skill) + 1:]}" if in_skill else f"library: {rel}")
    return out


def skill_path(store: Path) -> str | None:
    """Where the suites' profile keeps its Skill in the repository (skill.path), from a snapshot;
    read as YAML, never by loading the profile (its plugin is code)."""
    for snapshot in sorted(Path(store).glob("suites/*/snapshot/profile/profile.yaml")):
        try:
            path = ((yaml.safe_load(snapshot.read_text()) or {}).get("skill") or {}).get("path")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(path, str):
            return path.strip("/")
    return None
