"""The run's last line: what the suite's own comparison found, with the real pi and the scripted
model on minilib's history (v0.1 has no CLI, so its checksum tasks miss; v0.2 has it)."""

from __future__ import annotations

import minilib
from conftest import PROMPTS


def checksum_tasks(project, n: int) -> None:
    for old in (project.root / "tasks" / "minilib").glob("*.yaml"):  # the fixture's two
        old.unlink()
    for i in range(n):
        project.task(f"checksum{i}", prompt=f"{PROMPTS['checksum']} (case {i})", expected=str(minilib.checksum("agent")))


REVISIONS = [{"ref": "v0.1", "name": "API only"}, {"ref": "v0.2", "name": "CLI"}]


def test_a_suite_of_two_sides_ends_with_what_its_comparison_found(project):
    checksum_tasks(project, 5)
    project.suite(revisions=REVISIONS, tiers=["bare"])
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("test: CLI vs API only over 5 tasks, match +100.0 pts [+100.0, +100.0]"), last
    assert "— better: match." in last and "More: agent-eval compare --base 'API only' --head CLI (every metric)" in last
    compared = project.cli("compare", "--base", "API only", "--head", "CLI")
    assert "+100.0 pts [+100.0, +100.0]" in compared.stdout  # the same numbers compare prints
    again = project.cli("run", "suite.yaml")  # nothing to run: the same sentence
    assert again.returncode == 0 and again.stderr.strip().splitlines()[-1] == last


def test_only_the_suites_own_cells_count_and_a_suite_of_no_pair_says_nothing_more(project):
    checksum_tasks(project, 5)
    other = project.suite("other", revisions=REVISIONS, tiers=["bare"], tasks=["checksum0", "checksum1"])
    other.write_text(other.read_text().replace("name: test", "name: other"))
    assert project.cli("run", "other.yaml", "--jobs", "2").returncode == 0  # another suite's runs in the same store
    project.suite(revisions=REVISIONS, tiers=["bare"], tasks=["checksum2", "checksum3", "checksum4"])
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert "test: CLI vs API only over 3 tasks" in done.stderr.strip().splitlines()[-1]
    project.suite(revisions=REVISIONS, tiers=["bare", "clone"], tasks=["checksum2"])  # two axes of two: no one pair
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert done.returncode == 0 and " vs " not in done.stderr.strip().splitlines()[-1]
