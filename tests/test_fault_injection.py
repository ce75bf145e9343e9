"""Faults lose no cell and double none: a scripted model that fails in the ways providers fail, pi
killed mid-cell, and two sweeps on one store at once — with the real pi, on loopback.

"Lost": a planned cell with no result that the next run would not run again. "Doubled": a cell run
twice (more first-turn model calls than runs), or two results for one cell."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

import minilib
from conftest import MODEL_KEY, PROMPTS, Project
from fake_model import FakeModel, Reply, Rule

CHECKSUM = minilib.checksum("agent")
CLI = Reply(text="Let me run it.", tool="bash", args={"command": "minilib checksum agent"})
ANSWER = Reply(text="The checksum is {last_tool_output}.")
FAULTS = {  # task -> the replies of its scripted model
    "recovers": [Reply(status=503, fail_times=3, text=f"The checksum is {CHECKSUM}.")],  # 503s for a while, then fine
    "storm": [Reply(status=429, fail_times=9, text=f"The checksum is {CHECKSUM}.")],  # a rate-limit storm longer than pi's retries
    "hangs": [Reply(text="too late", delay=60)],  # a model that never answers in time
    "garbled": [Reply(text="The checksum is 1626", garbage=True)],  # malformed SSE
    "healthy": [CLI, ANSWER],
    "slow": [CLI, Reply(text="The checksum is {last_tool_output}.", delay=8)],  # long enough to kill pi in
}


@pytest.fixture
def sweep(tmp_path, minilib_repo, pi_ready):
    server = FakeModel([Rule(f"[{task}]", replies) for task, replies in FAULTS.items()], api_key=MODEL_KEY)
    project = Project(tmp_path, minilib_repo, server.url)
    project.profile()
    for task in FAULTS:
        project.task(task, prompt=f"[{task}] {PROMPTS['checksum']}", expected=str(CHECKSUM), timeout=40 if task != "hangs" else 4)
    yield project, server
    server.close()


def results(project: Project) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for path in project.store.glob("runs/*/*/*/*/*/result.json"):
        found.setdefault(orjson.loads(path.read_bytes())["cell"]["task"]["id"], []).append(orjson.loads(path.read_bytes()))
    return found


def descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc (pi runs in a session of its own, not in our group)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def first_turns(server: FakeModel) -> Counter:
    """Model calls at turn 0 that got an answer, per task: one per run of a cell."""
    rules = list(FAULTS)
    return Counter(rules[int(r["note"].split()[1])] for r in server.requests if r["status"] == 200 and r["note"].endswith(" turn 0"))


def test_provider_faults_are_stored_once_and_infrastructure_is_retried(sweep):
    project, server = sweep
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["recovers", "storm", "hangs", "garbled", "healthy"])
    done = project.cli("run", "suite.yaml", "--jobs", "3", timeout=400)
    assert done.returncode == 1 and "error: 3 of 5 cells are not done" in done.stderr.splitlines()[-1], done.stderr
    found = results(project)
    status = {task: [r["status"] for r in runs] for task, runs in found.items()}
    # A model that never answers is the provider's failure, retried: not the agent's timeout.
    assert status == {"recovers": ["ok"], "storm": ["infra_error"], "hangs": ["infra_error"], "garbled": ["infra_error"], "healthy": ["ok"]}
    assert any(e.startswith("the provider sent nothing for ") for e in found["hangs"][0]["errors"]), found["hangs"][0]["errors"]
    assert found["hangs"][0]["tokens"] is None  # what the unanswered request cost is unknown, never 0
    assert found["recovers"][0]["requests"] == 4 and found["recovers"][0]["matched"] is True  # pi's retries, metered
    assert all(n == 1 for n in first_turns(server).values())  # no cell ran twice
    plan = project.cli("run", "suite.yaml", "--dry-run")
    assert "2 done, 3 to run" in plan.stderr  # the infrastructure failures are not lost: the next run retries them
    again = [line for line in plan.stdout.splitlines() if line.startswith("  run   ")]
    assert len(again) == 3 and all(any(f"· {task} ·" in line for line in again) for task in ("garbled", "storm", "hangs"))


def test_pi_killed_mid_cell_is_an_infrastructure_failure_and_runs_again(sweep):
    project, server = sweep
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["slow"])
    run = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=project.root, env=project.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while first_turns(server)["slow"] == 0 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # pi is now waiting for the slow second reply
    pis = [pid for pid in descendants(run.pid) if Path(f"/proc/{pid}/comm").read_text().strip() in ("pi", "node")]
    assert pis, f"pi was not running: {[Path(f'/proc/{pid}/cmdline').read_bytes()[:80] for pid in descendants(run.pid)]}"
    for pid in pis:
        os.kill(pid, signal.SIGKILL)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1 and "error: 1 of 1 cells are not done" in err, err
    (result,) = results(project)["slow"]
    assert result["status"] == "infra_error" and any("killed by signal 9" in e for e in result["errors"]), result
    again = project.cli("run", "suite.yaml", timeout=200)
    assert "0 done, 1 to run" in again.stderr and again.returncode == 0
    assert [r["status"] for r in results(project)["slow"]] == ["ok"]


def test_two_sweeps_on_one_store_never_run_a_cell_twice(sweep):
    project, server = sweep
    project.suite(revisions=["v0.1", "v0.2", "v0.3"], tiers=["bare", "clone"], tasks=["healthy"], repeats=2)  # 12 cells
    sweeps = [subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml", "--jobs", "2"], cwd=project.root,
                               env=project.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    outputs = [s.communicate(timeout=600)[1] for s in sweeps]
    assert [s.returncode for s in sweeps] == [0, 0], outputs
    stored = results(project)["healthy"]
    assert len(stored) == 12 and len({r["cell"]["key"] for r in stored}) == 12  # none lost, none stored twice
    assert first_turns(server)["healthy"] == 12  # and none run twice: one first model call per cell
    ran = [int(re.search(r"cells: (\d+) ok", out).group(1)) if re.search(r"cells: (\d+) ok", out) else 0 for out in outputs]
    left = [int(m.group(1)) if (m := re.search(r"(\d+) run by another sweep", out)) else 0 for out in outputs]
    planned = [int(re.search(r"(\d+) cells: ", out).group(1)) for out in outputs]
    assert sum(ran) == 12 and [r + k for r, k in zip(ran, left)] == planned, outputs  # each cell ran in exactly one sweep
    assert not list(project.store.glob("runs/**/.*.partial")) and not list(project.store.glob(".claims/*.lock"))


def test_a_full_disk_costs_cells_never_a_half_written_result(sweep):
    project, server = sweep
    project.suite(revisions=["v0.1", "v0.2", "v0.3"], tiers=["bare"], tasks=["healthy"])
    # The store on a tiny tmpfs, in a mount namespace of our own: the first sweep fills it up; then
    # the disk "grows" and a second sweep must finish what the first could not store.
    check = (f"{sys.executable} -c \"import glob, json, sys; paths = glob.glob(sys.argv[1] + '/runs/*/*/*/*/*/result.json'); "
             "[json.load(open(p)) for p in paths]; print('RESULTS', len(paths), len(glob.glob(sys.argv[1] + '/runs/**/.*partial', recursive=True)))\"")
    script = f"""set -u
mkdir -p "{project.store}" && mount -t tmpfs -o size=48k tmpfs "{project.store}"
"$@" > first.out 2>&1; echo "FIRST $?"
{check} "{project.store}"
mount -o remount,size=16m "{project.store}"
"$@" > second.out 2>&1; echo "SECOND $?"
{check} "{project.store}"
"""
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", sys.executable, "-m", "agent_eval", "run", "suite.yaml"],
                          cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=600)
    first, second = (project.root / "first.out").read_text(), (project.root / "second.out").read_text()
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert "Traceback" not in first + second, first + second
    counts = [tuple(map(int, line.split()[1:])) for line in done.stdout.splitlines() if line.startswith("RESULTS")]
    (kept, partial), (total, partial_after) = counts
    assert partial == partial_after == 0  # never a half-written result.json
    assert kept < 3 and f"{3 - kept} not stored" in first and "No space left on device" in first, first
    assert lines["FIRST"] == "1" and first.splitlines()[-1].startswith(f"error: {3 - kept} of 3 cells are not done"), first
    assert total == 3 and lines["SECOND"] == "0", second  # nothing lost: the next run stored every cell


def test_a_killed_harness_leaves_scratch_folders_the_next_run_removes(sweep, tmp_path):
    project, server = sweep
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["slow"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = project.env(TMPDIR=str(scratch))
    run = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=project.root, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while first_turns(server)["slow"] == 0 and time.time() < deadline:
        time.sleep(0.1)
    left = sorted(p.name for p in scratch.glob("agent-eval-*"))
    assert left, "the cell's scratch folder exists while pi runs"
    run.kill()  # SIGKILL: the harness cleans up nothing
    run.wait(timeout=30)
    time.sleep(1.0)  # pi dies with it (PDEATHSIG); the folders stay
    assert sorted(p.name for p in scratch.glob("agent-eval-*")) == left
    assert any((scratch / name / "session.jsonl").exists() for name in left)  # the agent's raw session, left behind

    live = subprocess.Popen([sys.executable, "-c", "from agent_eval.run import scratch; import sys, time; "
                             "print(scratch.make('live'), flush=True); time.sleep(60)"],
                            env=env, stdout=subprocess.PIPE, text=True)
    mine = Path(live.stdout.readline().strip())  # a folder whose owner is alive
    fixed = project.cli("doctor", "--fix", env=env)
    assert f"removed {len(left)} scratch folder(s) left by killed runs" in fixed.stderr, fixed.stderr
    assert [p for p in scratch.glob("agent-eval-*")] == [mine]  # the dead run's gone, the live one's kept
    live.kill()
    live.wait()
