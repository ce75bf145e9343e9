"""The columnar form of the index (store/columns.py): the same runs and values as the index's own
rows (index.rows), cached beside the index and remade whenever the index changes; and the rows
made back from it (columns.rows) are those rows exactly, types and order included. (That the report and compare built
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
        if name in ("part", "task_id", "marker_list"):
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
    index.rows(store)  # the index made, no columns yet
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(PermissionError("read-only")))
    same(columns.read(store), index.rows(store))
    assert not (store / index.COLUMNS_NAME).exists() and not list(store.glob(".*.tmp"))


def test_rows_made_from_the_columns_are_the_stored_rows_exactly(store):
    """An int stays an int and a float a float in every number column (10 is not 10.0 in JSON), even
    mixed in one column as hand-edited files leave them; booleans are bools; markers keep their order."""
    import orjson

    edited = next(store.glob("runs/*/*/*/*/*/result.json"))
    data = orjson.loads(edited.read_bytes())
    data.update(wall_seconds=30, score=1, cost=0.5, markers=[{"name": "zz"}, {"name": "cli"}, {"name": "zz"}])
    edited.write_bytes(orjson.dumps(data))
    index.verify(store).close()
    made, stored = columns.rows(store), index.rows(store)
    assert orjson.dumps(made) == orjson.dumps(stored) and len(made) == 432
    row = next(r for r in made if r["folder"] == edited.parent.relative_to(store).as_posix())
    assert (row["wall_seconds"], row["score"], row["markers"]) == (30, 1, ["zz", "cli", "zz"]) and type(row["wall_seconds"]) is int
    assert {type(r["wall_seconds"]) for r in made} == {int, float} and {type(r["matched"]) for r in made} <= {bool, type(None)}
    row["markers"].append("changed")
    assert all(r["markers"] != ["zz", "cli", "zz", "changed"] for r in made if r is not row)


def test_a_number_column_holding_text_leaves_its_run_out_named_not_every_reader_down(store):
    """A hand-edited "turns": "many" would stop the columns (and with them results, report and
    compare) with a traceback; it is an unreadable result instead, named with its field."""
    import orjson

    from agent_eval.store.results import NUMBERS

    assert {name for name, kind in columns.KINDS.items() if kind == columns.NUMBER} == set(NUMBERS)
    edited = next(store.glob("runs/*/*/*/*/*/result.json"))
    data = orjson.loads(edited.read_bytes())
    data["turns"] = "many"
    edited.write_bytes(orjson.dumps(data))
    assert len(index.rows(store)) == 431 and len(columns.rows(store)) == 431
    assert [why.split(" (")[1] for _, why in index.bad(store)] == ["field turns is str, not a number)"]
