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
    assert set(tasks) == set(answers)
    for task_id, answer in answers.items():
        task = tasks[task_id]
        assert score.matches(task, f"The answer is {answer}.") is True, task_id
        assert score.matches(task, "The answer is 12.") is False, task_id  # a wrong answer misses
