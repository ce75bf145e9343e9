"""End to end: `run --until-decided` with the real pi, the scripted model and minilib's history:
v0.1 has no CLI (the checksum tasks miss), v0.2 has it (they match)."""

from __future__ import annotations

import orjson

import minilib
from conftest import PROMPTS

DECISION = {"primary": ["match", "tokens_new"], "min_effect": {"match": 20, "tokens_new": "50%"}}


def tasks(project, checksum: int, api: int = 0) -> None:
    for old in (project.root / "tasks" / "minilib").glob("*.yaml"):  # the fixture's two
        old.unlink()
    for i in range(checksum):
        project.task(f"checksum{i}", prompt=f"{PROMPTS['checksum']} (case {i})", expected=str(minilib.checksum("agent")))
    for i in range(api):
        project.task(f"api{i}", prompt=f"{PROMPTS['api']} (case {i})", expected=str(minilib.checksum("hello")))


def suite(project, repeats: int, **extra):
    return project.suite(revisions=[{"ref": "v0.1", "name": "API only"}, {"ref": "v0.2", "name": "CLI"}], tiers=["bare"],
                         repeats=repeats, **extra)


def runs(project) -> list[dict]:
    return [orjson.loads(p.read_bytes())["cell"] for p in project.store.glob("runs/*/*/*/*/*/result.json")]


def sequential(project) -> dict:
    return orjson.loads((project.store / "suites" / "test" / "plan.json").read_bytes())["sequential"]


def test_a_clear_change_is_decided_after_the_first_round_and_compare_says_so(project):
    tasks(project, checksum=5)
    suite(project, 3, decision=DECISION)
    done = project.cli("run", "suite.yaml", "--until-decided", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert "round 1/3: match +100.0 pts [+100.0, +100.0] better; tokens_new +0.0% [+0.0, +0.0] futile -> stop (decided)" in done.stderr
    assert "decided after 1 of 3 rounds: 10 of 30 runs (33%), 20 saved" in done.stderr
    assert {c["repeat"] for c in runs(project)} == {0} and len(runs(project)) == 10
    recorded = sequential(project)
    assert recorded["stopped"] == "decided" and recorded["round"] == 1 and recorded["looks"] == 3
    assert abs(sum(recorded["spent"]) - 0.05) < 1e-12 and recorded["max_runs"] == 30

    comment = project.cli("compare", "--base", "API only", "--head", "CLI", "--format", "markdown")
    assert comment.returncode == 0, comment.stderr
    assert "decided after 1 of 3 rounds (33% of the maximum runs)" in comment.stdout
    assert "| match | 0.0% | 100.0% | +100.0 pts [+100.0, +100.0] | **better** |" in comment.stdout
    again = project.cli("run", "suite.yaml", "--until-decided")  # nothing left to run: the same look, the same stop
    assert again.returncode == 0 and "decided after 1 of 3 rounds" in again.stderr and len(runs(project)) == 10


def test_rounds_resume_from_the_runs_stored_and_look_after_each(project):
    tasks(project, checksum=4, api=1)
    suite(project, 1)
    assert project.cli("run", "suite.yaml", "--jobs", "2").returncode == 0  # round 1, run before as a fixed design
    suite(project, 2, decision=DECISION)
    done = project.cli("run", "suite.yaml", "--until-decided", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    first, second = [line for line in done.stderr.splitlines() if line.startswith("round ") and "pts" in line]
    assert first.startswith("round 1/2: match +80.0 pts") and "open" in first and "stop" not in first  # 4 tasks +100, 1 task 0: not yet
    assert second.startswith("round 2/2: match +80.0 pts") and "better" in second and "stop (decided)" in second
    assert "round 2/2: 10 cells" in done.stderr and "round 1/2: 10 cells" not in done.stderr  # round 1 was stored: looked at, not run
    assert sorted(c["repeat"] for c in runs(project)) == [0] * 10 + [1] * 10

    table = project.cli("compare", "--base", "v0.1", "--head", "v0.2", "--format", "json")
    shown = orjson.loads(table.stdout)
    match = next(m for m in shown["metrics"] if m["metric"] == "match")
    assert shown["decision"]["sequential"]["round"] == 2
    assert match["ci_low"] < 80 - 2.776 * 44.72 / 5 ** 0.5  # wider than the fixed design's 95% t interval (4 df)
    terminal = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert "sequential rounds: decided after 2 of 2 rounds (100% of the maximum runs)" in terminal.stdout

    report = project.cli("report")  # the report's Compare view shows the same sequential numbers
    assert report.returncode == 0, report.stderr
    assert "sequential rounds: decided after 2 of 2 rounds" in (project.store / "report" / "views.js").read_text()

    sized = project.cli("plan-size")  # the sides it ran in rounds
    assert sized.returncode == 0, sized.stderr
    assert "match: to detect ±20 points at 80% power: " in sized.stdout and "you have 5 tasks × 2 (sd between tasks 44.7, within" in sized.stdout


def test_until_decided_needs_a_decision_and_two_sides(bare_project):
    bare_project.suite()
    no_decision = bare_project.cli("run", "suite.yaml", "--until-decided")
    assert no_decision.returncode == 2 and "field 'decision' is missing" in no_decision.stderr
    assert "Traceback" not in no_decision.stderr
    bare_project.suite(revisions=["v0.2"], tiers=["bare"], decision=DECISION)
    one_side = bare_project.cli("run", "suite.yaml", "--until-decided")
    assert one_side.returncode == 2 and "compares two sides and this suite has 1 revision, 1 model, 1 agent, 1 tier" in one_side.stderr
    assert not bare_project.store.exists() or not list(bare_project.store.glob("runs/**/result.json"))


def test_a_round_the_provider_failed_is_run_again_never_decided_on(tmp_path, minilib_repo, pi_ready):
    from conftest import MODEL_KEY, Project, rules
    from fake_model import FakeModel, Reply, Rule

    server = FakeModel([Rule("DOWN", [Reply(status=503)]), *rules()], api_key=MODEL_KEY)
    try:
        project = Project(tmp_path, minilib_repo, server.url)
        project.profile()
        tasks(project, checksum=4)
        project.task("down", prompt=f"DOWN: {PROMPTS['checksum']}", expected=str(minilib.checksum("agent")))
        suite(project, 3, decision=DECISION)
        failed = project.cli("run", "suite.yaml", "--until-decided", "--jobs", "2")
        assert failed.returncode == 1, failed.stderr
        assert "2 cells of round 1 are not done" in failed.stderr and "not decided on" in failed.stderr
        assert failed.stderr.count("round 1/3: 2 cells") == 2  # run again in the same sweep (3 attempts in all)
        assert "round 1/3: match" not in failed.stderr and sequential(project)["round"] == 0

        server.rules[0] = Rule("DOWN", rules()[1].replies)  # the provider is back
        done = project.cli("run", "suite.yaml", "--until-decided", "--jobs", "2")
        assert done.returncode == 0, done.stderr
        assert "round 1/3: 2 cells" in done.stderr and "decided after 1 of 3 rounds" in done.stderr
    finally:
        server.close()


def test_a_sweep_killed_in_a_round_resumes_at_that_round(project, fake):
    import signal
    import subprocess
    import sys
    import time

    tasks(project, checksum=4, api=1)
    suite(project, 1)
    assert project.cli("run", "suite.yaml", "--jobs", "2").returncode == 0  # round 1
    suite(project, 2, decision=DECISION)
    fake.extra_delay = 30.0  # round 2's model calls hang until the kill
    seen = sum(fake.attempts.values())
    proc = subprocess.Popen([sys.executable, "-m", "agent_eval", "run", "suite.yaml", "--until-decided", "--jobs", "2"], cwd=project.root,
                            env=project.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while sum(fake.attempts.values()) <= seen and time.time() < deadline:
        time.sleep(0.2)
    assert sequential(project)["round"] == 1  # round 1 looked at and recorded before round 2 began
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped at round 2 of 2 (interrupted)" in err and sorted(c["repeat"] for c in runs(project)) == [0] * 10

    fake.extra_delay = 0.0
    done = project.cli("run", "suite.yaml", "--until-decided", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert "round 2/2: 10 cells" in done.stderr and "decided after 2 of 2 rounds" in done.stderr
