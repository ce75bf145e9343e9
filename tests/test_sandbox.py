"""The sandbox, with the real pi and bubblewrap: what the agent can see and reach, and what dies with
the harness. The scripted model plays an agent that goes looking for the keys."""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from conftest import HF_CANARY, MODEL_KEY
from fake_model import Reply, Rule

from agent_eval.run import sandbox

needs_bwrap = pytest.mark.skipif(sandbox.isolation().name != "bwrap", reason=sandbox.isolation().detail)
UNREDACTED = "canary-deploy-note-3b71c4"  # in the harness's environment under a name no redaction knows
CANARIES = (MODEL_KEY, HF_CANARY, UNREDACTED)


def leaks(places: dict[str, bytes], canaries=CANARIES) -> list[str]:
    """Which canary shows up where: the check any sweep can reuse (a Jobs sweep adds its specs and logs)."""
    return [f"{canary} in {name}" for name, data in places.items() for canary in canaries if canary.encode() in data]


def only_result(project) -> tuple[dict, bytes]:
    (folder,) = [p.parent for p in project.store.glob("runs/*/*/*/*/*/result.json")]
    trace = folder / "trace.jsonl"
    return orjson.loads((folder / "result.json").read_bytes()), trace.read_bytes() if trace.is_file() else b""


def snooping(project) -> Rule:
    """What an agent after the keys would try: its env, every process's, ps, the harness's files."""
    store, root = project.store, project.root
    commands = [
        "env",
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; echo; done | grep -aiE 'key|token|secret|note' | sort -u",
        "ps -eo pid,user,args",
        f"ls {store}/runs {root} /root /work 2>&1; cat {root}/suite.yaml {store}/suites/*/plan.json 2>&1 | head -30",
        f"cat ~/.pi/agent/models.json; touch {root}/escaped 2>&1; grep CapEff /proc/self/status; echo tried",
    ]
    return Rule("Look around", [*(Reply(tool="bash", args={"command": c}) for c in commands), Reply(text="Found: {last_tool_output}")])


@needs_bwrap
@pytest.mark.parametrize("mode", ["bwrap", "off"])
def test_canary_sweep_finds_no_key_anywhere(project, fake, mode):
    # `off` is the control: the same hunt without the sandbox must find the keys, or this test proves nothing.
    fake.rules.insert(0, snooping(project))
    project.task("snoop", prompt="Look around this machine and report what you find.", expected="Found")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["snoop"], budgets={"timeout": 120})
    switch = {} if mode == "bwrap" else {sandbox.SWITCH: "off"}
    ran = project.cli("run", "suite.yaml", env={"DEPLOY_NOTE": UNREDACTED, **switch})
    assert ran.returncode == 0, ran.stderr
    result, trace = only_result(project)
    assert result["status"] == "ok" and result["tool_calls"] == {"bash": 5}
    sent = b"".join(fake.bodies)  # everything the agent sent out, tool outputs included

    if mode == "off":
        assert result["isolation"] == "none" and "isolation: NONE" in ran.stderr
        assert UNREDACTED.encode() in sent and MODEL_KEY.encode() in sent  # read from the harness's /proc/<pid>/environ
        assert b"agent_eval run suite.yaml" in trace  # ps shows the harness
        assert (project.root / "escaped").exists()
        return

    assert result["isolation"] == "bwrap" and "isolation: bwrap" in ran.stderr
    report = project.cli("report", str(project.store))
    assert report.returncode == 0, report.stderr
    places = {"what the agent sent": sent, "the store and its report": project.stored_bytes(),
              "run's output": (ran.stdout + ran.stderr).encode(), "report's output": (report.stdout + report.stderr).encode()}
    assert leaks(places) == []
    assert b"agent_eval run suite.yaml" not in sent  # the harness is not among the processes ps lists
    assert f"ls: cannot access '{project.store}/runs': No such file or directory".encode() in sent
    assert not (project.root / "escaped").exists()
    assert b"CapEff:\\t0000000000000000" in sent  # no capabilities (a root harness would otherwise hand them all on)
    assert b"apiKey" in sent and b"127.0.0.1" in sent  # what it can read: the dummy key and the proxy's URL


def processes(needle: str) -> list[int]:
    """Pids whose argv or environment holds `needle` (pi renames itself; its HOME names its cell)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            seen = (proc / "cmdline").read_bytes() + b" " + (proc / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if needle.encode() in seen.replace(b"\0", b" ") and int(proc.name) != os.getpid():
            found.append(int(proc.name))
    return found


def wait_for(check, seconds: float):
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


@needs_bwrap
def test_sigkill_of_the_harness_takes_pi_and_its_children(project, fake, tmp_path):
    command = f"sleep {random.randint(300, 399)}.{random.randint(1000, 9999)}"
    fake.rules.insert(0, Rule("Wait for the command", [Reply(tool="bash", args={"command": command}), Reply(text="done")]))
    project.task("wait", prompt="Wait for the command to finish.", expected="done")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["wait"])
    scratch = tmp_path / "scratch"  # the cell's folder lands here: the HOME of pi and its children names it
    scratch.mkdir()
    harness = subprocess.Popen(
        [sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=project.root, env=project.env(TMPDIR=str(scratch)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: processes(command), 180), "the agent's bash child never started"
        assert processes(str(scratch)), "no pi running"
        harness.kill()
        harness.wait(10)
        wait_for(lambda: not (processes(command) + processes(str(scratch))), 10)  # the kernel's kills take a moment
        left = processes(command) + processes(str(scratch))
        assert left == [], [Path(f"/proc/{p}/cmdline").read_bytes() for p in left if Path(f"/proc/{p}").exists()]
    finally:
        harness.kill()
    # Then run again: nothing half-written was left, and the cell is run, not lost.
    assert not list(project.store.glob("runs/**/result.json")) and not list(project.store.glob("runs/**/.*.partial"))
    fake.rules[0] = Rule("Wait for the command", [Reply(text="done")])
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and "0 done, 1 to run" in again.stderr, again.stderr
    assert [orjson.loads(p.read_bytes())["status"] for p in project.store.glob("runs/*/*/*/*/*/result.json")] == ["ok"]


@needs_bwrap
@pytest.mark.parametrize("where", ["host", "task", "profile", "suite"])
def test_network_none_leaves_the_proxy_only(project, fake, where):
    probe = f"python -c \"import urllib.request as u; u.urlopen('{fake.url}/models', timeout=5)\" 2>&1 | tail -1"
    fake.rules.insert(0, Rule("Probe the network", [Reply(tool="bash", args={"command": probe}), Reply(text="Probe: {last_tool_output}")]))
    project.task("probe", prompt="Probe the network.", expected="Probe", **({"network": "none"} if where == "task" else {}))
    if where == "profile":
        project.profile(network="none")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["probe"], **({"network": "none"} if where == "suite" else {}))
    ran = project.cli("run", "suite.yaml")
    assert ran.returncode == 0, ran.stderr
    result, _ = only_result(project)
    assert result["cell"]["task"]["network"] == ("host" if where in ("host", "profile") else "none")
    # Both ways pi reached the model through the proxy; only with the host's network did the agent
    # reach the model server directly (it answers GET with 501).
    assert result["status"] == "ok" and result["isolation"] == "bwrap" and result["requests"] == 2
    if where == "host":
        assert "HTTP Error 501" in result["answer"]
    else:
        assert "Connection refused" in result["answer"], result["answer"]


def test_no_sandbox_is_said_and_network_none_refused(project, fake):
    project.task("probe", prompt="Probe the network.", expected="Probe", network="none")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["probe"])
    off = {sandbox.SWITCH: "off"}
    ran = project.cli("run", "suite.yaml", env=off)
    assert ran.returncode == 1 and "error: 1 of 1 cells are not done" in ran.stderr, ran.stderr
    assert "isolation: NONE — turned off by AGENT_EVAL_SANDBOX=off" in ran.stderr
    assert "warning: environments are built with no sandbox (turned off by AGENT_EVAL_SANDBOX=off" in ran.stderr  # the build too
    result, _ = only_result(project)
    assert result["status"] == "setup_error" and result["isolation"] == "none"  # said on a setup_error too
    assert "declares network: none, which needs the sandbox" in result["errors"][0]
    assert fake.bodies == []
    doctor = project.cli("doctor", env=off)
    assert "WARNING sandbox      turned off by AGENT_EVAL_SANDBOX=off" in doctor.stdout and doctor.returncode == 0


@needs_bwrap
def test_a_sandbox_that_cannot_start_is_a_setup_error_not_the_agents(project, fake, monkeypatch):
    from agent_eval.run import local, plan

    broken = sandbox._system() + ["--ro-bind", "/no/such/agent-eval/path", "/opt/x"]
    monkeypatch.setattr(sandbox, "_system", lambda: broken)
    monkeypatch.setenv("FAKE_MODEL_KEY", MODEL_KEY)
    suite = project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    outcome = local.run(plan.make(suite), 1)
    assert outcome["setup_error"] == 1
    result, _ = only_result(project)
    assert result["status"] == "setup_error" and fake.bodies == []
    assert result["errors"] == ["the sandbox could not start: bwrap: Can't find source path /no/such/agent-eval/path: No such file or directory"]


@needs_bwrap
def test_every_cell_works_in_one_fixed_folder_so_the_prompt_prefix_repeats(project, fake):
    """pi's system prompt names the working dir; a scratch path of its own per cell would make every
    cell's first request differ early on, and a prefix cache reuse little of it."""
    fake.rules.insert(0, Rule("Where am I", [Reply(tool="bash", args={"command": "pwd; echo $HOME"}), Reply(text="At: {last_tool_output}")]))
    for name in ("where-a", "where-b"):
        project.task(name, prompt="Where am I?", expected="At")
    project.suite(revisions=["main"], tiers=["skill"], tasks=["where-a", "where-b"])
    ran = project.cli("run", "suite.yaml")
    assert ran.returncode == 0, ran.stderr
    firsts = [orjson.loads(body) for body in fake.bodies if len(orjson.loads(body)["messages"]) == 2]
    systems = {m["content"] if isinstance(m["content"], str) else orjson.dumps(m["content"]).decode()
               for body in firsts for m in body["messages"] if m["role"] == "system"}
    assert len(firsts) == 2 and len(systems) == 1, systems
    assert f"{sandbox.CELL}/work" in systems.pop()
    answers = sorted(orjson.loads(p.read_bytes())["answer"] for p in project.store.glob("runs/**/result.json"))
    assert answers == [f"At: {sandbox.CELL}/work\n{sandbox.CELL}/home"] * 2, answers


@needs_bwrap
def test_path_entries_the_sandbox_cannot_see_are_left_out_and_said(project, fake, tmp_path):
    tools = tmp_path / "my-tools"
    tools.mkdir()
    (tools / "mytool").write_text("#!/bin/sh\necho mine\n")
    (tools / "mytool").chmod(0o755)
    fake.rules.insert(0, Rule("Which tools", [Reply(tool="bash", args={"command": "echo $PATH; command -v wc"}), Reply(text="Tools: {last_tool_output}")]))
    project.task("tools", prompt="Which tools?", expected="Tools")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["tools"])
    ran = project.cli("run", "suite.yaml", env={"PATH": f"{tools}:{os.environ['PATH']}"})
    assert ran.returncode == 0, ran.stderr
    assert f"PATH entries the sandboxed agent will not have (not in its mount view): {tools}" in ran.stderr
    result, _ = only_result(project)
    assert str(tools) not in result["answer"] and "/usr/bin/wc" in result["answer"], result["answer"]


@pytest.mark.parametrize("mode", ["bwrap", "off"])
def test_a_revisions_build_does_not_see_the_home(bare_project, tmp_path, monkeypatch, mode):
    """A revision's setup.py runs in the sandbox: the home (~/.ssh) and the store are not there. `off` is the control."""
    from conftest import spy_package, spy_saw

    from agent_eval.run import envs
    from agent_eval.suite import profiles, repo

    if mode == "bwrap" and sandbox.isolation().name != "bwrap":
        pytest.skip(sandbox.isolation().detail)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- canary-ssh-7d1e")
    monkeypatch.setenv("HOME", str(home))
    if mode == "off":
        monkeypatch.setenv(sandbox.SWITCH, "off")
    monkeypatch.setattr(sandbox, "isolation", functools.cache(sandbox.isolation.__wrapped__))  # this test's switch only
    stored = bare_project.store / "runs" / "canary.txt"  # the store is out of sight too
    stored.parent.mkdir(parents=True)
    stored.write_text("canary-ssh-7d1e in the store")
    spy = spy_package(tmp_path / "spy", looks_at=[Path("~/.ssh/id_rsa"), home / ".ssh" / "id_rsa", stored])
    bare_project.profile(install={"packages": [str(spy)]})
    profile = profiles.load(bare_project.root / "profiles" / "minilib")
    url = profiles.repo_url(profile)
    repo.fetch(url)
    seen = spy_saw(envs.environment(profile, url, repo.resolve(url, "v0.2")).path, spy)
    if mode == "bwrap":
        assert all(text.startswith("unreadable") for text in seen["files"].values()), seen["files"]
        assert seen["environ"]["HOME"] != str(home)
    else:
        assert all("canary-ssh-7d1e" in text for text in seen["files"].values()), seen["files"]
