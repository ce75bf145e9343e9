"""Whether base's and head's environments differ in anything but the library under test: a
comparison of two revisions is only one of the library if everything else is the same. Read from
each result's environment record (store/environments.py); compare's own numbers are untouched,
these lines are added to its outputs."""

from __future__ import annotations

from pathlib import Path

from agent_eval.store import environments

from agent_eval.read.sides import SIDES, aliases, resolve


def notes(store: Path, rows: list[dict], base: str, head: str, axis: str = "revision") -> list[str]:
    """One line per thing to say: what differs (head's view), or that a side's environment was not
    recorded. Nothing when neither side was recorded (a store from before records) or both agree."""
    if axis != "revision":  # base and head then share each revision's environment
        return []
    field, name, other = SIDES[axis]
    names = aliases(axis, {(r[field], r[name], r[other]) for r in rows})
    ran = [r for r in rows if r["status"] != "setup_error"]  # a setup_error never had an environment
    sides = {}
    for side, ref in (("base", base), ("head", head)):
        key = resolve(names, axis, ref)
        sides[side] = {r["environment"]: r["folder"] for r in ran if r[field] == key}
    if not any(d for found in sides.values() for d in found):
        return []
    texts = {side: [environments.read(store, d, folder) for d, folder in found.items()] for side, found in sides.items()}
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
