"""Verifiers: a task's script run after pi exits, on the working dir it left, in the sandbox with no
network and its own timeout, from a copy of its folder the agent never saw. Pass, fail, partial
credit, timeout and crash (a grading error, not a miss); an agent that fakes test files, edits its
inputs and tries to read the verifier. Real pi, the scripted model, a real git history."""

from __future__ import annotations

import orjson
import pytest

from fake_model import Reply, Rule

CHECK = '''import json, os, sys, time
mode = sys.argv[1]
print("real verifier, cwd", os.getcwd() == os.environ["WORKSPACE"])
value = open("out.txt").read().strip() if os.path.exists("out.txt") else None
if mode == "pass":
    sys.exit(0 if value == "42" else 1)
if mode == "fail":
    sys.exit(0 if value == "43" else 1)
if mode == "partial":
    print(json.dumps({"score": 0.5, "checks": [{"name": "exists", "passed": value is not None}, {"name": "is 43", "passed": value == "43"}]}))
    sys.exit(1)
if mode == "sleep":
    time.sleep(30)
if mode == "crash":
    undefined_name
if mode == "network":
    import socket
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2)
    except OSError as err:
        sys.exit(f"no network: {err}")
'''
SNEAKY = ("mkdir -p verify && echo 'print(1)' > verify/check.py && echo hacked > data.txt && "
          "cat /verify/check.py {source} 2>&1; true")


def results(project) -> dict[str, dict]:
    return {p.parent.parent.name: orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")}


@pytest.fixture
def verified(project, fake):
    checks = project.root / "tasks/minilib/checks"
    checks.mkdir(parents=True)
    (checks / "check.py").write_text(CHECK)
    fake.rules.insert(0, Rule("VERIFYME", [Reply(tool="bash", args={"command": "echo 42 > out.txt"}), Reply(text="done")]))
    fake.rules.insert(0, Rule("SNEAKY", [Reply(tool="bash", args={"command": SNEAKY.format(source=checks / "check.py")}),
                                         Reply(text="saw: {last_tool_output}")]))
    for mode in ("pass", "fail", "partial", "crash"):
        project.task(f"v-{mode}", prompt=f"VERIFYME ({mode})", verify={"dir": "checks", "script": "check.py", "args": [mode]})
    port = fake.url.split(":")[2].split("/")[0]
    project.task("v-network", prompt="VERIFYME (network)", verify={"dir": "checks", "script": "check.py", "args": ["network", port]})
    project.task("v-sleep", prompt="VERIFYME (sleep)", verify={"dir": "checks", "script": "check.py", "args": ["sleep"], "timeout": 2})
    (project.root / "tasks/minilib/data.txt").write_text("data\n")
    project.task("v-sneaky", prompt="SNEAKY", files=["data.txt"], expected="never", verify={"dir": "checks", "script": "check.py", "args": ["pass"]})
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare"], tasks=["v-*"])
    return project


def test_verifiers_pass_fail_give_partial_credit_and_errors_stay_out_of_match(verified):
    done = verified.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr
    found = results(verified)

    (passed,) = found["v-pass"]["graders"]
    assert (passed["kind"], passed["status"], passed["score"]) == ("verify", "passed", 1.0) and "real verifier, cwd True" in passed["output"]
    assert found["v-pass"]["matched"] is True and found["v-pass"]["score"] == 1.0

    (failed,) = found["v-fail"]["graders"]
    assert failed["status"] == "failed" and found["v-fail"]["matched"] is False and found["v-fail"]["score"] == 0.0

    (partial,) = found["v-partial"]["graders"]
    assert partial["status"] == "failed" and partial["score"] == 0.5 and found["v-partial"]["score"] == 0.5
    assert partial["checks"] == [{"name": "exists", "passed": True, "evidence": ""}, {"name": "is 43", "passed": False, "evidence": ""}]

    for name, why in (("v-sleep", "ran past its timeout of 2 s"), ("v-crash", "the verifier crashed: NameError")):
        (error,) = found[name]["graders"]
        assert error["status"] == "error" and error["score"] is None and why in error["output"], error
        assert found[name]["status"] == "ok" and found[name]["matched"] is None and found[name]["score"] is None  # not the agent's miss
    assert found["v-sleep"]["graders"][0]["seconds"] < 10

    from agent_eval.run.sandbox import isolation

    if isolation().name == "bwrap":  # the model server on loopback, out of the verifier's reach
        (offline,) = found["v-network"]["graders"]
        assert offline["status"] == "failed" and "no network: [Errno 111] Connection refused" in offline["output"], offline

    sneaky = found["v-sneaky"]
    assert sneaky["tampered"] == ["data.txt"]
    assert [g["kind"] for g in sneaky["graders"]] == ["answer", "verify"]
    assert sneaky["graders"][1]["status"] == "failed" and "real verifier" in sneaky["graders"][1]["output"]  # its own copy, not the fake one
    assert sneaky["answer"].count("No such file or directory") == 2, sneaky["answer"]  # neither where it runs nor where it is kept
    assert {f["path"] for f in sneaky["files"]} == {"verify/check.py", "data.txt"}


def test_a_missing_verifier_script_is_bad_input(bare_project):
    bare_project.task("checksum", prompt="What is the checksum of 'a'?", verify={"script": "check.py"})
    done = bare_project.cli("validate", "suite.yaml")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "checksum.yaml: field 'verify.dir': checksum/verify is not a folder beside the task" in done.stderr
    (bare_project.root / "tasks/minilib/checksum/verify").mkdir(parents=True)
    done = bare_project.cli("validate", "suite.yaml")
    assert done.returncode == 2 and "field 'verify.script': check.py not found in" in done.stderr, done.stderr


def test_a_regrade_after_a_verifier_edit_equals_a_fresh_runs_grading(verified):
    verified.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare", "clone"], tasks=["v-pass", "v-partial"])
    assert verified.cli("run", "suite.yaml").returncode == 0
    check = verified.root / "tasks/minilib/checks/check.py"
    check.write_text(check.read_text().replace('value == "42"', 'value == "41"').replace('"score": 0.5', '"score": 0.25'))

    plan = verified.cli("run", "suite.yaml", "--dry-run")
    assert "4 done, 0 to run" in plan.stderr and "4 done results were graded under an older grading" in plan.stderr, plan.stderr
    done = verified.cli("regrade", "--suite", "suite.yaml")
    assert done.returncode == 0 and done.stdout.startswith("4 results re-scored, 4 changed: 2 match flips"), done.stdout + done.stderr
    regraded = {(r["cell"]["tier"], r["cell"]["task"]["id"]): r for r in map(orjson.loads, (p.read_bytes() for p in verified.store.glob("runs/*/*/*/*/*/result.json")))}
    assert regraded["clone", "v-pass"]["graders"][0]["status"] == "failed" and regraded["clone", "v-partial"]["score"] == 0.25
    assert "older grading" not in verified.cli("run", "suite.yaml", "--dry-run").stderr

    assert verified.cli("run", "suite.yaml", "--rerun").returncode == 0  # the same cells afresh: the same workspaces, graded anew
    fresh = {(r["cell"]["tier"], r["cell"]["task"]["id"]): r for r in map(orjson.loads, (p.read_bytes() for p in verified.store.glob("runs/*/*/*/*/*/result.json")))}
    same = lambda r: (r["matched"], r["score"], r["grading"], [(g["kind"], g["status"], g["score"], g["checks"]) for g in r["graders"]])  # noqa: E731
    assert {k: same(r) for k, r in fresh.items()} == {k: same(r) for k, r in regraded.items()}
    rows = orjson.loads(verified.cli("results", "--format", "json").stdout)
    assert sorted((r["tier"], r["task"], r["score"]) for r in rows) == [("bare", "v-partial", 0.25), ("bare", "v-pass", 0.0),
                                                                         ("clone", "v-partial", 0.25), ("clone", "v-pass", 0.0)]
    compared = verified.cli("compare", "--axis", "tier", "--base", "bare", "--head", "clone", "--format", "json")
    assert compared.returncode == 0, compared.stderr
    (score,) = [m for m in orjson.loads(compared.stdout)["metrics"] if m["metric"] == "score"]
    assert (score["kind"], score["base"], score["head"]) == ("rate", 12.5, 12.5)
