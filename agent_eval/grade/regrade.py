"""Regrade: score stored runs again from their traces — with the profile's markers and the tasks'
expected answers as they are *now* — without calling any model.

"Now" is a suite.yaml the user names: its profile and tasks are loaded from disk with suite/load.py,
exactly as `run` would load them, so a fixed marker regex or expected answer is picked up before
it is committed. Every stored result of that profile whose task the suite still has is re-scored;
the status, tokens, timings and the trace are never touched.

Writing is crash-safe and keeps every grading: the one being replaced is first appended to the
result's history (gradings.jsonl beside it, oldest first), then result.json is replaced atomically;
a result whose grading would not change is not written at all, so a second regrade changes nothing
and an interrupted one can be run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import orjson
from pydantic import BaseModel

from agent_eval import __version__
from agent_eval.store.records import Grader
from agent_eval.store.store import now, write_atomic
from agent_eval.suite import identity
from agent_eval.suite.config import ModelSpec, Profile
from agent_eval.suite.task import Task

from . import activation, graders, score
from . import trace as traces

HISTORY = "gradings.jsonl"  # beside a result.json: the gradings it had before, one JSON a line, oldest first


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
    updated: int = 0  # results rewritten: their grading changed, or only its recorded digest


Verify = Callable[[Path, dict, Profile, dict[str, Task]], Grader]  # run/verifier.py's `again`: a stored run's verifier run anew
Judge = Callable[[Path, dict, Task, str, ModelSpec], Grader]  # run/judge.py: (folder, result, task, answer, judge model) -> outcome


def regrade(store: Path, suite_path: Path, dry_run: bool = False, verify: Verify | None = None, judge: Judge | None = None) -> Regraded:
    """`verify`, `judge`: how to run a task's verifier again on a stored run, and ask (or find in its
    cache) its judge — the run stage's, passed in by the CLI; without them their stored outcomes stand."""
    from agent_eval.store import columns, index
    from agent_eval.suite.load import load

    suite, profile, tasks = load(suite_path)
    by_id = {t.id: t for t in tasks}
    checked, changed, skipped, updated = 0, [], [], 0
    for row in columns.rows(Path(store)):
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
        model = suite.judges[task.judge.model] if task.judge else None
        verdicts = _graders(path.parent, result, profile, by_id, task, verify, lambda f, r, t, a: judge(f, r, t, a, model) if judge else None)
        change, written = _rescore(path, result, profile, task, verdicts, identity.grading(profile.markers, task.grading_hash, model), dry_run)
        changed += [change] if change else []
        updated += written
        if written and not dry_run:
            index.update(Path(store), [row["folder"]])
    return Regraded(checked=checked, changed=changed, skipped=skipped, updated=updated)


def _graders(folder: Path, result: dict, profile: Profile, tasks: dict[str, Task], task: Task, verify: Verify | None, judge) -> list[Grader]:
    """Every grader's outcome as the task's graders are now: the answer from the trace, the verifier
    run again, the judge asked (or its cache read) — or, without those, as stored."""
    trace = traces.parse(folder / "trace.jsonl", result.get("trace_from", 0))  # a session's task: its own entries
    return graders.every(task, trace, result.get("status"), folder,
                         verify=lambda: verify(folder, result, profile, tasks) if verify else _stored(result, "verify"),
                         judge=lambda: judge(folder, result, task, trace.answer) or _stored(result, "judge"))


def _stored(result: dict, kind: str) -> Grader:
    found = [Grader.model_validate(g) for g in result.get("graders") or [] if g.get("kind") == kind]
    return found[0] if found else Grader(kind=kind, status="error", output=f"the {kind} grader was added since this run: regrade with it to run it")


def _rescore(path: Path, result: dict, profile: Profile, task: Task, verdicts: list[Grader], digest: str, dry_run: bool) -> tuple[Change | None, bool]:
    """What the grading changes, and whether the result is (or would be) rewritten: also when only
    its grading digest is out of date (graded by an equal grading recorded under another digest)."""
    trace = traces.parse(path.parent / "trace.jsonl", result.get("trace_from", 0))
    matched, credit = graders.combine(verdicts)
    markers = [m.model_dump() for m in score.fired(profile.markers, trace)]
    outcomes = [g.model_dump(exclude={"seconds", "output", "tokens"}) for g in verdicts]
    recorded = [{k: v for k, v in g.items() if k not in ("seconds", "output", "tokens")} for g in result.get("graders") or []]
    # A result from before graders were recorded gains their outcomes and score: rewritten, not a change.
    same = matched == result.get("matched") and markers == result.get("markers") and (
        "graders" not in result or (credit == result.get("score") and outcomes == recorded))
    if same and digest == result.get("grading") and outcomes == recorded:
        return None, False
    before, after = {m["name"] for m in result.get("markers") or []}, {m["name"] for m in markers}
    change = None if same else Change(folder=result["cell"]["folder"], task=task.id, matched_before=result.get("matched"),
                                      matched_after=matched, gained=sorted(after - before), lost=sorted(before - after))
    if not dry_run:
        keep(path, result)
        graded = {"at": now(), "by": f"agent-eval regrade {__version__}", "profile_hash": profile.content_hash,
                  "task_hash": task.content_hash, "expected": task.expected, "match": task.match}
        new = {**result, "matched": matched, "markers": markers, "graders": [g.model_dump() for g in verdicts], "score": credit,
               "grading": digest, "graded": graded, "activated_at": activation.first_read(trace)}
        write_atomic(path, orjson.dumps(new, option=orjson.OPT_INDENT_2))
    return change, True


def keep(path: Path, result: dict) -> None:
    """Append the grading about to be replaced to the result's history, once: an interrupted regrade
    run again finds it already last. A store's older result.previous.json starts the history."""
    history = path.with_name(HISTORY)
    legacy = path.with_name("result.previous.json")
    lines = history.read_bytes().splitlines() if history.is_file() else [orjson.dumps(orjson.loads(legacy.read_bytes()))] if legacy.is_file() else []
    entry = orjson.dumps({k: result.get(k) for k in ("matched", "markers", "graders", "score", "grading", "graded")})
    if not lines or lines[-1] != entry:
        write_atomic(history, b"\n".join([*lines, entry]) + b"\n")


def history(folder: Path) -> list[dict]:
    """Every grading a result had before its current one, oldest first (the first is the run's own)."""
    path = folder / HISTORY
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line] if path.is_file() else []


def summary(done: Regraded, dry_run: bool) -> list[str]:
    verb = "would change" if dry_run else "changed"
    flips = [c for c in done.changed if c.matched_before != c.matched_after]
    lines = [f"{done.checked} results re-scored, {len(done.changed)} {verb}: {len(flips)} match flips, "
             f"{sum(len(c.gained) for c in done.changed)} markers gained, {sum(len(c.lost) for c in done.changed)} lost"
             + (f"; {done.updated - len(done.changed)} more recorded as graded by the current grading" if done.updated > len(done.changed) else "")]
    for c in done.changed:
        parts = [f"match {c.matched_before} → {c.matched_after}" if c in flips else "",
                 f"+{','.join(c.gained)}" if c.gained else "", f"-{','.join(c.lost)}" if c.lost else ""]
        lines.append(f"  {c.folder}: " + " ".join(p for p in parts if p))
    lines += [f"  skipped {s}" for s in done.skipped]
    return lines

