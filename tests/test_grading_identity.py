"""Grading is not part of a cell's identity: a grading-only edit plans 0 cells, says how many results
were graded under an older grading, and `regrade` brings them up to date; stores written before
grading left the run key keep every result and re-run nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import yaml

import minilib
from conftest import PROMPTS
from agent_eval.store import index

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_old_formula_reproduces_the_keys_of_stores_written_before():
    from agent_eval.run import cells
    from agent_eval.store.records import Cell
    from agent_eval.suite import profiles
    from agent_eval.suite.load import load_suite, load_task

    checked = 0
    for store in (FIXTURES / "store-pi-0.73.1", FIXTURES / "store-before-graders" / "store"):
        (snapshot,) = store.glob("suites/*/snapshot")
        suite, profile = load_suite(snapshot / "suite.yaml"), profiles.load(snapshot / "profile")
        for path in store.glob("runs/*/*/*/*/*/cell.json"):
            stored = Cell.model_validate_json(path.read_bytes())
            task = load_task(snapshot / "tasks" / f"{stored.task.id}.yaml")
            args = (suite, profile, stored.model, stored.revision, task, stored.tier, stored.repeat, stored.agent_version)
            assert cells.cell(*args, legacy=True).key == stored.key
            assert cells.cell(*args).key != stored.key  # the new key leaves the graders out
            checked += 1
    assert checked == 6


def before_graders(tmp_path: Path) -> Path:
    """The fixture's project with its store, and minilib where its profile's relative repo: points."""
    minilib.build(tmp_path / "upstream" / "minilib")
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "store-before-graders", project)
    (project / "store").rename(project / "agent-eval-results")
    return project


def cli(project: Path, *args: str):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FAKE_MODEL_KEY": "unused"}  # the model is never called: nothing runs
    return subprocess.run([sys.executable, "-m", "agent_eval", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def edit(path: Path, **fields) -> None:
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **fields}, sort_keys=False))


def results(store: Path) -> dict[str, dict]:
    return {p.parent.name: orjson.loads(p.read_bytes()) for p in store.glob("runs/*/*/*/*/*/result.json")}


def test_a_store_written_before_reruns_nothing_after_the_upgrade_nor_after_grading_edits(tmp_path):
    project = before_graders(tmp_path)
    store = project / "agent-eval-results"
    stored = results(store)

    plan = cli(project, "run", "suite.yaml", "--dry-run")
    assert plan.returncode == 0 and "4 done, 0 to run" in plan.stderr, plan.stderr
    assert "older grading" not in plan.stderr  # today's files graded them

    # The upgrade and a grading edit at once: the snapshot tells which files the results ran with.
    edit(project / "tasks/minilib/checksum.yaml", expected="no such checksum")
    plan = cli(project, "run", "suite.yaml")
    assert plan.returncode == 0 and "4 done, 0 to run" in plan.stderr, plan.stderr
    assert "2 done results were graded under an older grading" in plan.stderr and "agent-eval regrade --suite" in plan.stderr
    assert results(store) == stored
    aliases = orjson.loads((store / "suites/before/plan.json").read_bytes())["aliases"]
    assert sorted(f"r0-{k[:8]}" for k in aliases.values()) == sorted(stored)  # every old run folder, by its new key

    # The run replaced the snapshot with today's files; a second edit is found through the aliases.
    edit(project / "profiles/minilib/profile.yaml", markers=[{"name": "ran", "where": "command", "pattern": ".", "description": "ran"}])
    plan = cli(project, "run", "suite.yaml", "--dry-run")
    assert "4 done, 0 to run" in plan.stderr and "4 done results were graded under an older grading" in plan.stderr, plan.stderr

    done = cli(project, "regrade", "--suite", "suite.yaml")
    assert done.returncode == 0 and done.stdout.startswith("4 results re-scored, 4 changed: 2 match flips"), done.stdout
    assert {r["grading"] for r in results(store).values()} != {None}
    plan = cli(project, "run", "suite.yaml", "--dry-run")
    assert "4 done, 0 to run" in plan.stderr and "older grading" not in plan.stderr, plan.stderr

    # What the agent is given is still its identity: a new prompt runs again.
    edit(project / "tasks/minilib/api.yaml", prompt=PROMPTS["api"] + " Please.")
    plan = cli(project, "run", "suite.yaml", "--dry-run")
    assert "2 done, 2 to run" in plan.stderr, plan.stderr


def test_a_grading_edit_plans_nothing_and_regrade_brings_results_up_to_date(project):
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"])
    first = project.cli("run", "suite.yaml")
    assert first.returncode == 0, first.stderr
    graded = {k: r["grading"] for k, r in results(project.store).items()}
    assert None not in graded.values()

    project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")), tags=["renamed"], repeats=1)
    again = project.cli("run", "suite.yaml")  # tags and repeats neither change what the agent does nor grade it
    assert "2 done, 0 to run" in again.stderr and "older grading" not in again.stderr, again.stderr

    project.task("checksum", prompt=PROMPTS["checksum"], expected="^\\d+$", match="regex")
    project.profile(description="edited words", markers=[{"name": "cli", "where": "command", "pattern": r"minilib", "description": "any call"}])
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and "2 done, 0 to run" in again.stderr, again.stderr
    assert "2 done results were graded under an older grading" in again.stderr

    done = project.cli("regrade", "--suite", "suite.yaml")
    assert done.returncode == 0, done.stderr
    after = results(project.store)
    assert all(r["grading"] != graded[k] for k, r in after.items())
    last = project.cli("run", "suite.yaml", "--dry-run")  # counted from the index, which regrade keeps up to date
    assert "older grading" not in last.stderr and "2 done, 0 to run" in last.stderr
    assert {row["grading"] for row in index.rows(project.store)} == {r["grading"] for r in after.values()}
