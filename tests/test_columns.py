"""The columnar form of the index (store/columns.py): the same runs and values as index.rows(),
cached beside the index and remade whenever the index changes. (That the report and compare built
on it wrote byte for byte what they wrote from a Python row per run was checked against the old
code, kept in tests/legacy until the commit that removed both.)"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent_eval.store import columns, index
from agent_eval.store.store import Store
from synthetic import result, revision, sweep


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
