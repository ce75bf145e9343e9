"""Where profiles come from: folders, agent-eval's own, installed packages' entry points (broken ones too)."""

from __future__ import annotations

import os
from pathlib import Path


def fake_install(site: Path, dist: str, entry_points: str) -> None:
    """An installed distribution as importlib.metadata sees it: a dist-info folder on PYTHONPATH."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[agent_eval.profiles]\n{entry_points}\n")


def test_a_broken_entry_point_is_reported_and_breaks_nothing_else(project, tmp_path):
    site = tmp_path / "site"
    (site / "otherlib_profile" / "tasks").mkdir(parents=True)
    (site / "otherlib_profile" / "__init__.py").write_text("")
    (site / "otherlib_profile" / "profile.yaml").write_text("name: otherlib\ndescription: shipped by otherlib\nrepo: https://example.org/o.git\n")
    (site / "otherlib_profile" / "tasks" / "hello.yaml").write_text("prompt: Say hello.\nexpected: hello\ntags: [greeting]\n")
    (site / "misnamed_profile").mkdir()
    (site / "misnamed_profile" / "profile.yaml").write_text("name: realname\nrepo: https://example.org/r.git\n")
    fake_install(site, "otherlib_profile", "otherlib = otherlib_profile")
    fake_install(site, "broken_sub", "brokensub = nothere_pkg.profile")  # parent package missing
    fake_install(site, "broken_top", "brokentop = gone_module")  # top-level module missing
    fake_install(site, "misnamed", "othername = misnamed_profile")
    env = {"PYTHONPATH": f"{os.environ['PYTHONPATH']}{os.pathsep}{site}"}

    listed = project.cli("profiles", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "shipped by otherlib" in lines["otherlib"] and "a test library" in lines["minilib"]
    assert "(broken) entry point brokensub = nothere_pkg.profile: cannot import it (ModuleNotFoundError" in lines["brokensub"]
    assert "(broken) entry point brokentop = gone_module: no such module is installed" in lines["brokentop"]
    assert "its profile.yaml is named 'realname'; name the entry point 'realname'" in lines["othername"]

    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    checked = project.cli("validate", "suite.yaml", env=env)
    assert checked.returncode == 0 and checked.stderr.rstrip().endswith("ok"), checked.stderr

    # An entry point's tasks come from the tasks/ folder it ships, when the project has none of its own.
    tasks = project.cli("tasks", "otherlib", env=env)
    assert tasks.returncode == 0, tasks.stderr
    assert tasks.stdout.split()[:4] == ["hello", "greeting", "substring:", "hello"]
