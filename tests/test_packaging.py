"""A real non-editable install: the wheel carries profiles/ and tasks/, and the CLI finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import uv

from conftest import CHECKOUT


def test_a_wheel_ships_the_profiles_and_tasks(tmp_path):
    uv_bin = uv.find_uv_bin()
    # Build from a copy of the checkout without build output, as from a fresh clone.
    source = tmp_path / "source"
    junk = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".venv", "agent-eval-results", "node_modules")
    shutil.copytree(CHECKOUT, source, ignore=junk)
    subprocess.run([uv_bin, "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(source)], check=True)
    wheel = next((tmp_path / "dist").glob("agent_eval-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([uv_bin, "venv", "--quiet", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    # The wheel without its heavy dependencies (the model server…): listing needs only these.
    subprocess.run([uv_bin, "pip", "install", "--quiet", "--python", python, "--no-deps", str(wheel)], check=True)
    subprocess.run([uv_bin, "pip", "install", "--quiet", "--python", python, "typer", "pydantic", "pyyaml"], check=True)

    away = tmp_path / "elsewhere"  # no profiles/ or tasks/ folder here
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = lambda *args: subprocess.run([str(venv / "bin" / "agent-eval"), *args], cwd=away, env=env, capture_output=True, text=True)  # noqa: E731
    listed = run("profiles")
    assert listed.returncode == 0, listed.stderr
    site = str(venv / "lib")
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "sqlite-utils" in lines and site in lines["sqlite-utils"] and "_shipped/profiles/sqlite-utils" in lines["sqlite-utils"]
    assert len(lines) == len([p for p in (Path(CHECKOUT) / "profiles").iterdir() if (p / "profile.yaml").is_file()])

    tasks = run("tasks", "sqlite-utils")
    assert tasks.returncode == 0, tasks.stderr
    assert "7 tasks in " in tasks.stderr and site in tasks.stderr
    assert {line.split()[0] for line in tasks.stdout.splitlines()} == {p.stem for p in (Path(CHECKOUT) / "tasks" / "sqlite-utils").glob("*.yaml")}
    assert (next(venv.glob("lib/python*/site-packages/agent_eval/_shipped/tasks/sqlite-utils")) / "shop.db").stat().st_size > 0
