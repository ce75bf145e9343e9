"""The store index: it must equal a fresh scan of the run folders after everything that changes a
store (a run, a resumed run, a pull, a regrade-style rewrite, a result.json deleted or corrupted by
hand, the index deleted, truncated or overwritten), with two processes writing at once; and every
reader (results, report, export, publish-results, load_results) must say the same from it."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import yaml

import agent_eval
from agent_eval.store import environments, index
from agent_eval.read import report
from agent_eval.store.results import as_json, flat, in_suite_order
from agent_eval.store.records import Result
from agent_eval.store.store import Store, read_plans, write_atomic
from conftest import HF_CANARY
from kit import report_details
from synthetic import plan, result, revision, sweep, write


def scan(store: Path) -> list[dict]:
    """A fresh scan, no index involved: every readable result.json, flattened, in folder order."""
    out = []
    for path in sorted(store.glob("runs/*/*/*/*/*/result.json"), key=lambda p: p.parts):
        try:
            out.append(flat(orjson.loads(path.read_bytes())))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
    return out


def indexed(store: Path) -> list[dict]:
    """What index.sqlite holds right now, read without the check every reader does first."""
    db = sqlite3.connect(store / index.NAME)
    try:
        return [index.decode(v[1:]) for v in index.in_folder_order(db.execute(f"SELECT path, {index.QUOTED} FROM runs").fetchall())]
    finally:
        db.close()


def finish(store: Path, r: Result) -> None:
    """Store one result as a run does: the folder first, result.json last."""
    Store(store).start(r.cell)
    Store(store).finish(r)


def results_files(store: Path) -> list[Path]:
    return sorted(store.glob("runs/*/*/*/*/*/result.json"), key=lambda p: p.parts)


@pytest.fixture
def store(tmp_path) -> Path:
    return sweep(tmp_path / "store", 400)  # 432 runs over 4 models, 12 revisions, 3 tiers


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_eval", *args], capture_output=True, timeout=300, env={**os.environ, **(env or {})})


def age(store: Path) -> None:
    """Every folder's mtime set back to one moment long ago, as in a store written long ago: otherwise the check lists
    again every folder changed in the last seconds (index.RACY_NS) and would find anything."""
    old = 1_700_000_000  # November 2023
    for folder in [store / "runs", *(store / "runs").rglob("*")]:
        if folder.is_dir():
            os.utime(folder, (old, old))


def test_every_reader_finds_run_folders_added_or_removed_by_hand(store, tmp_path):
    age(store)
    assert index.rows(store) == scan(store) and len(scan(store)) == 432
    files = results_files(store)
    shutil.rmtree(files[0].parent)  # one run deleted to run it again
    shutil.rmtree(files[100].parents[3])  # a whole model of one revision
    copied = shutil.copytree(files[7].parent, files[7].parent.with_name("r9-copied0"))  # copied in beside its own, as repeat 9
    data = orjson.loads((copied / "result.json").read_bytes())
    data["cell"]["repeat"] = 9
    (copied / "result.json").write_bytes(orjson.dumps(data))
    elsewhere = write(tmp_path / "other", [result("org/copied-model", revision(3), f"t{k}", "bare", 0).model_dump(mode="json") for k in range(3)], [])
    for run in results_files(elsewhere):  # another store's results copied in
        shutil.copytree(run.parent, store / run.parent.relative_to(elsewhere))
    os.makedirs(store / "runs/0002ababab/org--going/bare/t0/r0-aaaaaaaa")  # a run still going: no result yet
    assert index.rows(store) == scan(store) and len(indexed(store)) == len(scan(store))
    assert any(r["model"] == "org/copied-model" for r in indexed(store))
    age(store)
    going = store / "runs/0002ababab/org--going/bare/t0/r0-aaaaaaaa"
    (going / "result.json").write_bytes(orjson.dumps(result("org/going", revision(2), "t0", "bare").model_dump(mode="json")))  # the run ends: its folder was seen waiting, so it is looked at again
    assert index.rows(store) == scan(store) and len(indexed(store)) == len(scan(store))


def test_verify_finds_edits_inside_run_folders(store):
    age(store)
    assert index.rows(store) == scan(store)
    files = results_files(store)
    files[0].unlink()  # deleted by hand
    age(store)
    index.rows(store)
    assert len(indexed(store)) == 432  # the cheap check lists no folder whose mtime stayed as it was
    index.verify(store).close()
    assert index.rows(store) == scan(store) and len(indexed(store)) == 431

    data = orjson.loads(files[1].read_bytes())  # rewritten by another tool, as a regrade does
    data["matched"] = not data["matched"] if data["matched"] is not None else True
    write_atomic(files[1], orjson.dumps(data))
    index.verify(store).close()
    assert index.rows(store) == scan(store)
    assert next(r for r in indexed(store) if r["folder"] == data["cell"]["folder"])["matched"] == data["matched"]

    text = files[2].read_bytes()  # same size, new content: the mtime gives it away
    files[2].write_bytes(text.replace(b"answer of", b"answer OF"))
    assert len(files[2].read_bytes()) == len(text)
    index.verify(store).close()
    with sqlite3.connect(store / index.NAME) as db:
        detail = db.execute("SELECT detail FROM details WHERE path = ?", (files[2].parent.relative_to(store).as_posix(),)).fetchone()[0]
    assert b"answer OF" in __import__("zlib").decompress(detail)

    own = files[3].read_bytes()
    files[3].write_bytes(b'{"cell": {"key": ')  # corrupted by hand: left out, and named
    files[4].write_bytes(orjson.dumps({"status": "ok"}))  # valid JSON, not a result
    index.verify(store).close()
    assert index.rows(store) == scan(store) and len(scan(store)) == 429
    assert [(p, why.split(" (")[0]) for p, why in index.bad(store)] == [
        (files[3].parent.relative_to(store).as_posix(), "not valid JSON"), (files[4].parent.relative_to(store).as_posix(), "missing field 'cell'")]
    files[3].write_bytes(own)  # fixed: back in, and no longer bad
    reindexed = cli("reindex", str(store))
    assert reindexed.returncode == 0 and b"430 runs, 1 unreadable" in reindexed.stderr, reindexed.stderr
    assert index.rows(store) == scan(store) and len(index.bad(store)) == 1


def test_a_cell_run_again_under_another_definition_counts_its_newest_run_only(store, tmp_path):
    """A changed task, profile or budget gives a cell a new run key and folder: the old run stays
    beside the new one, and counting both would pass two definitions off as repeats."""
    index.rows(store)
    old = Result.model_validate_json(results_files(store)[0].read_bytes())
    again = old.model_copy(update={"cell": old.cell.model_copy(update={"key": "f" * 64}), "matched": not old.matched,
                                   "finished_at": "2026-12-01T00:00:00+00:00"})
    finish(store, again)
    rows = index.rows(store)
    assert len(rows) == 432 and again.cell.folder in {r["folder"] for r in rows} and old.cell.folder not in {r["folder"] for r in rows}
    shown = cli("results", str(store), "--format", "json")
    assert len(orjson.loads(shown.stdout)) == 432
    assert b"warning: left out 1 older run(s) of cells run again since under another definition" in shown.stderr
    assert str(store / old.cell.folder).encode() in shown.stderr
    shutil.rmtree(store / again.cell.folder)  # the new run deleted: the old one counts again
    assert old.cell.folder in {r["folder"] for r in index.rows(store)} and len(index.rows(store)) == 432
    assert b"older run" not in cli("results", str(store)).stderr
    (store / index.NAME).unlink()
    finish(store, again)  # rebuilt from nothing, the same
    assert len(index.rows(store)) == 432 and again.cell.folder in {r["folder"] for r in index.rows(store)}


def test_a_folder_changed_seconds_ago_is_listed_again(store):
    """Within one mtime tick a second change leaves a folder's mtime as it was: such recent folders
    are recorded as unknown and listed again by the next check."""
    index.rows(store)
    files = results_files(store)
    files[0].write_bytes(b"garbage")
    assert index.rows(store) == scan(store) and len(indexed(store)) == 431


def test_the_index_rebuilds_itself_when_deleted_or_damaged(store):
    full = index.rows(store)
    (store / index.NAME).unlink()  # deleted: nothing lost
    assert index.rows(store) == full
    size = (store / index.NAME).stat().st_size
    with open(store / index.NAME, "r+b") as f:  # truncated
        f.truncate(size // 3)
    for name in (index.NAME + "-wal", index.NAME + "-shm"):
        (store / name).unlink(missing_ok=True)
    assert index.rows(store) == full
    (store / index.NAME).write_bytes(b"not a database at all" * 100)  # overwritten
    assert index.rows(store) == full and indexed(store) == full
    with sqlite3.connect(store / index.NAME) as db:  # made by another agent-eval: other columns
        db.execute("DELETE FROM runs")
        db.execute("PRAGMA user_version = 7")
    assert index.rows(store) == full
    assert not index.damaged(sqlite3.OperationalError("database is locked"))  # busy is never a reason to delete it


def test_writers_keep_the_index_current_without_a_check(store):
    index.rows(store)
    a = revision(2)
    new = result("org/new-model", a, "task-000", "bare", 0)
    finish(store, new)  # as a run stores a result
    assert indexed(store) == scan(store) and any(r["model"] == "org/new-model" for r in indexed(store))

    path = store / new.cell.folder / "result.json"
    regraded = Result.model_validate_json(path.read_bytes()).model_copy(update={"matched": False})
    write_atomic(path, orjson.dumps(regraded.model_dump(mode="json")))  # as regrade rewrites it, then tells the index
    index.update(store, [new.cell.folder])
    assert indexed(store) == scan(store)
    path.unlink()
    index.update(store, [store / new.cell.folder])  # absolute folders work too; a gone result is forgotten
    assert indexed(store) == scan(store)


WRITER = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from agent_eval.store import index
from agent_eval.store.store import Store
from synthetic import result, revision
store, model = Path(sys.argv[1]), sys.argv[2]
for k in range(40):
    r = result(model, revision(3), f"t{{k}}", "bare", 0)
    Store(store).start(r.cell)
    Store(store).finish(r)
    if k % 10 == 0:
        index.rows(store)  # a reader's full check, racing the other writer
"""


def test_two_processes_writing_at_once_never_corrupt_it(store):
    index.rows(store)
    code = WRITER.format(tests=str(Path(__file__).parent))
    writers = [subprocess.Popen([sys.executable, "-c", code, str(store), model]) for model in ("org/writer-a", "org/writer-b")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with sqlite3.connect(store / index.NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert indexed(store) == scan(store) and len(scan(store)) == 432 + 80


def strip_built(data: bytes) -> bytes:
    return re.sub(rb'"built":"[^"]*"', b"", re.sub(rb"built [0-9T:+-]+", b"", data))


def site_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): strip_built(p.read_bytes()) for p in out.rglob("*") if p.is_file()}


def test_results_and_report_are_byte_identical_from_the_index_and_from_a_fresh_scan(store, tmp_path):
    files = results_files(store)
    index.rows(store)
    files[5].unlink()
    files[6].write_bytes(b"garbage")
    finish(store, result("org/late-model", revision(4), "task-000", "skill", 2, markers=("cli",)))
    kept = cli("results", str(store), "--format", "json")  # from the index, kept up to date along the way
    report.build(store, tmp_path / "kept")
    (store / index.NAME).unlink()
    fresh = cli("results", str(store), "--format", "json")  # from an index rebuilt from nothing
    report.build(store, tmp_path / "fresh")
    assert kept.returncode == 0 and kept.stdout == fresh.stdout
    assert kept.stdout == as_json(in_suite_order(scan(store), read_plans(store, print))) + b"\n"  # and from no index at all
    assert site_bytes(tmp_path / "kept") == site_bytes(tmp_path / "fresh")
    assert f"warning: skipped {files[6]}: not valid JSON".encode() in kept.stderr
    for fmt in ("csv", "table"):
        first = cli("results", str(store), "--format", fmt).stdout
        (store / index.NAME).unlink()
        assert cli("results", str(store), "--format", fmt).stdout == first


def test_the_report_from_the_index_equals_the_report_of_the_records(store, tmp_path):
    """report.table() works on whole records, report.build() on the index: same table."""
    records = [orjson.loads(p.read_bytes()) for p in results_files(store)]
    from_records = report.table(records, read_plans(store, print))
    built = report.build(store, tmp_path / "site")
    assert built.dims == from_records.dims and built.cols == from_records.cols
    details, _ = report_details(tmp_path / "site" / "details" / "000-0000.js")  # and the runs' reads
    first = next(r for r in records if r["cell"]["folder"] == details[0]["folder"])
    assert details[0] == {"folder": first["cell"]["folder"], **{k: first[k] for k in index.DETAIL_KEYS}}


def test_export_to_parquet_csv_and_jsonl_says_what_results_json_says(store, tmp_path):
    shown = orjson.loads(cli("results", str(store), "--format", "json").stdout)
    done = cli("export", str(store), "--format", "parquet", "--out", str(tmp_path / "r.parquet"))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.column_names == list(shown[0]) and table.to_pylist() == shown
    assert table.schema.field("matched").type == "bool" and table.schema.field("markers").metadata[b"description"]
    lines = cli("export", str(store), "--format", "jsonl").stdout.splitlines()
    assert [orjson.loads(line) for line in lines] == shown
    assert cli("export", str(store), "--format", "csv").stdout.decode().splitlines()[0].split(",") == list(shown[0])
    binary = cli("export", str(store), "--format", "parquet")
    assert binary.returncode == 2 and binary.stderr.decode().startswith("error: Parquet is binary: give a file with --out")
    assert cli("export", str(store), "-f", "csv", "--out", str(tmp_path / "new" / "r.csv")).returncode == 0  # its folder is made


def test_without_pyarrow_parquet_says_which_extra_to_install(store, tmp_path):
    code = "import sys; sys.modules['pyarrow'] = None; from agent_eval.cli.main import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "export", str(store), "--out", str(tmp_path / "r.parquet")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr == "error: Parquet needs pyarrow: pip install 'agent-eval[parquet]' (or use --format csv or jsonl)\n"


def test_load_results_from_python(store):
    rows = agent_eval.load_results(store)
    assert rows == scan(store) and rows[0]["status"] in {"ok", "agent_error", "timeout", "silent_failure"}
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            rows.to_pandas()
    else:
        assert len(rows.to_pandas()) == len(rows)
    with pytest.raises(FileNotFoundError, match="no runs/ folder"):
        agent_eval.load_results(store / "nowhere")


def hub_cli(hub, *args: str) -> subprocess.CompletedProcess:
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": HF_CANARY, "HF_HUB_DISABLE_TELEMETRY": "1"}
    return cli(*args, env=env)


def test_publish_results_puts_the_table_in_a_private_dataset_and_replaces_it_in_one_commit(hub, store):
    dry = hub_cli(hub, "publish-results", str(store), "--dataset", "org/evals-results", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert b"dry run: would commit data/results.parquet (432 rows" in dry.stderr and not hub.repos

    done = hub_cli(hub, "publish-results", str(store), "--dataset", "org/evals-results", "--report-space", "org/evals-report")
    assert done.returncode == 0, done.stderr
    repo = hub.repos["dataset:org/evals-results"]
    assert repo.private and len(repo.commits) == 1 and set(repo.files) == {"README.md", "data/results.parquet"}
    shown = orjson.loads(cli("results", str(store), "--format", "json").stdout)
    (Path(hub.root) / "got.parquet").write_bytes(repo.files["data/results.parquet"])
    assert pq.read_table(Path(hub.root) / "got.parquet").to_pylist() == shown
    card = repo.files["README.md"].decode()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pretty_name"] == "agent-eval results: evals-results" and front["configs"][0]["data_files"] == "data/results.parquet"
    assert "data_files: data/results.parquet" in card and f"{hub.url}/spaces/org/evals-report" in card
    assert "| `tokens_new` | uncached input tokens" in card and "`v5.13` (000dababab)" in card and "432 runs" in card

    record = "python 3.11.7\nlibrary lib 5.4 at x\nlib==5.4\nnumpy==2.2.0\n"  # the environment it ran with, published beside the table
    late = result("org/late-model", revision(4), "task-000", "skill", 0).model_copy(update={"environment": environments.digest(record)})
    environments.keep(store, record, store)
    finish(store, late)
    again = hub_cli(hub, "publish-results", str(store), "--dataset", "org/evals-results")
    assert again.returncode == 0, again.stderr
    assert len(repo.commits) == 2 and set(repo.files) == {"README.md", "data/results.parquet", f"envs/{environments.digest(record)}.txt"}
    assert repo.files[f"envs/{environments.digest(record)}.txt"].decode() == record
    (Path(hub.root) / "got.parquet").write_bytes(repo.files["data/results.parquet"])
    assert pq.read_table(Path(hub.root) / "got.parquet").num_rows == 433
    assert HF_CANARY not in card


def test_pull_indexes_what_it_brings(hub, tmp_path):
    a = revision(2)
    remote = hub.bucket("org/evals").root
    write(remote, [result("m1", a, f"t{k}", "bare", 0).model_dump(mode="json") for k in range(5)], [plan("p", ["m1"], [a], ["t0"], ["bare"], 1)])
    local = tmp_path / "pulled"
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": HF_CANARY, "HF_HUB_DISABLE_TELEMETRY": "1"}
    pulled = cli("pull", str(local), "--bucket", "org/evals", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert len(indexed(local)) == 5 and indexed(local) == scan(local)  # indexed by pull itself
    write(remote, [result("m1", a, "t9", "bare", 0).model_dump(mode="json"),  # a new one, and one regraded there
                   result("m1", a, "t0", "bare", 0, matched=False).model_dump(mode="json")], [])
    age(local)
    assert cli("pull", str(local), "--bucket", "org/evals", env=env).returncode == 0
    assert len(indexed(local)) == 6 and indexed(local) == scan(local)
    assert [r["matched"] for r in indexed(local) if r["task"] == "t0"] == [False]

    from agent_eval.hub.bucket import BucketStore
    from huggingface_hub import HfApi

    BucketStore("org/evals", HfApi(endpoint=hub.url, token=HF_CANARY)).pull(local, exact=True)  # a mirror keeps its index
    assert (local / index.NAME).is_file() and indexed(local) == scan(local)


def test_a_run_and_a_resumed_run_are_indexed_as_they_store_results(project):
    project.suite(revisions=["v0.1"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    assert len(indexed(project.store)) == 1 and indexed(project.store) == scan(project.store)
    project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"])
    resumed = project.cli("run", "suite.yaml")
    assert resumed.returncode == 0, resumed.stderr
    assert len(indexed(project.store)) == 2 and indexed(project.store) == scan(project.store)


def test_every_column_is_documented_in_the_readme_and_the_card():
    from agent_eval.store.export import DOCS
    from agent_eval.store.results import COLUMNS

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert list(DOCS) == COLUMNS
    assert [c for c in COLUMNS if f"| `{c}` | {DOCS[c]} |" not in readme] == []


@pytest.fixture
def small(tmp_path) -> Path:
    rev = revision(1)
    return write(tmp_path / "small", [result("m1", rev, "t0", "bare").model_dump(mode="json")], [plan("synthetic", ["m1"], [rev], ["t0"], ["bare"], 1)])


def test_an_index_path_that_is_a_folder_is_one_line_for_every_reader(small):
    (small / index.NAME).mkdir()
    for command in (["results"], ["report"], ["export", "--format", "csv"], ["compare", "--base", "v5.1", "--head", "v5.1"]):
        done = cli(*command, str(small))
        said = done.stderr.decode()
        assert done.returncode == 2 and said == f"error: {small / index.NAME} is not a file but the store's index belongs there; move it away (the index is made again from the run folders)\n", (command, said)
    with pytest.raises(index.UnusableIndex):
        index.rows(small)
    assert (small / index.NAME).is_dir() and not (small / "report").exists()


def test_export_out_a_folder_is_one_line(small, tmp_path):
    (tmp_path / "out").mkdir()
    for format in ("csv", "parquet"):
        done = cli("export", str(small), "--format", format, "--out", str(tmp_path / "out"))
        assert done.returncode == 2 and done.stderr.decode() == f"error: --out {tmp_path / 'out'} is a folder; give a file, e.g. --out {tmp_path / 'out' / ('results.' + format)}\n"
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("garbage, why", [
    (b"garbage{", "unexpected character"),
    (b"[1, 2]", "not a plan (at the top: Input should be a valid dictionary"),
    (b'{"suite": "synthetic", "profile": "lib", "models": [], "repeats": 1}', "not a plan (at revisions: Field required)"),
])
def test_a_garbage_plan_is_skipped_with_a_warning_naming_it(small, garbage, why):
    path = small / "suites" / "synthetic" / "plan.json"
    path.write_bytes(garbage)
    done = cli("report", str(small))
    said = done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in said, said
    assert said.startswith(f"warning: skipped {path}: ") and why in said.splitlines()[0], said
    assert said.splitlines()[0].endswith("; delete it, or run the suite again to write it")
    assert "1 runs -> " in said and path.read_bytes() == garbage
    explained = cli("explain", str(small), "--task", "t0")
    assert explained.returncode == 0 and f"warning: skipped {path}: " in explained.stderr.decode()


def test_a_folder_removed_by_hand_takes_the_rows_a_writer_added_under_it(store):
    """Rows a writer added (update, no listing) under folders no check had listed yet: removing those
    folders by hand is still found by the cheap check."""
    index.rows(store)
    added = []
    for k in range(2):
        new = result("org/other-model", revision(2), f"extra-{k}", "bare", 0)
        Store(store).start(new.cell)
        Store(store).finish(new)
        added.append(new.cell.folder)
    shutil.rmtree(store / Path(added[0]).parents[2])  # the whole model folder, before any reader looked
    assert index.rows(store) == scan(store) and not {r["folder"] for r in index.rows(store)} & set(added)
