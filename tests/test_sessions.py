"""Sessions: several tasks one after another in one pi session, each scored on its own with its
marginal cost — end to end with the real pi and the scripted model, which sees every message."""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter

import orjson
import pytest

import minilib
from agent_eval.read import compare, sessions
from agent_eval.suite import orders
from agent_eval.run import plan, worker
from agent_eval.suite.config import Sessions
from conftest import MODEL_KEY, PROMPTS
from fake_model import Reply, Rule
from test_jobs import BUCKET, hub_model, jobs_cli, make_project  # noqa: F401 (hub_model: a fixture)

RESULTS = "runs/*/*/*/*/*/result.json"


def stored(project) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in project.store.glob(RESULTS)]


def by_position(project) -> dict[int, dict]:
    return {r["session_position"]: r for r in stored(project)}


@pytest.fixture
def three(project):
    """The checksum and api tasks plus a third: a session of three, one order, the bare tier at v0.3."""
    project.task("explore", prompt=PROMPTS["explore"])
    project.suite(revisions=["v0.3"], tiers=["bare"], tasks=["checksum", "api", "explore"], sessions={"tasks": 3})
    return project


# --- orders and the plan, no pi --------------------------------------------------------------


def test_rotations_put_every_task_at_every_position_once():
    for size in range(2, 9):
        tasks = [f"t{i}" for i in range(size)]
        (drawn,) = orders.draw(tasks, Sessions(tasks=size, orders=size, seed=7))
        assert all(sorted(order) == tasks for order in drawn)
        for position in range(size):  # a Latin square: each column holds every task once
            assert sorted(order[position] for order in drawn) == tasks
    half = orders.draw([f"t{i}" for i in range(10)], Sessions(tasks=4, orders=2))
    assert [len(g) for g in half] == [2, 2, 2] and [len(o) for g in half for o in g] == [4, 4, 4, 4, 2, 2]
    assert all(g[0][0] != g[1][0] for g in half)  # two orders of a group never start with the same task
    assert orders.draw(list("abcdef"), Sessions(tasks=3, orders=2, seed=1)) == orders.draw(list("abcdef"), Sessions(tasks=3, orders=2, seed=1))
    firsts = Counter(orders.draw(list("abcd"), Sessions(tasks=4, seed=s))[0][0][0] for s in range(400))
    assert set(firsts) == set("abcd") and min(firsts.values()) > 60  # the seed, not the listing, decides who goes first


def test_one_shot_plans_are_untouched_and_sessions_are_units(three, monkeypatch):
    monkeypatch.setenv("FAKE_MODEL_KEY", MODEL_KEY)
    one_shot = three.suite("oneshot", revisions=["v0.3"], tiers=["bare"], tasks=["checksum", "api", "explore"])
    alone = plan.make(one_shot)
    assert all(c.session is None for c in alone.todo) and len(alone.units()) == 3
    made = plan.make(three.root / "suite.yaml")
    (unit,) = made.units()
    assert [c.session.position for c in unit] == [1, 2, 3] and len({c.session.id for c in unit}) == 1
    assert [c.task.id for c in unit] == unit[0].session.tasks
    assert not {c.key for c in unit} & {c.key for c in alone.todo}  # a task in a session is another experiment
    summary = made.summary()["sessions"]
    assert summary["seed"] == 0 and summary["orders_drawn"] == [[unit[0].session.tasks]]
    again = plan.make(three.root / "suite.yaml")
    assert [c.key for c in again.todo] == [c.key for c in unit]  # drawn the same way every time: resume works
    # A worker (a Job's) runs a session whole and in order, or not at all.
    assert worker.not_a_unit(unit) == "" and worker.not_a_unit(alone.todo[:1]) == ""
    assert "runs whole" in worker.not_a_unit(unit[1:]) and "runs whole" in worker.not_a_unit(unit[::-1])
    assert "one at a time" in worker.not_a_unit(alone.todo[:2])


# --- end to end ----------------------------------------------------------------------------


def test_a_session_of_three_scores_each_task_on_its_own_and_reads_by_position(three, fake):
    done = three.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    found = by_position(three)
    assert sorted(found) == [1, 2, 3] and len({r["cell"]["session"]["id"] for r in found.values()}) == 1
    prompts = {r["cell"]["task"]["id"]: r["cell"]["task"]["prompt"] for r in found.values()}
    order = found[1]["cell"]["session"]["tasks"]
    expected = {"checksum": str(minilib.checksum("agent")), "api": str(minilib.checksum("hello"))}
    for position, result in found.items():
        task = order[position - 1]
        assert result["cell"]["task"]["id"] == task and result["status"] == "ok", result["errors"]
        assert result["matched"] is (True if task in expected else None)
        # Marginal: this task's requests only, as the scripted server reported them.
        mine = [r for r in fake.requests if len(r["users"]) == position]
        assert len(mine) == result["requests"] == result["turns"] == 2
        assert mine[0]["users"] == [prompts[t] for t in order[:position]]  # it saw every earlier task's prompt
        assert result["tokens"] == {
            "new": sum(r["usage"]["prompt_tokens"] - r["usage"]["prompt_tokens_details"]["cached_tokens"] for r in mine),
            "cached": sum(r["usage"]["prompt_tokens_details"]["cached_tokens"] for r in mine),
            "generated": sum(r["usage"]["completion_tokens"] for r in mine),
        }
        assert sum(result["tool_calls"].values()) == 1 and len(result["steps"]) == 1
        markers = {m["name"] for m in result["markers"]}
        assert markers == {"checksum": {"cli"}, "api": {"python-api"}, "explore": set()}[task]  # its own commands only
        trace = (three.store / result["cell"]["folder"] / "trace.jsonl").read_bytes().splitlines()
        assert result["trace_from"] < len(trace) and (position == 1) == (result["trace_from"] == 0)
    assert len(fake.requests) == 6

    # The same cells one-shot, then cost by position beside them.
    three.suite("oneshot", revisions=["v0.3"], tiers=["bare"], tasks=["checksum", "api", "explore"])
    assert three.cli("run", "oneshot.yaml").returncode == 0
    shown = three.cli("sessions", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    data = orjson.loads(shown.stdout)
    lines = {line["position"]: line for line in data["by_position"]}
    later = next(x for x in data["saved"] if x["comparison"] == "later / first" and x["metric"] == "requests")
    assert (later["n_tasks"], later["change"], later["ci_low"]) == (0, None, None)  # one order: no task ran both first and later
    assert list(lines) == ["one-shot", "1", "2", "3", "later"]
    solo = next(r for r in stored(three) if r["session_position"] is None and r["cell"]["task"]["id"] == order[0])
    assert lines["one-shot"]["runs"] == 1 and lines["one-shot"]["medians"]["tokens_new"] == solo["tokens"]["new"]  # the first task's, alone
    for position, result in found.items():
        assert lines[str(position)]["runs"] == lines[str(position)]["sessions"] == 1
        assert lines[str(position)]["medians"]["tokens_cached"] == result["tokens"]["cached"]
    assert lines["later"]["runs"] == 2 and lines["later"]["medians"]["requests"] == 2
    assert "later" in three.cli("sessions").stdout
    assert len(compare.load_rows(three.store)) == 3  # compare pairs one-shot runs only, never a session's tasks with them
    regraded = three.cli("regrade", "--suite", "suite.yaml")  # each task re-scored from its own entries of the trace
    assert regraded.returncode == 0 and "6 results re-scored, 0 changed" in regraded.stdout + regraded.stderr, regraded.stderr
    site = three.cli("report")
    assert site.returncode == 0 and "3 runs" in site.stderr, site.stderr  # nor does the report pool them
    page = (three.store / "report" / "views.js").read_bytes()
    shown_there = orjson.loads(page[len(b"window.reportViews("):].rstrip().rstrip(b";").rstrip(b")"))["sessions"]
    assert shown_there == {"lines": data["by_position"], "saved": data["saved"]}  # its Sessions view shows the command's numbers

    # --rerun runs the session again, whole and in order; its earlier tasks are kept, superseded.
    asked = len(fake.requests)
    rerun = three.cli("run", "suite.yaml", "--rerun")
    assert rerun.returncode == 0 and "3 cells: 3 ok" in rerun.stderr, rerun.stderr
    assert len(fake.requests) == asked + 6
    for result in found.values():
        assert (three.store / result["cell"]["folder"] / "superseded" / "1" / "result.json").is_file()


def row(task: str, position: int | None, session: str | None, tokens: int, status: str = "ok", matched: bool | None = True) -> dict:
    return {"model_name": "m", "agent_version": "1.6.0", "revision": "r", "sha": "s", "tier": "bare", "task": task,
            "session_position": position, "session": session, "status": status, "matched": matched,
            **{m: tokens for m in sessions.METRICS}}


def simulated(truth: float, tasks: int, rng: random.Random) -> list[dict]:
    """Sessions of every task, in as many orders as tasks: a task's cost is its own (widely spread)
    times `truth` when it runs later, times noise."""
    ids = [f"t{i}" for i in range(tasks)]
    base = {t: rng.lognormvariate(6, 1) for t in ids}
    rows = []
    for o, order in enumerate(orders.draw(ids, Sessions(tasks=tasks, orders=tasks, seed=rng.randrange(10**6)))[0]):
        for p, task in enumerate(order, 1):
            cost = base[task] * (truth if p > 1 else 1) * rng.lognormvariate(0, 0.3)
            rows.append(row(task, p, f"s{o}", cost))
    return rows


def test_the_saving_interval_covers_the_truth_95_times_in_100():
    rng = random.Random(17)
    for truth in (0.6, 1.0):
        runs = [sessions.ratio(*split(simulated(truth, 8, rng)), "tokens_new") for _ in range(400)]
        covered = sum(low <= 100 * (truth - 1) <= high for _, _, low, high in runs) / len(runs)
        assert 0.91 <= covered <= 0.985, (truth, covered)
        assert abs(statistics.median(change for _, change, _, _ in runs) - 100 * (truth - 1)) < 4
    few = sessions.ratio(*split(simulated(0.6, 4, rng)), "tokens_new")
    assert few[0] == 4 and few[1] is not None and few[2] is None  # below 5 tasks: an estimate, no interval


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    return [r for r in rows if r["session_position"] == 1], [r for r in rows if r["session_position"] > 1]


def test_cost_by_position_counts_what_it_should():
    rows = [row("a", 1, "s1", 100), row("b", 2, "s1", 10), row("c", 3, "s1", 20),
            row("b", 1, "s2", 300, matched=False), row("c", 2, "s2", 30), row("a", 3, "s2", 40, status="infra_error"),
            row("a", 1, "s3", 500), row("a", None, None, 900), row("b", None, None, 700), row("c", None, None, 1, status="setup_error")]
    lines = {line.position: line for line in sessions.by_position(rows)}
    assert list(lines) == ["one-shot", "1", "2", "3", "later"]
    assert (lines["1"].runs, lines["1"].sessions, lines["1"].medians["tokens_new"], lines["1"].matched) == (3, 3, 300, 66.7)
    assert (lines["3"].runs, lines["3"].medians["turns"]) == (1, 20)  # the infra_error is left out, like everywhere
    assert (lines["later"].runs, lines["later"].medians["tokens_new"]) == (3, 20)
    assert (lines["one-shot"].runs, lines["one-shot"].medians["tokens_new"]) == (2, 800)  # a and b ran first; c's one-shot failed


def test_an_interrupted_session_runs_again_whole_and_nothing_is_doubled(three, fake):
    proc = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=three.root, env=three.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(three.store.glob(RESULTS)) and time.time() < deadline:
        time.sleep(0.05)
    fake.extra_delay = 30.0  # the second task's model calls hang
    assert stored(three), "the first task never finished"
    while len(fake.bodies) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "2 interrupted" in err
    (first,) = stored(three)  # the task reached is stored; the one interrupted and the one after are not
    assert first["session_position"] == 1 and first["status"] == "ok"
    assert "0 done, 3 to run" in three.cli("run", "suite.yaml", "--dry-run").stderr  # the session is not done

    fake.extra_delay = 0.0
    fake.requests.clear()
    again = three.cli("run", "suite.yaml")
    assert again.returncode == 0, again.stderr
    assert sorted(by_position(three)) == [1, 2, 3] and len(list(three.store.glob(RESULTS))) == 3
    assert len(fake.requests) == 6  # the whole session ran again, once
    for result in stored(three):
        proxy_log = (three.store / result["cell"]["folder"] / "proxy.jsonl").read_bytes().splitlines()
        assert len(proxy_log) == result["requests"] == 2
    assert "3 done, 0 to run" in three.cli("run", "suite.yaml", "--dry-run").stderr


def test_a_task_the_agent_fails_is_scored_and_the_session_goes_on(project, fake):
    project.task("loop", prompt="LOOP until stopped")
    project.suite(revisions=["v0.3"], tiers=["bare"], tasks=["loop", "checksum"], sessions={"tasks": 2, "orders": 2},
                  budgets={"timeout": 60, "max_turns": 4})
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    results = stored(project)
    assert len(results) == 4
    for r in results:  # the agent's own failure is a result; the next task continues the session
        task = r["cell"]["task"]["id"]
        assert (r["status"], r["ended_by"]) == (("timeout", "max_turns") if task == "loop" else ("ok", None)), r["errors"]
        assert task == "loop" or r["matched"] is True
    after_loop = next(r for r in results if r["cell"]["task"]["id"] == "checksum" and r["session_position"] == 2)
    assert after_loop["requests"] == 2  # its own, not the loop's
    # pi was killed mid-loop, and the next task's pi reopened the session: it sees the loop's prompt and calls.
    seen = next(r for r in fake.requests if r["users"][-1] == PROMPTS["checksum"] and len(r["users"]) == 2)
    assert seen["users"][0] == "LOOP until stopped"



def test_when_the_provider_fails_the_session_stops_and_runs_again_whole(project, fake):
    fake.rules.insert(0, Rule("DOWN", [Reply(status=503)]))
    project.task("down", prompt="DOWN: the provider fails")
    project.suite(revisions=["v0.3"], tiers=["bare"], tasks=["down", "checksum"], sessions={"tasks": 2, "orders": 2})
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 1 and "error: 3 of 4 cells are not done" in done.stderr, done.stderr  # 2 infra_error, 1 not reached
    assert "1 not reached" in done.stderr
    results = {(r["cell"]["session"]["order"], r["session_position"]): r for r in stored(project)}
    down_first = next(o for (o, p), r in results.items() if p == 1 and r["cell"]["task"]["id"] == "down")
    assert results[down_first, 1]["status"] == "infra_error" and (down_first, 2) not in results  # never reached
    other = 1 - down_first
    assert results[other, 1]["status"] == "ok" and results[other, 2]["status"] == "infra_error"
    assert "0 done, 4 to run" in project.cli("run", "suite.yaml", "--dry-run").stderr  # both are retried, whole


def test_a_session_is_one_job_on_hugging_face_jobs(tmp_path, minilib_repo, pi_ready, hub, hub_model):  # noqa: F811 (the fixture)
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
    project.task("api", prompt=PROMPTS["api"], expected=str(minilib.checksum("hello")))
    model = {"id": "org/Fake-Coder:fast", "name": "Fake", "base_url": hub_model.url, "api_key_env": "HF_TOKEN"}
    project.suite(name="suite", models=[model], revisions=["main"], tiers=["bare"], tasks=["checksum", "api"], sessions=2)

    dry = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--dry-run")
    assert dry.returncode == 0 and "2 cells" in dry.stderr and "1 Jobs to submit" in dry.stderr, dry.stderr
    spec = orjson.loads(dry.stdout[dry.stdout.index("{"):])
    assert [v["readOnly"] for v in spec["volumes"]] == [False, False, True, True]  # both tasks' run folders, writable
    assert spec["command"][2].split("agent-eval worker ")[1].count("/cell.json") == 2 and spec["labels"]["session-tasks"] == "2"

    done = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--watch", "--poll", "0.5")
    assert done.returncode == 0, done.stderr + "\n".join(line for job in hub.jobs.values() for _, line in job.log)
    assert len(hub.jobs) == 1 and "2/2 results" in done.stderr
    assert project.cli("pull", str(tmp_path / "pulled"), "--bucket", BUCKET, env=project.hub_env).returncode == 0
    results = {r["session_position"]: r for r in (orjson.loads(p.read_bytes()) for p in (tmp_path / "pulled").glob(RESULTS))}
    assert sorted(results) == [1, 2] and all(r["status"] == "ok" and r["matched"] for r in results.values())
    assert results[2]["trace_from"] > 0 and len(hub_model.requests[-1]["users"]) == 2  # the second task saw the first
    again = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert "2 done, 0 to run" in again.stderr and len(hub.jobs) == 1
    assert "2 cells · 2 done" in jobs_cli(project, "status", "suite.yaml").stdout


def test_sessions_on_the_older_pi_too(project, fake):
    project.suite(revisions=["v0.3"], tiers=["bare"], tasks=["checksum", "api"], sessions=2, agent={"version": "0.73.1"})
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    found = by_position(project)
    assert sorted(found) == [1, 2] and all(r["status"] == "ok" and r["matched"] for r in found.values())
    assert found[2]["cell"]["agent_version"] == "0.73.1" and found[2]["requests"] == 2
    assert len(fake.requests[-1]["users"]) == 2  # 0.73.1 reopens the session file the same way
