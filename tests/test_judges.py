"""Judges: a suite's judge model scores the agent's work against a task's rubric, through the
metering proxy at temperature 0, its tokens kept apart from the agent's; a malformed reply is a
grading error; a judgement is cached, so regrade reproduces it without a call unless --rejudge.
Real pi, the scripted model server (which also plays the judge), a real git history."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import orjson
import pytest

from conftest import MODEL_KEY
from fake_model import Reply, Rule


def results(project) -> dict[str, dict]:
    return {p.parent.parent.name: orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")}


def judge_calls(fake) -> list[dict]:
    return [r for r in fake.requests if any("## Rubric" in u for u in r["users"])]


@pytest.fixture
def judged(project, fake):
    fake.rules.insert(0, Rule("WRITE42", [Reply(tool="bash", args={"command": "echo 42 > out.txt"}), Reply(text="done")]))
    fake.rules.insert(0, Rule("JUDGE-OK", [Reply(text='{{"score": 0.9, "reason": "it wrote 42"}}', prompt_tokens=777, completion_tokens=13)]))
    fake.rules.insert(0, Rule("JUDGE-GARBLED", [Reply(text="Looks good to me!", prompt_tokens=700, completion_tokens=5)]))
    project.task("j-ok", prompt="WRITE42 please", judge={"model": "strict", "rubric": "JUDGE-OK: out.txt holds 42", "files": True})
    project.task("j-bad", prompt="WRITE42 again", expected="done", judge={"model": "strict", "rubric": "JUDGE-GARBLED"})
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"], tasks=["j-*"],
                  judges={"strict": {"id": "judge-model", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}})
    return project


def test_a_judge_scores_through_the_proxy_with_its_tokens_apart_and_a_malformed_reply_is_a_grading_error(judged, fake):
    done = judged.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    found = results(judged)

    (ok,) = found["j-ok"]["graders"]
    assert (ok["kind"], ok["status"], ok["score"], ok["output"]) == ("judge", "passed", 0.9, "it wrote 42")
    assert ok["tokens"] == {"new": 777, "cached": 0, "generated": 13}
    assert found["j-ok"]["matched"] is True and found["j-ok"]["score"] == 0.9
    assert found["j-ok"]["tokens"] == {"new": 2000, "cached": 0, "generated": 40}
    folder = judged.store / found["j-ok"]["cell"]["folder"]
    assert len((folder / "judge.jsonl").read_bytes().splitlines()) == 1 and len((folder / "proxy.jsonl").read_bytes().splitlines()) == 2
    (asked,) = [r for r in judge_calls(fake) if "JUDGE-OK" in r["users"][-1]]
    assert "## File the agent left: out.txt" in asked["users"][-1] and "42" in asked["users"][-1]
    bodies = [orjson.loads(b) for b in fake.bodies if b"## Rubric" in b]
    assert {b["temperature"] for b in bodies} == {0} and {b["model"] for b in bodies} == {"judge-model"}
    assert MODEL_KEY.encode() not in judged.stored_bytes()

    answer, bad = found["j-bad"]["graders"]
    assert answer["status"] == "passed" and bad["status"] == "error" and "is not one JSON object" in bad["output"]
    assert found["j-bad"]["matched"] is None and found["j-bad"]["status"] == "ok"  # not the agent's miss

    calls = len(judge_calls(fake))
    regraded = judged.cli("regrade", "--suite", "suite.yaml")
    assert regraded.returncode == 0, regraded.stderr
    assert len(judge_calls(fake)) == calls + 1  # the cached judgement is reused; the failed one is asked again
    assert results(judged)["j-ok"]["graders"] == found["j-ok"]["graders"]
    judged.cli("regrade", "--suite", "suite.yaml", "--rejudge")
    assert len(judge_calls(fake)) == calls + 3

    judged.task("j-ok", prompt="WRITE42 please", judge={"model": "strict", "rubric": "JUDGE-OK: out.txt holds 42, nothing else", "files": True})
    plan = judged.cli("run", "suite.yaml", "--dry-run")
    assert "2 done, 0 to run" in plan.stderr and "1 done results were graded under an older grading" in plan.stderr, plan.stderr


@pytest.mark.parametrize("judge, suite_judges, message", [
    ({"rubric": "good"}, {"strict": {"id": "m", "base_url": "http://127.0.0.1:9/v1"}}, "field 'judge.model' is required"),
    ({"model": "lenient", "rubric": "good"}, {"strict": {"id": "m", "base_url": "http://127.0.0.1:9/v1"}}, "field 'judge.model': no judge 'lenient'"),
    ({"model": "strict", "rubric": "  "}, {"strict": {"id": "m", "base_url": "http://127.0.0.1:9/v1"}}, "field 'judge.rubric'"),
    ({"model": "strict", "rubric": "good"}, {"strict": "local/qwen-nope"}, "field 'judges.strict.id': unknown local model 'local/qwen-nope'; known: local/"),
])
def test_bad_judges_are_one_line_exit_2(bare_project, judge, suite_judges, message):
    bare_project.task("checksum", prompt="What is the checksum of 'a'?", judge=judge)
    bare_project.suite(judges=suite_judges)
    done = bare_project.cli("validate", "suite.yaml")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_two_units_judging_each_others_offline_model_never_deadlock():
    """A local sweep: a unit whose agent is model A and judge model J, beside one whose agent is J
    and judge A. Each holds its agent's slot for its whole run; were its judge's slot taken only
    when its judge is called, each would hold one slot and wait for the other's, for ever."""
    from agent_eval.run.local import Slots
    from agent_eval.suite.config import ModelSpec

    class Slow:  # a lock slow to take: both units are inside their first slot before either asks for its second
        def __init__(self):
            self.lock = threading.RLock()

        def __enter__(self):
            self.lock.acquire()
            time.sleep(0.2)

        def __exit__(self, *exc):
            self.lock.release()

    a, j, remote = ModelSpec(id="local/a"), ModelSpec(id="local/j"), ModelSpec(id="org/remote")
    slots = Slots({"local/a", "local/j"})
    slots.locks = {name: Slow() for name in slots.locks}
    finished, start = [], threading.Barrier(3)

    def unit(agent, judge):
        cells = [SimpleNamespace(model=agent, judge=judge)]
        start.wait()
        with slots.slot(cells):
            time.sleep(0.1)  # the agent
            with slots.turn(judge):
                finished.append(agent.id)

    threads = [threading.Thread(target=unit, args=pair, daemon=True) for pair in [(a, j), (j, a), (remote, j)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(finished) == ["local/a", "local/j", "org/remote"]


@pytest.fixture(scope="module")
def small_weights():
    from agent_eval.run import serve

    return serve.fetch("local/qwen2.5-coder-0.5b", say=print)


def test_the_offline_model_judges_through_its_own_server_in_run_regrade_and_a_worker(project, fake, small_weights):
    """The agent is the scripted model; the judge the real offline model, served beside it for the
    sweep, by `regrade --rejudge`, and by `agent-eval worker` (what a Job runs). Its requests go
    through the metering proxy to that server, its tokens the judge's."""
    fake.rules.insert(0, Rule("WRITE42", [Reply(tool="bash", args={"command": "echo 42 > out.txt"}), Reply(text="42")]))
    project.task("j-local", prompt="WRITE42 please", expected="42", judge={"model": "small", "rubric": "The answer is 42."})
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"], tasks=["j-local"], judges={"small": "local/qwen2.5-coder-0.5b"})
    done = project.cli("run", "suite.yaml", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "starting local/qwen2.5-coder-0.5b on 127.0.0.1" in done.stderr
    (result,) = results(project).values()
    folder = project.store / result["cell"]["folder"]

    def judged() -> list[dict]:
        return [orjson.loads(line) for line in (folder / "judge.jsonl").read_bytes().splitlines()]

    def asked_locally(grader: dict, entries: list[dict]) -> None:
        # The model judges as it will (0.5B: its JSON may be off); what is checked is that it was asked and answered.
        assert grader["kind"] == "judge" and "could not answer" not in grader["output"], grader
        assert entries[-1]["status"] == 200 and entries[-1]["completion_tokens"] > 0
        assert grader["tokens"]["generated"] == entries[-1]["completion_tokens"]

    answer, verdict = result["graders"]
    asked_locally(verdict, judged())
    assert result["tokens"] == {"new": 2000, "cached": 0, "generated": 40}  # the agent's two scripted replies, not the judge's
    assert not [r for r in fake.requests if any("## Rubric" in u for u in r["users"])]  # the scripted endpoint never judged
    assert (project.store / "suites/test/server-local--qwen2.5-coder-0.5b.log").is_file()

    again = project.cli("regrade", "--suite", "suite.yaml", "--rejudge", timeout=600)
    assert again.returncode == 0, again.stderr
    assert "starting local/qwen2.5-coder-0.5b" in again.stderr and len(judged()) == 2
    asked_locally(results(project)["j-local"]["graders"][1], judged())

    (folder / "result.json").unlink()
    worker = subprocess.run([sys.executable, "-m", "agent_eval", "worker", str(folder / "cell.json")], cwd=project.root,
                            env=project.env(), capture_output=True, text=True, timeout=600)
    assert worker.returncode == 0, worker.stderr
    assert len(judged()) == 1  # a fresh run of the cell: its run folder begun anew
    asked_locally(results(project)["j-local"]["graders"][1], judged())


def test_ctrl_c_while_the_judge_answers_stops_at_once_and_stores_nothing(judged, fake):
    import signal
    import subprocess
    import sys
    import time

    fake.rules.insert(0, Rule("JUDGE-OK", [Reply(text='{{"score": 1, "reason": "fine"}}', stall=60)]))  # starts its reply, then hangs
    judged.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"], tasks=["j-ok"],
                 judges={"strict": {"id": "judge-model", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}})
    proc = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml"], cwd=judged.root, env=judged.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any(b"## Rubric" in b for b in fake.bodies) and time.time() < deadline:  # the judge was asked
        time.sleep(0.1)
    time.sleep(1.0)  # its reply began, and stalls
    stopped = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "1 interrupted" in err, err
    assert time.time() - stopped < 10  # not the judge's 60 s stall, nor its 300 s read timeout
    assert not list(judged.store.glob("runs/**/result.json")) and not list(judged.store.glob("runs/**/judgements.jsonl"))
