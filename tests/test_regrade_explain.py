"""regrade and explain on a real store: the real pi, the scripted model, a real git history."""

from __future__ import annotations

import os
import shutil

import orjson
import pytest

import minilib
from conftest import PROMPTS


def suite_run(project):
    project.suite(revisions=[{"ref": "v0.1", "name": "API only"}, {"ref": "v0.2", "name": "CLI"}], tiers=["bare"])
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert done.returncode == 0, done.stderr


def results(project) -> dict[tuple[str, str], dict]:
    return {(r["cell"]["revision"]["name"], r["cell"]["task"]["id"]): r
            for r in (orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json"))}


def files(project, name: str) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in project.store.glob(f"runs/*/*/*/*/*/{name}")}


def test_regrade_applies_the_current_markers_and_answers_once_and_survives_an_interruption(project, monkeypatch):
    suite_run(project)
    before, traces = results(project), files(project, "trace.jsonl")
    assert before["CLI", "checksum"]["matched"] is True and [m["name"] for m in before["CLI", "checksum"]["markers"]] == ["cli"]

    # A maintainer fixes things: the checksum task's answer was "wrong", the cli marker now wants a flag, a new marker appears.
    project.task("checksum", prompt=PROMPTS["checksum"], expected="no such checksum")
    project.profile(markers=[
        {"name": "cli", "where": "command", "pattern": r"\bminilib\s+checksum\s+--", "description": "the CLI with a flag"},
        {"name": "python-api", "where": "code", "pattern": r"import minilib", "description": "wrote Python using it"},
        {"name": "ran-anything", "where": "command", "pattern": r".", "description": "ran a command"},
    ])
    dry = project.cli("regrade", "--suite", "suite.yaml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("4 results re-scored, 4 would change: 1 match flips, 4 markers gained, 2 lost")
    assert results(project) == before  # a dry run writes nothing

    done = project.cli("regrade", "--suite", "suite.yaml")
    assert done.returncode == 0 and done.stdout.startswith("4 results re-scored, 4 changed: 1 match flips"), done.stdout
    after = results(project)
    assert after["CLI", "checksum"]["matched"] is False and after["API only", "checksum"]["matched"] is False
    assert [m["name"] for m in after["CLI", "checksum"]["markers"]] == ["ran-anything"]
    assert [m["name"] for m in after["CLI", "api"]["markers"]] == ["python-api", "ran-anything"]
    assert after["CLI", "checksum"]["graded"]["expected"] == "no such checksum"
    for key, r in after.items():  # only the grading moved
        assert {k: v for k, v in r.items() if k not in ("matched", "markers", "grading", "graded", "graders", "score")} == {k: v for k, v in before[key].items() if k not in ("matched", "markers", "grading", "graders", "score")}
    assert files(project, "trace.jsonl") == traces
    cli_folder = project.store / after["CLI", "checksum"]["cell"]["folder"]
    (previous,) = [orjson.loads(line) for line in (cli_folder / "gradings.jsonl").read_bytes().splitlines()]
    assert [m["name"] for m in previous["markers"]] == ["cli"] and previous["graded"] is None  # the run's own grading

    graded = files(project, "result.json")
    again = project.cli("regrade", "--suite", "suite.yaml")
    assert again.stdout.startswith("4 results re-scored, 0 changed") and files(project, "result.json") == graded

    # Back to the right answer, and the regrade is killed after its first replace: nothing is lost, a rerun finishes.
    project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")))
    from agent_eval.grade import regrade
    from agent_eval.store import store

    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return os.replace(src, dst)

    monkeypatch.setattr(store.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        regrade.regrade(project.store, project.root / "suite.yaml")
    monkeypatch.undo()
    assert all(isinstance(orjson.loads(b), dict) for b in files(project, "result.json").values())  # every record whole
    assert results(project)["CLI", "checksum"]["matched"] is False  # killed before its replace: the old grading, intact
    finished = regrade.regrade(project.store, project.root / "suite.yaml")
    assert [(c.task, c.matched_before, c.matched_after) for c in finished.changed] == [("checksum", False, True)]
    final = results(project)
    assert final["CLI", "checksum"]["matched"] is True and final["API only", "checksum"]["matched"] is False
    assert files(project, "trace.jsonl") == traces
    # Every grading is kept, oldest first, once each though the interrupted regrade wrote its history first.
    kept = [orjson.loads(line) for line in (cli_folder / "gradings.jsonl").read_bytes().splitlines()]
    assert [(g["matched"], g["graded"] and g["graded"]["expected"]) for g in kept] == [(True, None), (False, "no such checksum")]
    shown = project.cli("explain", "--task", "checksum", "--tier", "bare")
    assert shown.returncode == 0 and "gradings" in shown.stdout, shown.stderr
    assert "as run: matched · cli" in shown.stdout and "no match · ran-anything" in shown.stdout, shown.stdout


def test_explain_shows_each_revision_side_by_side_and_the_compare_view_equals_the_cli(project, tmp_path):
    suite_run(project)
    shown = project.cli("explain", "--task", "checksum")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "checksum · Fake · bare" in out and out.index("API only r0") < out.index("CLI r0")
    assert "1. bash ✗: minilib checksum agent" in out and "1. bash: minilib checksum agent" in out  # failed before the CLI existed
    assert f"The checksum is {minilib.checksum('agent')}" in out and "no match" in out and "matched" in out
    from agent_eval.read import explain

    runs = explain.runs(project.store, "checksum")[("Fake", "bare")]
    assert [r.revision for r in runs] == ["API only", "CLI"]  # the suite's order
    assert [r.matched for r in runs] == [False, True] and [r.markers for r in runs] == [["cli"], ["cli"]]
    assert [[s["error"] for s in r.steps] for r in runs] == [[True], [False]]
    assert all(r.tokens["cached"] == 1024 for r in runs)  # the scripted model's usage, as stored
    assert "1,024 cached" in out
    bad = project.cli("explain", "--task", "nope")
    assert bad.returncode == 2 and bad.stderr == "error: no run of task 'nope'; tasks in the store: api, checksum\n"

    report = project.cli("report")
    assert report.returncode == 0, report.stderr
    from playwright.sync_api import sync_playwright

    from agent_eval.read import compare, compare_render

    expected = compare.compare(compare.load_rows(project.store), "API only", "CLI", directions=compare.marker_directions(project.store))
    assert expected.n_tasks == 2 and {m.verdict for m in expected.metrics} <= {"unreliable", "no data"}  # two tasks: no interval
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto((project.store / "report" / "index.html").as_uri() + "#view=compare")
        tab.wait_for_selector("#cmp-table tbody tr")
        assert tab.text_content("#cmp-pair option:checked") == f"{expected.base} → {expected.head}"
        table = tab.eval_on_selector_all("#cmp-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        assert table == compare_render.rows(expected)
        assert "only 2 shared tasks" in tab.text_content("#cmp-notes")
        browser.close()
    assert errors == []
