"""`reads` counted on the index's columns gives, byte for byte, what it printed when it counted a
row per run: every format, --by-model, --model/--tier, --base/--head and the report's reads.js, on
a store whose plan order is not text order, with revisions and tiers no plan names, provider and
harness failures, a task run in a session, unscored runs and two agent versions. The expected files
in fixtures/reads-columns were written by the row-per-run code (commit 15791d4) from this very store;
reads.js's list of unopened files has changed since, deliberately (read/unopened.py)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from agent_eval.read import report
from agent_eval.store import columns, index
from agent_eval.store.records import Read
from agent_eval.store.results import in_suite_order, suite_order
from agent_eval.store.store import read_plans
from synthetic import plan, result, revision, write

EXPECTED = Path(__file__).parent / "fixtures" / "reads-columns"
CASES = {
    "table": [], "top": ["--top", "2"], "json": ["-f", "json"], "csv": ["-f", "csv"], "by-model": ["--by-model"],
    "by-model-json": ["--by-model", "-f", "json"], "model": ["--model", "Big", "-f", "csv"], "tier": ["--tier", "skill", "--tier", "extra"],
    "diff": ["--base", "v5.10", "--head", "v5.2"], "diff-json": ["--base", "v5.2", "--head", "v5.9", "-f", "json", "--by-model"],
    "diff-csv": ["--base", "v5.9", "--head", "v5.11", "-f", "csv"],
}
FILES = [("library", "README.md"), ("library", "docs/cli.md"), ("library", "docs/api.md"), ("installed", "lib/core.py"), ("skill", "SKILL.md"),
         ("help", "lib top"), ("inputs", "data.csv"), ("other", "/etc/hosts")]


def made(path: Path) -> Path:
    """The store: planned revisions v5.10, v5.2, v5.9 (in that order) and tiers skill, clone; v5.11 and
    the tier `extra` in no plan; reads drawn from a seeded generator."""
    rng = random.Random(5)
    planned, tasks = [revision(10), revision(2), revision(9)], ["t0", "t1", "t2"]
    results = []
    for model in ("org/big", "org/small"):
        for rev in [*planned, revision(11)]:
            for tier in ("clone", "skill", "extra"):
                for task in tasks:
                    for r in range(3):
                        status = rng.choices(["ok", "infra_error", "setup_error", "agent_error"], [85, 5, 5, 5])[0]
                        res = result(model, rev, task, tier, r, status=status, matched=rng.choice([True, False, None]),
                                     agent_version="0.74.0" if r == 2 and task == "t2" else "0.73.1")
                        res.reads = [Read(where=w, path=p, turn=rng.choice([None, rng.randint(1, 9)]), lines=rng.choice([None, rng.randint(1, 90)]))
                                     for w, p in rng.sample(FILES, rng.randint(0, 4))]
                        results.append(res)
    in_session = result("org/big", planned[0], "t1", "clone", 7)
    in_session.session_position, in_session.reads = 2, [Read(where="library", path="docs/session-only.md")]
    results.append(in_session)
    dumped = [r.model_dump(mode="json") for r in results]
    for r in dumped:
        if r["cell"]["model"]["id"] == "org/big":
            r["cell"]["model"]["name"] = "Big"  # --model takes a name too
    return write(path, dumped, [plan("s", ["org/small", "org/big"], planned, tasks, ["skill", "clone"], 3)])


def cli(store: Path, *args: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "agent_eval", "reads", str(store), *args], capture_output=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return made(tmp_path_factory.mktemp("reads-columns") / "store")


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_output_is_what_counting_rows_printed(store, case):
    assert cli(store, *CASES[case]) == (EXPECTED / f"{case}.out").read_bytes()


def test_the_reports_data_is_what_counting_rows_wrote(store, tmp_path, monkeypatch):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "echarts").symlink_to(Path(os.environ["AGENT_EVAL_CACHE"]) / "echarts")  # installed once for every test
    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))  # no revision's tree here: unopened files are unknown
    report.build(store, tmp_path / "site")
    made, expected = ((path / "reads.js").read_bytes().removeprefix(b"window.reportReads(").removesuffix(b");\n") for path in (tmp_path / "site", EXPECTED))
    made, expected = orjson.loads(made), orjson.loads(expected)
    assert made.pop("unopened") == {str(k): {"files": [], "from": [], "unknown": "this machine's cache has no tree of it, and no profile the store "
                                             "keeps names its repository"} for k in range(4)}
    assert expected.pop("unopened") == dict.fromkeys(map(str, range(4)))  # then: None, unknown without a reason
    assert orjson.dumps(made) == orjson.dumps(expected)


def test_the_suites_order_on_columns_is_the_rows_order(store):
    cols = columns.read(store)
    plans = read_plans(store, print)
    rows = index.rows(store)
    expected = [r["folder"] for r in in_suite_order(rows, plans)]
    assert np.array(cols.text("folder"))[suite_order(cols, plans)].tolist() == expected
    assert [r["revision"] for r in in_suite_order(rows, plans)][:1] == ["v5.10"]  # the plan's order, not the text's


def test_the_reads_cache_holds_every_run_in_the_index_order(store):
    from agent_eval.read import reads as gather

    cols, found = gather.load(store)
    assert found.folders == cols.values("folder")  # so the columns find each run's reads without a lookup per run
    session = cols.rows(["folder", "session_position"])
    assert [found.of(r["folder"]) for r in session if r["session_position"] == 2] == [[("library: docs/session-only.md", None, None)]]
