"""Environments a comparison can trust: keyed by the content of local packages, resolved as of the
suite's time, recorded with every result; and a suite with none of these keeps its run keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import yaml

import minilib
from fake_model import Reply, Rule

# The run keys of one fixed suite (a profile with no local package), as planned before environments
# were keyed by content: an upgrade must not re-run a suite whose requirements hold no local path.
GOLDEN_KEYS = [
    "65d0bdb09ccb2dd478465cb0ecd205f805c6c42a4b853c0577941d2358a01223", "87ac8ceba9821bb7df16cb7c19ef2c864dd631cb20528f371eb13dc8361af00b",
    "b456f42b111e83f5b1dc27cf8835657aba42e6016132a944542de3bc43e6dce4", "e8abeb4f32ef81e9edd39a8b0b641b0ddba348cc13235c8df4f640920daf2535",
]


def fixed_project(root: Path, minilib_repo: Path, **install) -> Path:
    """A suite whose every input is the same on every machine: the repository is named relatively."""
    shutil.copytree(minilib_repo, root / "minilib-repo")
    profile = {"name": "minilib", "repo": "../../minilib-repo", "install": install} if install else {"name": "minilib", "repo": "../../minilib-repo"}
    (root / "profiles" / "minilib").mkdir(parents=True)
    (root / "profiles" / "minilib" / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    (root / "tasks" / "minilib").mkdir(parents=True)
    (root / "tasks" / "minilib" / "checksum.yaml").write_text(yaml.safe_dump({"prompt": "Checksum of 'agent'?", "expected": str(minilib.checksum("agent"))}))
    suite = {"name": "fixed", "profile": "minilib", "models": [{"id": "m", "base_url": "http://127.0.0.1:9/v1"}],
             "revisions": ["v0.1", "v0.2"], "tiers": ["bare", "clone"]}
    (root / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return root / "suite.yaml"


def test_a_suite_without_local_packages_keeps_its_run_keys(tmp_path, minilib_repo):
    from agent_eval.run import plan

    made = plan.make(fixed_project(tmp_path, minilib_repo))
    assert sorted(c.key for c in made.todo) == GOLDEN_KEYS


def helper_package(folder: Path, value: int) -> Path:
    """A local package beside the library, as a profile might install a wrapper or a plugin."""
    (folder / "helper_pkg").mkdir(parents=True, exist_ok=True)
    (folder / "helper_pkg" / "__init__.py").write_text(f"VALUE = {value}\n")
    (folder / "setup.py").write_text("from setuptools import setup\nsetup(name='helper-pkg', version='0.1', packages=['helper_pkg'])\n")
    return folder


def test_an_edited_local_package_gives_a_new_environment_and_new_runs(project, fake):
    fake.rules.insert(0, Rule("HELPER", [Reply(tool="bash", args={"command": "python -c 'import helper_pkg; print(helper_pkg.VALUE)'"}),
                                          Reply(text="VALUE is {last_tool_output}")]))
    helper = helper_package(project.root / "helper", 1)
    project.profile(install={"packages": ["../../helper"]})  # the profile folder's path, outside the profile
    project.task("value", prompt="HELPER: what is helper_pkg.VALUE?")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["value"])
    first = project.cli("run", "suite.yaml")
    assert first.returncode == 0, first.stderr
    assert [r["answer"] for r in answers(project)] == ["VALUE is 1"]

    (helper / "build").mkdir()  # a build output and bytecode are not edits
    (helper / "helper_pkg" / "__pycache__").mkdir()
    (helper / "helper_pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert "1 done, 0 to run" in project.cli("run", "suite.yaml", "--dry-run").stderr

    helper_package(helper, 2)
    dry = project.cli("run", "suite.yaml", "--dry-run")
    assert "0 done, 1 to run" in dry.stderr and "local package ../../helper changed since the last run" in dry.stderr, dry.stderr
    second = project.cli("run", "suite.yaml")
    assert second.returncode == 0, second.stderr
    assert sorted(r["answer"] for r in answers(project)) == ["VALUE is 1", "VALUE is 2"]  # the old run stays, the new one saw the edit


def answers(project) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")]


def test_a_git_folder_is_keyed_by_head_and_uncommitted_changes(tmp_path):
    from agent_eval.suite import local

    folder = helper_package(tmp_path / "helper", 1)
    plain = local.digest(folder)
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / ".gitignore").write_text("build/\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    committed = local.digest(folder)
    assert committed != plain
    (folder / "build").mkdir()
    (folder / "build" / "x").write_text("ignored by git")
    assert local.digest(folder) == committed
    (folder / "helper_pkg" / "__init__.py").write_text("VALUE = 2\n")
    edited = local.digest(folder)
    assert edited != committed
    (folder / "helper_pkg" / "new.py").write_text("")  # untracked, not ignored: part of the package
    untracked = local.digest(folder)
    assert untracked != edited
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    assert local.digest(folder) != committed


def test_environments_are_recorded_and_compare_flags_a_dependency_that_differs(project):
    helper = helper_package(project.root / "helper", 1)
    project.profile(install={"packages": ["../../helper"]})
    project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    records = {r["cell"]["revision"]["ref"]: r["environment"] for r in answers(project)}
    texts = {ref: (project.store / "envs" / f"{digest}.txt").read_text() for ref, digest in records.items()}
    assert len(set(records.values())) == 2 and len(list((project.store / "envs").iterdir())) == 2  # once per environment
    assert texts["v0.1"].startswith("python 3.") and "\nlibrary minilib 0.1 at " in texts["v0.1"] and "\nminilib==0.1\n" in texts["v0.1"]
    assert "\nhelper-pkg==0.1  # local ../../helper " in texts["v0.1"]
    same = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert same.returncode == 0 and "environment" not in same.stdout, same.stdout  # only the library differs

    (helper / "setup.py").write_text((helper / "setup.py").read_text().replace("version='0.1'", "version='0.2'"))
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])  # head alone, built later, with the helper moved on
    assert project.cli("run", "suite.yaml").returncode == 0
    flagged = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert "note: head's environment: helper-pkg 0.1 (" in flagged.stdout and "— this comparison mixes that change with the library's" in flagged.stdout, flagged.stdout
    comment = project.cli("compare", "--base", "v0.1", "--head", "v0.2", "--format", "markdown").stdout
    assert "> ⚠️ head's environment: helper-pkg 0.1 (" in comment
    shown = project.cli("explain", "--task", "checksum")
    assert shown.returncode == 0 and "besides the library, vs" in shown.stdout and "helper-pkg" in shown.stdout, shown.stdout

    for path in project.store.glob("runs/*/*/*/*/*/result.json"):  # as a store from before records: none
        path.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(path.read_bytes()).items() if k != "environment"}))
    assert project.cli("reindex").returncode == 0
    old = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert old.returncode == 0 and "environment" not in old.stdout, old.stdout
    assert "environment not recorded" in project.cli("explain", "--task", "checksum").stdout
