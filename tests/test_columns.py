"""The columnar form of the index (store/columns.py): the same runs and values as index.rows(),
cached beside the index and remade whenever the index changes; and the readers built on it
(the report, compare) write exactly what they wrote when they made a Python row per run."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from agent_eval.read import compare, compare_render, decide, report
from agent_eval.store import columns, index
from agent_eval.store.records import SessionRef
from agent_eval.store.store import Store, read_plans
from synthetic import plan, result, revision, sweep, write
from tests.legacy import compare as old_compare
from tests.legacy import compare_render as old_render
from tests.legacy import decide as old_decide
from tests.legacy import report as old_report


@pytest.fixture
def store(tmp_path) -> Path:
    return sweep(tmp_path / "store", 400)  # 432 runs over 4 models, 12 revisions, 3 tiers


def same(cols: columns.Columns, rows: list[dict]) -> None:
    assert len(cols) == len(rows)
    for name, kind in columns.KINDS.items():
        if name in ("part", "task_id"):
            continue
        if kind == columns.NUMBER:
            expected = np.array([math.nan if r[name] is None else float(r[name]) for r in rows])
            assert np.array_equal(cols[name], expected, equal_nan=True), name
        elif kind == columns.TEXT:
            assert cols.text(name).tolist() == [r[name] for r in rows], name
        else:
            names = cols.values(name)
            assert [[names[k] for k in np.flatnonzero(has)] for has in cols[name]] == [sorted(r[name], key=names.index) for r in rows]
    assert cols.text("part").tolist() == [r["folder"].split("/")[1] for r in rows]


def test_the_columns_hold_what_the_rows_hold_and_follow_every_change(store):
    same(columns.read(store), index.rows(store))
    cache = store / index.COLUMNS_NAME
    made = cache.stat().st_mtime_ns
    same(columns.read(store), index.rows(store))
    assert cache.stat().st_mtime_ns == made  # nothing changed: the cache was read, not made again
    new = result("org/new-model", revision(2), "task-000", "bare", 0, markers=("brand-new",))
    Store(store).start(new.cell)
    Store(store).finish(new)  # a writer's update
    cols = columns.read(store)
    assert "org/new-model" in cols.values("model") and "brand-new" in cols.values("markers")
    same(cols, index.rows(store))
    shutil.rmtree(store / Path(new.cell.folder).parent)  # a folder removed by hand: the reader's check finds it
    same(columns.read(store), index.rows(store))
    index.remove(store)  # a new index (its generation starts again) never serves an old cache
    cache.write_bytes(b"not a cache")
    same(columns.read(store), index.rows(store))


def test_a_store_that_cannot_be_written_is_read_without_a_cache(store, monkeypatch):
    index.rows(store)
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(PermissionError("read-only")))
    same(columns.read(store), index.rows(store))
    assert not (store / index.COLUMNS_NAME).exists() and not list(store.glob(".*.tmp"))


# --- the readers, before and after (tests/legacy: the row-per-run code they replace) ----------------


def built(module, store: Path, out: Path, monkeypatch) -> dict[str, bytes]:
    """The site's files; the data of the Compare and Sessions views put back into data.js, where
    the row-per-run report wrote it (views.js, loaded when one of them opens, now holds it)."""
    monkeypatch.setattr(module, "datetime", type("fixed", (), {"now": staticmethod(lambda tz: FIXED)}))
    module.build(store, out)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "app.js"}
    if "views.js" in files:
        data = orjson.loads(files["data.js"].removeprefix(b"window.REPORT=").removesuffix(b";\n"))
        views = orjson.loads(files.pop("views.js").removeprefix(b"window.reportViews(").removesuffix(b");\n"))
        files["data.js"] = b"window.REPORT=" + orjson.dumps({**data, **views}) + b";\n"
    return files


class FIXED:
    @staticmethod
    def isoformat(timespec):
        return "2026-12-06T00:00:00+00:00"


def with_sessions(tmp_path: Path) -> Path:
    rev, tasks = revision(2), [f"t{k}" for k in range(5)]
    results = [result("org/m", rev, t, "bare", 0, tokens=(1000, 0, 10), markers=("cli",)).model_dump(mode="json") for t in tasks]
    for o in range(5):
        order = tasks[o:] + tasks[:o]
        for p, t in enumerate(order, 1):
            r = result("org/m", rev, t, "bare", 0, tokens=(1000 if p == 1 else 100, 0, 10), markers=("skill-read", "cli") if p == 2 else ())
            cell = r.cell.model_copy(update={"key": f"{o}{p}" * 32, "session": SessionRef(id=f"s{o}", position=p, group=0, order=o, tasks=order)})
            results.append(r.model_copy(update={"cell": cell, "session_position": p}).model_dump(mode="json"))
    return write(tmp_path / "sessions", results, [plan("s", ["org/m"], [rev], tasks, ["bare"], 1)])


def test_the_report_is_byte_for_byte_what_it_was(store, tmp_path, monkeypatch):
    for where in (store, with_sessions(tmp_path)):
        assert built(report, where, tmp_path / "new", monkeypatch) == built(old_report, where, tmp_path / "old", monkeypatch)
        shutil.rmtree(tmp_path / "new")
        shutil.rmtree(tmp_path / "old")


def test_compare_says_exactly_what_it_said(store):
    plans = read_plans(store, print)
    directions, decision = compare.directions_in(plans), compare.decision_in(plans)
    for axis, base, head, filters in [("revision", "v5.2", "v5.3", {}), ("revision", "v5.13", "v5.2", {"tiers": ["clone"]}),
                                      ("model", "org/small-model", "org/large-model", {"tasks": ["task-00*"]}), ("tier", "bare", "skill", {})]:
        new = decide.verdict(compare.load_rows(store, axis, base, head), base, head, axis, directions=directions, decision=decision, **filters)
        old = old_decide.verdict(old_compare.load_rows(store, axis, base, head), base, head, axis, directions=directions, decision=decision, **filters)
        assert compare_render.as_json(new[0]) == old_render.as_json(old[0])
        assert compare_render.markdown(*new[:1], None, new[1]) == old_render.markdown(*old[:1], None, old[1])
    rows = index.rows(store)
    assert orjson.dumps(compare_render.for_report(plans, compare.load_rows(store))) == orjson.dumps(old_render.for_report(plans, [r for r in rows if r["session_position"] is None]))
