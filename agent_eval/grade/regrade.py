"""Regrade: score stored runs again from their traces — with the profile's markers and the tasks'
expected answers as they are *now* — without calling any model.

"Now" is a suite.yaml the user names: its profile and tasks are loaded from disk with suite/load.py,
exactly as `run` would load them, so a fixed marker regex or expected answer is picked up before
it is committed. Every stored result of that profile whose task the suite still has is re-scored;
the status, tokens, timings and the trace are never touched.

Writing is crash-safe: the grading being replaced is first written beside the result
(result.previous.json), then result.json is replaced atomically; a result whose grading would not
change is not written at all, so a second regrade changes nothing and an interrupted one can be
run again.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from agent_eval import __version__
from agent_eval.store.store import now, write_atomic
from agent_eval.suite.config import Profile, Task

from . import score
from . import trace as traces


class Change(BaseModel):
    folder: str
    task: str
    matched_before: bool | None
    matched_after: bool | None
    gained: list[str]  # markers that fire now and did not before
    lost: list[str]


class Regraded(BaseModel):
    checked: int  # results of this profile re-scored
    changed: list[Change]
    skipped: list[str]  # why some results were left alone


def regrade(store: Path, suite_path: Path, dry_run: bool = False) -> Regraded:
    from agent_eval.store import index
    from agent_eval.suite.load import load

    _, profile, tasks = load(suite_path)
    by_id = {t.id: t for t in tasks}
    checked, changed, skipped = 0, [], []
    for row in index.rows(Path(store)):
        if row["profile"] != profile.name:
            continue
        path = Path(store) / row["folder"] / "result.json"
        result = orjson.loads(path.read_bytes())
        cell = result["cell"]
        if cell["profile"] != profile.name:
            continue
        task = by_id.get(cell["task"]["id"])
        if task is None:
            skipped.append(f"{cell['folder']}: task {cell['task']['id']!r} is not in {suite_path}")
            continue
        if not (path.parent / "trace.jsonl").is_file():
            skipped.append(f"{cell['folder']}: no trace.jsonl to score")
            continue
        checked += 1
        change = _rescore(path, result, profile, task, dry_run)
        if change:
            changed.append(change)
            if not dry_run:
                index.update(Path(store), [row["folder"]])
    return Regraded(checked=checked, changed=changed, skipped=skipped)


def _rescore(path: Path, result: dict, profile: Profile, task: Task, dry_run: bool) -> Change | None:
    trace = traces.parse(path.parent / "trace.jsonl", result.get("trace_from", 0))  # a session's task: its own entries
    matched = score.matches(task, trace.answer)
    markers = [m.model_dump() for m in score.fired(profile.markers, trace)]
    if matched == result.get("matched") and markers == result.get("markers"):
        return None
    before, after = {m["name"] for m in result.get("markers") or []}, {m["name"] for m in markers}
    change = Change(folder=result["cell"]["folder"], task=task.id, matched_before=result.get("matched"), matched_after=matched,
                    gained=sorted(after - before), lost=sorted(before - after))
    if not dry_run:
        previous = {k: result.get(k) for k in ("matched", "markers", "graded")}
        write_atomic(path.with_name("result.previous.json"), orjson.dumps(previous, option=orjson.OPT_INDENT_2))
        graded = {"at": now(), "by": f"agent-eval regrade {__version__}", "profile_hash": profile.content_hash,
                  "task_hash": task.content_hash, "expected": task.expected, "match": task.match}
        new = {**result, "matched": matched, "markers": markers, "graded": graded}
        write_atomic(path, orjson.dumps(new, option=orjson.OPT_INDENT_2))
    return change


def summary(done: Regraded, dry_run: bool) -> list[str]:
    verb = "would change" if dry_run else "changed"
    flips = [c for c in done.changed if c.matched_before != c.matched_after]
    lines = [f"{done.checked} results re-scored, {len(done.changed)} {verb}: {len(flips)} match flips, "
             f"{sum(len(c.gained) for c in done.changed)} markers gained, {sum(len(c.lost) for c in done.changed)} lost"]
    for c in done.changed:
        parts = [f"match {c.matched_before} → {c.matched_after}" if c in flips else "",
                 f"+{','.join(c.gained)}" if c.gained else "", f"-{','.join(c.lost)}" if c.lost else ""]
        lines.append(f"  {c.folder}: " + " ".join(p for p in parts if p))
    lines += [f"  skipped {s}" for s in done.skipped]
    return lines

