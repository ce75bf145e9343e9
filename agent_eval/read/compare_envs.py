"""Whether base's and head's environments differ in anything but the library under test: a
comparison of two revisions is only one of the library if everything else is the same. Read from
each result's environment record (store/environments.py); compare's own numbers are untouched,
these lines are added to its outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent_eval.store import environments, index, schema
from agent_eval.store.columns import Columns

from .sides import SIDES, aliases, resolve


def notes(store: Path, cols: Columns, base: str, head: str, axis: str = "revision") -> list[str]:
    """One line per thing to say: what differs (head's view), or that a side's environment was not
    recorded. Nothing when neither side was recorded (a store from before records) or both agree.
    `cols`: the runs compared (compare.load_rows)."""
    if axis != "revision":  # base and head then share each revision's environment
        return []
    from .compare import distinct

    field, name, other = SIDES[axis]
    names = aliases(axis, distinct(cols, field, name, other))
    ran = ~cols.isin("status", ["setup_error"])  # a setup_error never had an environment
    sides = {}
    for side, ref in (("base", base), ("head", head)):
        key = resolve(names, axis, ref)
        digests = cols.values("environment")
        codes = cols["environment"][ran & cols.isin(field, [key])]
        used, first = np.unique(codes, return_index=True)
        sides[side] = {digests[k]: (key, digests[k]) for k in used[np.argsort(first)].tolist()}  # as the runs first have them
    if not any(d for found in sides.values() for d in found):
        return []
    texts = {side: [environments.read(store, d, _folder(store, *run)) for d, run in found.items()] for side, found in sides.items()}
    missing = [side for side, found in texts.items() if not found or None in found]
    if missing:
        return [f"{' and '.join(missing)}'s environment not recorded (results stored before environments were): "
                "whether base and head differ only in the library cannot be checked"]
    out = []
    for side in ("base", "head"):
        if len(set(texts[side])) > 1:
            out.append(f"{side}'s runs used {len(set(texts[side]))} different environments")
    changed = environments.differences(texts["base"][0], texts["head"][0])
    if changed:
        shown = ", ".join(changed[:8]) + (f" … and {len(changed) - 8} more" if len(changed) > 8 else "")
        out.append(f"head's environment: {shown} — this comparison mixes that change with the library's")
    return out


def _folder(store: Path, sha: str, digest: str | None) -> str | None:
    """A run folder of this revision that used this environment (its record's second copy), asked
    of the index only when a record is read: the columns keep no folder, 100k distinct strings."""
    if not digest:
        return None
    db = index.connect(store)
    try:
        found = db.execute(f"SELECT path FROM runs WHERE {schema.READ['sha']} = ? AND environment = ? AND {index.CURRENT} "
                           "ORDER BY path DESC LIMIT 1", (sha, digest)).fetchone()
    finally:
        db.close()
    return found[0] if found else None
