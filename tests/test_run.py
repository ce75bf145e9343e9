"""End to end: `agent-eval run` with the real pi, a scripted model and a real git history."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time

import orjson
import pytest

from conftest import HF_CANARY, MODEL_KEY
from test_sandbox import processes


def stored(project) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")]


def results(project) -> dict[tuple, dict]:
    """Results of a one-model suite by (revision name, tier, task)."""
    return {(r["cell"]["revision"]["name"], r["cell"]["tier"], r["cell"]["task"]["id"]): r for r in stored(project)}


def test_suite_runs_every_tier_scores_and_resumes(project, fake):
    project.suite()
    first = project.cli("run", "suite.yaml", "--jobs", "2")
    assert first.returncode == 0, first.stderr
    assert "14 to run" in first.stderr
    assert "not applicable: tier skill at API only: no Skill at skills/minilib" in first.stderr

    found = results(project)
    assert len(found) == 14  # 3 revisions × 2 tasks × (bare, clone) + skill at the one revision that has it
    assert all(r["status"] == "ok" for r in found.values())
    # The CLI appeared in v0.2: before it, the agent's command fails and the answer misses.
    for tier in ("bare", "clone"):
        assert found["API only", tier, "checksum"]["matched"] is False
        assert found["CLI", tier, "checksum"]["matched"] is True
        assert found["API only", tier, "api"]["matched"] is True
    miss = found["API only", "bare", "checksum"]
    assert miss["steps"] == [{"tool": "bash", "input": "minilib checksum agent", "error": True}]
    assert any("command not found" in e for e in miss["errors"])

    skill = found["Skill", "skill", "checksum"]
    assert skill["matched"] is True and skill["tool_calls"] == {"read": 1, "bash": 1}
    assert {m["name"] for m in skill["markers"]} == {"cli", "skill-read"}
    api = found["CLI", "bare", "api"]
    assert [m["name"] for m in api["markers"]] == ["python-api"]  # and neither cli nor skill-read
    assert api["markers"][0]["excerpt"].startswith("python -c")

    # Tokens: the proxy's sums equal what the scripted server reported, and pi agrees here.
    assert sum(r["tokens"]["generated"] for r in found.values()) == fake.usage_total("completion_tokens")
    assert sum(r["tokens"]["new"] + r["tokens"]["cached"] for r in found.values()) == fake.usage_total("prompt_tokens")
    assert sum(r["tokens"]["cached"] for r in found.values()) == 1024 * 14
    assert all(r["tokens"] == r["tokens_trace"] for r in found.values())
    assert skill["turns"] == 3 and skill["requests"] == 3

    for run_dir in project.store.glob("runs/*/*/*/*/*"):
        assert {p.name for p in run_dir.iterdir()} == {"cell.json", "result.json", "trace.jsonl", "proxy.jsonl", "agent.log"}
        assert orjson.loads((run_dir / "trace.jsonl").read_bytes().split(b"\n")[0])["type"] == "session"
    assert (project.store / "suites/test/snapshot/profile/profile.yaml").is_file()
    assert (project.store / "suites/test/snapshot/tasks/checksum.yaml").is_file()

    stored = project.stored_bytes()
    assert MODEL_KEY.encode() not in stored and HF_CANARY.encode() not in stored

    asked = len(fake.requests)
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and "14 done, 0 to run" in again.stderr
    assert len(fake.requests) == asked  # resume ran nothing

    before = {p: p.read_bytes() for p in project.store.glob("runs/*/*/*/*/*/result.json")}
    rerun = project.cli("run", "suite.yaml", "--rerun", "--jobs", "2")
    assert rerun.returncode == 0 and "0 done, 14 to run" in rerun.stderr
    assert "14 cells: 14 ok" in rerun.stderr and "run by another sweep" not in rerun.stderr, rerun.stderr
    assert len(fake.requests) == 2 * asked  # every cell asked the model again
    assert len(results(project)) == 14  # same run folders, each with its new result
    for path, old in before.items():
        assert path.read_bytes() != old and (path.parent / "superseded" / "1" / "result.json").read_bytes() == old
    listed = project.cli("results", "--format", "json")
    assert len(orjson.loads(listed.stdout)) == 14  # the superseded runs are kept, not counted


def test_dry_run_lists_cells_and_runs_nothing(project, fake):
    project.suite(tiers=["bare"], tasks=["checksum"])
    shown = project.cli("run", "suite.yaml", "--dry-run")
    assert shown.returncode == 0
    assert "3 cells; 0 done, 3 to run" in shown.stderr
    assert shown.stdout.count("  run   Fake · ") == 3
    assert fake.requests == [] and not (project.store / "runs").exists()
    # budgets.timeout is 60 s: three cells at their timeout, three at once
    shown = project.cli("run", "suite.yaml", "--dry-run", "--jobs", "3")
    assert "estimate: about 60 s with 3 at once (nothing stored to go by: every cell at its timeout); at most 60 s" in shown.stderr


def test_the_estimate_goes_by_stored_runs_and_progress_shows_an_eta(project, fake):
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"], repeats=2)
    ran = project.cli("run", "suite.yaml", "--jobs", "1")
    assert ran.returncode == 0, ran.stderr
    assert "[1/2 · eta " in ran.stderr and "[2/2] ok" in ran.stderr, ran.stderr
    walls = sorted(orjson.loads(p.read_bytes())["wall_seconds"] for p in project.store.glob("runs/**/result.json"))
    project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"], repeats=2)
    shown = project.cli("run", "suite.yaml", "--dry-run", "--jobs", "1")
    assert "2 done, 2 to run" in shown.stderr
    found = re.search(r"estimate: about (\d+) s with 1 at once \(from stored runs for 2 of 2 cells, the others at their timeout\); at most 2 min", shown.stderr)
    assert found and 2 * walls[0] - 1 <= int(found[1]) <= 2 * walls[-1] + 1, (shown.stderr, walls)  # the median of the stored walls, twice


def test_failures_get_the_right_status(project, fake):
    for name, prompt in {"retry": "RETRY please", "bad": "BADREQUEST please", "silent": "SILENT please",
                         "loop": "LOOP please", "slow": "SLOW please"}.items():
        project.task(name, prompt=prompt, expected="x")
    project.task("slow", prompt="SLOW please", expected="x", timeout=3)
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["retry", "bad", "silent", "loop", "slow"],
                  budgets={"timeout": 60, "max_turns": 4})
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    found = {task: r for (_, _, task), r in results(project).items()}

    # A 503 the OpenAI SDK retried silently: pi's trace shows one call, the proxy two requests.
    assert found["retry"]["status"] == "ok" and found["retry"]["answer"] == "recovered"
    assert found["retry"]["requests"] == 2 and found["retry"]["turns"] == 1
    assert found["bad"]["status"] == "agent_error"
    assert any("400" in e for e in found["bad"]["errors"])
    assert found["silent"]["status"] == "silent_failure" and found["silent"]["matched"] is False
    assert found["loop"]["status"] == "timeout" and found["loop"]["ended_by"] == "max_turns"
    assert found["loop"]["tool_calls"] == {"bash": 4}
    assert found["slow"]["status"] == "timeout" and found["slow"]["ended_by"] == "wall_clock"
    assert 3 <= found["slow"]["agent_seconds"] < 10


def test_tool_call_budget(project, fake):
    project.task("loop", prompt="LOOP please", expected="x")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["loop"], budgets={"timeout": 60, "max_tool_calls": 2})
    assert project.cli("run", "suite.yaml").returncode == 0
    (result,) = results(project).values()
    assert result["status"] == "timeout" and result["ended_by"] == "max_tool_calls"
    assert sum(result["tool_calls"].values()) <= 3


def test_hub_models_go_through_the_proxy_with_the_token(project, fake):
    # pi's built-in huggingface provider, rerouted: the proxy adds HF_TOKEN, pi never sees it.
    fake.api_key = HF_CANARY
    project.suite(models=["moonshotai/Kimi-K2.5", "no-such-org/no-such-model"], revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    done = project.cli("run", "suite.yaml", env={"AGENT_EVAL_HF_ROUTER": fake.url})
    assert done.returncode == 1 and "error: 1 of 2 cells are not done" in done.stderr, done.stderr  # the unknown model's
    by_model = {r["cell"]["model"]["id"]: r for r in stored(project)}
    assert by_model["moonshotai/Kimi-K2.5"]["status"] == "ok" and by_model["moonshotai/Kimi-K2.5"]["matched"] is True
    unknown = by_model["no-such-org/no-such-model"]
    assert unknown["status"] == "setup_error" and "fell back" in unknown["errors"][0]
    assert HF_CANARY.encode() not in project.stored_bytes()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_an_interrupted_run_stores_nothing_for_running_cells_and_the_next_run_finishes_them(project, fake, stop):
    fake.extra_delay = 20.0  # every model call hangs long enough to interrupt
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    proc = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=project.root, env=project.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not fake.attempts and time.time() < deadline:
        time.sleep(0.1)
    assert fake.attempts, "pi never reached the model"
    (cell,) = [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/cell.json")]
    assert processes(f"agent-eval-{cell['key'][:8]}-"), "the cell's pi is not found while it runs"
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "1 interrupted" in err
    assert not list(project.store.glob("runs/**/result.json"))
    assert processes(f"agent-eval-{cell['key'][:8]}-") == []  # no pi (nor its children) of this cell left: its HOME names it

    fake.extra_delay = 0.0
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and "0 done, 1 to run" in again.stderr
    (result,) = results(project).values()
    assert result["status"] == "ok" and result["matched"] is True


def test_worker_runs_one_cell_from_its_cell_json(project, fake):
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    (cell_json,) = project.store.glob("runs/*/*/*/*/*/cell.json")
    first = orjson.loads((cell_json.parent / "result.json").read_bytes())
    (cell_json.parent / "result.json").unlink()
    copy = project.root / "cell.json"
    copy.write_bytes(cell_json.read_bytes())

    done = project.cli("worker", str(copy), "--store", str(project.store))
    assert done.returncode == 0, done.stderr
    second = orjson.loads((cell_json.parent / "result.json").read_bytes())
    assert second["cell"] == first["cell"] and second["status"] == "ok" and second["matched"] is True

    # Whatever breaks in a worker (here: its suite's snapshot is gone) is stored as the cell's
    # setup_error with the cause, and the exit status says so: a Job running it ends in ERROR.
    shutil.rmtree(project.store / "suites")
    broken = project.cli("worker", str(copy), "--store", str(project.store))
    assert broken.returncode == 3 and "Traceback" not in broken.stderr, broken.stderr
    third = orjson.loads((cell_json.parent / "result.json").read_bytes())
    assert third["status"] == "setup_error" and "profile.yaml" in third["errors"][0] and "file not found" in third["errors"][0]
