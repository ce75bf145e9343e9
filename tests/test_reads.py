"""`agent-eval reads`: shares of runs per revision × tier, matched/failed split, ranking, head against
base, and an old store getting its reads from its traces without running anything."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from agent_eval.read import reads as gather
from agent_eval.read import reads_table as tables
from agent_eval.store.records import Read
from conftest import CHECKOUT
from synthetic import plan, result, revision, write

FIXTURE = Path(CHECKOUT) / "tests" / "fixtures" / "store-pi-0.73.1"
REVS = [revision(2), revision(3)]
TASKS = [f"t{k}" for k in range(4)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_eval", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


def read_by(rev: int, task: int, repeat: int) -> list[Read]:
    """The known truth: at v5.2 every run reads the README and runs 0 and 1 of t0 ask for help; at v5.3
    the runs of tasks 0-2 read docs/cli.md (at turn 2, 10 lines) and matched, the others did not."""
    if rev == 0:
        return [Read(where="library", path="README.md", turn=1, lines=5)] + ([Read(where="help", path="wfl top", turn=3)] if task == 0 and repeat < 2 else [])
    return [Read(where="library", path="docs/cli.md", turn=2, lines=10)] if task < 3 else []


def store(tmp_path: Path) -> Path:
    results = []
    for j, rev in enumerate(REVS):
        for k, task in enumerate(TASKS):
            for r in range(3):
                res = result("org/m", rev, task, "clone", r, matched=(j == 1 and k < 3) or (j == 0 and r == 0))
                res.reads = read_by(j, k, r)
                results.append(res.model_dump(mode="json"))
    infra = result("org/m", REVS[1], "t3", "bare", 0, status="infra_error", matched=None)
    infra.reads = [Read(where="library", path="docs/cli.md")]
    results.append(infra.model_dump(mode="json"))
    return write(tmp_path / "store", results, [plan("s", ["org/m"], REVS, TASKS, ["clone", "bare"], 3)])


def test_shares_split_and_ranking_are_exact(tmp_path):
    cols, found = gather.load(store(tmp_path))
    by = {(g.revision, g.tier): g for g in tables.groups(cols, found)}
    assert set(by) == {("v5.2", "clone"), ("v5.3", "clone")}  # the one bare run was the provider's failure: not the agent's work
    old = by["v5.2", "clone"]
    assert (old.runs, old.matched, old.failed, old.repeats) == (12, 4, 8, 3)
    readme, help_ = old.files
    assert (readme.file, readme.runs, readme.of, readme.matched, readme.of_matched, readme.failed, readme.of_failed) == ("library: README.md", 12, 12, 4, 4, 8, 8)
    assert (readme.first_turn, readme.lines, readme.ranked) == (1.0, 5.0, True)
    assert (help_.file, help_.runs, help_.matched, help_.failed, help_.first_turn, help_.lines, help_.ranked) == ("help: wfl top", 2, 1, 1, 3.0, None, False)
    (cli_md,) = by["v5.3", "clone"].files
    assert (cli_md.runs, cli_md.of, cli_md.matched, cli_md.of_matched, cli_md.failed, cli_md.of_failed) == (9, 12, 9, 9, 0, 3)


def test_head_against_base_is_sorted_by_the_change(tmp_path):
    cols, found = gather.load(store(tmp_path))
    changes = tables.diff(cols, found, REVS[0].sha, REVS[1].sha)
    assert [(c.file, c.base, c.head, round(c.change), c.ranked) for c in changes] == [
        ("library: README.md", 12, 0, -100, True), ("library: docs/cli.md", 0, 9, 75, True), ("help: wfl top", 2, 0, -17, False)]
    lines = tables.context(cols, found, "sha", REVS[0].sha, REVS[1].sha)
    assert lines == ["head: 0% of runs read library: README.md (base 100%; 0/12 vs 12/12)",
                     "head: 75% of runs read library: docs/cli.md (base 0%; 9/12 vs 0/12)"]  # the unranked help page is no context


def test_the_command_prints_counts_json_csv_and_refuses_half_a_pair(tmp_path):
    path = store(tmp_path)
    shown = cli("reads", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "v5.3 (0003ababab) · clone — 12 runs: 9 matched, 3 failed" in shown.stdout
    assert "library: docs/cli.md" in shown.stdout and "9/12 75%" in shown.stdout and "help: wfl top ·" in shown.stdout
    data = orjson.loads(cli("reads", str(path), "--format", "json", "--by-model").stdout)
    assert [(g["revision"], g["model"], len(g["files"])) for g in data] == [("v5.2", "org/m", 2), ("v5.3", "org/m", 1)]
    table = list(csv.DictReader(io.StringIO(cli("reads", str(path), "-f", "csv").stdout)))
    assert [(r["revision"], r["file"], r["runs"], r["of"], r["share"]) for r in table] == [
        ("v5.2", "library: README.md", "12", "12", "1.0"), ("v5.2", "help: wfl top", "2", "12", "0.1667"), ("v5.3", "library: docs/cli.md", "9", "12", "0.75")]
    diff = cli("reads", str(path), "--base", "v5.2", "--head", "v5.3")
    assert diff.returncode == 0 and "library: README.md" in diff.stdout and "-100 pts" in diff.stdout
    half = cli("reads", str(path), "--base", "v5.2")
    assert half.returncode == 2 and half.stderr.startswith("error: --base and --head go together") and "Traceback" not in half.stderr
    unknown = cli("reads", str(path), "--base", "v9", "--head", "v5.3")
    assert unknown.returncode == 2 and "no revision 'v9'" in unknown.stderr


def test_an_old_store_gets_its_reads_from_traces_and_steps_once(tmp_path):
    old = shutil.copytree(FIXTURE, tmp_path / "old")
    assert not any(b'"reads"' in p.read_bytes() for p in old.glob("runs/**/result.json"))  # written before reads were recorded
    done = cli("reindex", str(old))
    assert done.returncode == 0 and "what 2 runs read" in done.stderr, done.stderr
    cols, found = gather.load(old)
    skill = next(r for r in cols.rows(["folder", "tier"]) if r["tier"] == "skill")
    assert found.of(skill["folder"]) == [("skill: SKILL.md", 1, 7)]  # from the trace: the turn and the lines it showed
    (old / skill["folder"] / "trace.jsonl").unlink()  # gone: the cache keeps what it read
    assert gather.load(old)[1].of(skill["folder"]) == [("skill: SKILL.md", 1, 7)]
    (old / gather.NAME).unlink()  # and without the cache, the stored steps still say what was read
    assert gather.load(old)[1].of(skill["folder"]) == [("skill: SKILL.md", None, None)]
    again = cli("reindex", str(old))
    assert again.returncode == 0 and "what 0 runs read" in again.stderr  # the cache holds them all already
    shown = cli("explain", str(old), "--task", "checksum", "--tier", "skill")
    cells = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in shown.stdout.splitlines() if line.count("│") == 3}
    assert shown.returncode == 0 and cells["read"] == "skill: SKILL.md", shown.stdout  # explain says what each run read too


def test_bad_stores_and_damaged_files_are_one_line_or_made_again(tmp_path):
    missing = cli("reads", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no runs/ folder here" in missing.stderr
    path = store(tmp_path)
    (path / gather.NAME).write_bytes(b"not a numpy file")  # damaged: made again from the results
    cols, found = gather.load(path)
    assert len(found.folders) == len(cols) == 25
    broken = next(path.glob("runs/0002*/*/clone/t0/r0-*/result.json"))
    broken.write_text("{")
    shown = cli("reads", str(path))
    assert shown.returncode == 0 and "warning: skipped" in shown.stderr and "v5.2 (0002ababab) · clone — 11 runs" in shown.stdout


def test_compare_gives_the_biggest_reading_changes_as_context_never_as_a_claim(tmp_path):
    path = store(tmp_path)
    table = cli("compare", str(path), "--base", "v5.2", "--head", "v5.3")
    assert table.returncode == 0, table.stderr
    context = [line for line in table.stdout.splitlines() if line.startswith("reading")]
    assert context == ["reading (context, not a verdict): head: 0% of runs read library: README.md (base 100%; 0/12 vs 12/12)",
                       "reading (context, not a verdict): head: 75% of runs read library: docs/cli.md (base 0%; 9/12 vs 0/12)"]
    markdown = cli("compare", str(path), "--base", "v5.2", "--head", "v5.3", "--format", "markdown").stdout
    section = markdown.split("**Where agents looked**", 1)[1].split("\n\n", 2)[1]
    assert section.splitlines() == ["- head: 0% of runs read library: README.md (base 100%; 0/12 vs 12/12)",
                                    "- head: 75% of runs read library: docs/cli.md (base 0%; 9/12 vs 0/12)"]
    data = orjson.loads(cli("compare", str(path), "--base", "v5.2", "--head", "v5.3", "--format", "json").stdout)
    assert len(data["reading"]) == 2 and not any("read" in claim["metric"] for claim in data["headline"])
    one_tier = orjson.loads(cli("compare", str(path), "--base", "v5.2", "--head", "v5.3", "--task", "t3", "-f", "json").stdout)
    assert one_tier["reading"] == ["head: 0% of runs read library: README.md (base 100%; 0/3 vs 3/3)"]  # the filters hold


def test_the_cache_follows_new_runs_and_runs_run_again(tmp_path):
    path = store(tmp_path)
    cols, found = gather.load(path)
    rows = cols.rows(["folder", "task", "status"])
    assert found.of(rows[0]["folder"]) == [("library: README.md", 1, 5), ("help: wfl top", 3, None)]
    again = orjson.loads((path / rows[0]["folder"] / "result.json").read_bytes())
    again.update(finished_at="2026-11-24T00:00:00+00:00", reads=[{"where": "skill", "path": "SKILL.md", "turn": 2, "lines": 9}])
    (path / rows[0]["folder"] / "result.json").write_bytes(orjson.dumps(again))
    new = result("org/m", REVS[0], "t9", "clone", 0)
    new.reads = [Read(where="help", path="wfl top", turn=1)]
    write(path, [new.model_dump(mode="json")], [])
    cli("reindex", str(path))  # the edit inside a run folder is found by the full check
    cols, found = gather.load(path)
    rows = cols.rows(["folder", "task", "status"])
    assert found.of(rows[0]["folder"]) == [("skill: SKILL.md", 2, 9)]  # its earlier reads are gone, not added to
    assert found.of(next(r["folder"] for r in rows if r["task"] == "t9")) == [("help: wfl top", 1, None)]
    assert len(found.run) == sum(len(found.of(r["folder"])) for r in rows if r["status"] != "infra_error") + 1  # + the infra error's own
