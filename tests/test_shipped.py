"""The profiles and tasks agent-eval ships: each loads, and the sqlite-utils answers follow from its data."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CHECKOUT

ROOT = Path(CHECKOUT)
PROFILES = sorted(p.parent.name for p in (ROOT / "profiles").glob("*/profile.yaml"))


@pytest.mark.parametrize("name", PROFILES)
def test_every_shipped_profile_and_task_loads(name):
    from agent_eval.suite import profiles
    from agent_eval.suite.load import load_tasks

    profile = profiles.load(ROOT / "profiles" / name)
    assert profile.name == name and profile.description
    assert all(m.description for m in profile.markers)  # each marker says what it means
    tasks = load_tasks(profiles.tasks_dir(name, ROOT / "nowhere"), ["*"], ROOT)
    assert len(tasks) >= 6 and all(t.tags for t in tasks)


def test_the_sqlite_utils_inputs_are_ours_and_the_answers_follow_from_them(tmp_path):
    from agent_eval.grade import score
    from agent_eval.suite.load import load_task

    made = subprocess.run([sys.executable, str(ROOT / "scripts/make_sqlite_utils_inputs.py")], cwd=tmp_path, capture_output=True, text=True, check=True)
    answers = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    shipped, fresh = ROOT / "tasks/sqlite-utils", tmp_path / "tasks/sqlite-utils"
    for name in ("sales.csv", "people.json"):
        assert (shipped / name).read_bytes() == (fresh / name).read_bytes(), f"{name} differs from what the script makes"
    for db in ("shop.db", "notes.db"):
        dump = lambda path: list(sqlite3.connect(path).iterdump())  # noqa: E731
        assert dump(shipped / db) == dump(fresh / db)
    tasks = {p.stem: load_task(p) for p in shipped.glob("*.yaml")}
    assert {t for t, task in tasks.items() if task.expected} == set(answers)
    for task_id, answer in answers.items():
        task = tasks[task_id]
        assert score.matches(task, f"The answer is {answer}.") is True, task_id
        assert score.matches(task, "The answer is 12.") is False, task_id  # a wrong answer misses


# A right working dir for each shipped verifier task, made with the standard library only.
GOOD = {
    "sales-db": "import csv, sqlite3\ndb = sqlite3.connect('sales.db')\ndb.execute('create table sales (region text, month text, amount real)')\n"
                "db.executemany('insert into sales values (?, ?, ?)', [(r['region'], r['month'], float(r['amount'])) for r in csv.DictReader(open('sales.csv'))])\ndb.commit()\n",
    "fts-copy": "import shutil, sqlite3\nshutil.copy('notes.db', 'search.db')\ndb = sqlite3.connect('search.db')\n"
                "db.execute(\"create virtual table notes_fts using fts5(title, body, content='notes', content_rowid='id')\")\n"
                "db.execute(\"insert into notes_fts(notes_fts) values('rebuild')\")\ndb.commit()\n",
    "people-script": "open('load_people.py', 'w').write(\"import json, sqlite3\\ndb = sqlite3.connect('people.db')\\n"
                     "db.execute('create table if not exists people (name text, age integer, city text)')\\n"
                     "db.executemany('insert into people values (:name, :age, :city)', json.load(open('people.json')))\\ndb.commit()\\n\")\n",
}


@pytest.mark.parametrize("task_id", sorted(GOOD))
def test_the_sqlite_utils_verifiers_pass_a_right_working_dir_and_fail_an_empty_one(task_id, tmp_path):
    """Each verifier queries what it checks; its own copies of the inputs are the shipped ones."""
    import os
    import shutil

    from agent_eval.grade import graders
    from agent_eval.suite.load import load_task

    task = load_task(ROOT / "tasks/sqlite-utils" / f"{task_id}.yaml")
    for copy in task.verify_dir.iterdir():
        if copy.suffix != ".py":
            assert copy.read_bytes() == (ROOT / "tasks/sqlite-utils" / copy.name).read_bytes()
    outcomes = {}
    for state in ("empty", "good"):
        work = tmp_path / state
        work.mkdir()
        for name in task.files:
            shutil.copy(task.root / name, work / name)
        if state == "good":
            subprocess.run([sys.executable, "-c", GOOD[task_id]], cwd=work, check=True)
        done = subprocess.run([sys.executable, str(task.verify_dir / task.verify.script), *task.verify.args], cwd=work, capture_output=True,
                              text=True, env={**os.environ, "VERIFY_DIR": str(task.verify_dir), "WORKSPACE": str(work)}, timeout=120)
        outcomes[state] = graders.verdict(done.returncode, done.stdout, done.stderr, 0.0, True)
    assert outcomes["good"].status == "passed" and outcomes["good"].score == 1.0, outcomes["good"].output
    assert outcomes["empty"].status == "failed" and outcomes["empty"].score < 0.5 and outcomes["empty"].checks
