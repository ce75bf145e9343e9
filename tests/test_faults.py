"""Results that must not be silently wrong, end to end with the real pi: unknown usage, provider
failures, cut-off replies, entries that name one cell, corrupt records, and secrets in disguise."""

from __future__ import annotations

import base64
from urllib.parse import quote

import orjson
import pytest

import minilib
from conftest import MODEL_KEY, PROMPTS, RESOLVE_AT, Project, rules, spy_package, spy_saw
from fake_model import FakeModel, Reply, Rule

OTHER_KEY = "other-model-cred-7Qx9LmZ2"  # another model's key, in a variable whose name looks harmless
LEAKS = [OTHER_KEY, base64.b64encode(f"user:{OTHER_KEY}".encode()).decode(), OTHER_KEY.encode().hex(), quote(f"k={OTHER_KEY}", safe="")]


def fault_rules() -> list[Rule]:
    answer = Reply(text="The checksum is {last_tool_output}.")
    return [
        Rule("NOUSAGE", [Reply(tool="bash", args={"command": "minilib checksum agent"}, no_usage=True), Reply(text="It is {last_tool_output}.", no_usage=True)]),
        Rule("DOWN", [Reply(status=503)]),
        Rule("CUTOFF", [Reply(text="The checksum is 1626 and more", cut=True)]),
        Rule("LEAK", [Reply(tool="bash", args={"command": "echo " + " ".join(LEAKS)}), answer]),
        *rules(),
    ]


@pytest.fixture
def faulty(tmp_path, minilib_repo, pi_ready):
    server = FakeModel(fault_rules(), api_key=MODEL_KEY)
    project = Project(tmp_path, minilib_repo, server.url)
    project.profile()
    for name in ("NOUSAGE", "DOWN", "CUTOFF", "LEAK"):
        project.task(name.lower(), prompt=f"{name}: {PROMPTS['checksum']}", expected=str(minilib.checksum("agent")))
    project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")))
    yield project, server
    server.close()


def stored(project: Project) -> dict[str, dict]:
    return {r["cell"]["task"]["id"]: r for r in (orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json"))}


def test_unknown_usage_is_not_zero_and_infrastructure_is_not_the_agent(faulty):
    project, server = faulty
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["nousage", "down", "cutoff"])
    done = project.cli("run", "suite.yaml", "--jobs", "3")
    assert done.returncode == 1, done.stderr  # two cells are not done: a CI job must see it
    assert done.stderr.splitlines()[-1].startswith("error: 2 of 3 cells are not done"), done.stderr
    found = stored(project)

    nousage = found["nousage"]  # right answer, provider silent about usage: an honest, scored run
    assert nousage["status"] == "ok" and nousage["matched"] is True, nousage["errors"]
    assert nousage["tokens"] is None and nousage["requests"] == 2

    down = found["down"]  # 503 after every retry: the provider's failure, not a miss
    assert down["status"] == "infra_error" and down["matched"] is False
    assert any("503" in e for e in down["errors"])
    cut = found["cutoff"]  # a reply that stopped mid-stream
    assert cut["status"] == "infra_error" and any("cut off" in e for e in cut["errors"])

    again = project.cli("run", "suite.yaml", "--dry-run")  # both are retried by the next run, like setup errors
    assert "1 done, 2 to run" in again.stderr, again.stderr
    table = project.cli("results", "--format", "csv").stdout
    assert "nousage" in table and ",infra_error," in table


def test_entries_naming_one_cell_run_it_once(faulty):
    project, server = faulty
    model = {"id": "fake-coder", "name": "Fake", "base_url": server.url, "api_key_env": "FAKE_MODEL_KEY"}
    project.suite(models=[model, {**model, "name": "Same"}], revisions=["v0.3", "main"], tiers=["bare", "bare"], tasks=["checksum"], repeats=2)
    done = project.cli("run", "suite.yaml", "--jobs", "4")
    assert done.returncode == 0, done.stderr
    assert "= 2 cells; 0 done, 2 to run" in done.stderr and done.stderr.count("collapsed:") == 3
    results = list(project.store.glob("runs/*/*/*/*/*/result.json"))
    assert len(results) == 2 and len(server.requests) == 4  # two cells, two model calls each, nothing doubled
    for path in results:
        result = orjson.loads(path.read_bytes())
        assert result["status"] == "ok" and result["matched"] is True and result["cell"]["folder"] in str(path)
        assert {p.name for p in path.parent.iterdir()} == {"cell.json", "result.json", "trace.jsonl", "proxy.jsonl", "agent.log"}


def test_a_corrupt_record_is_named_skipped_and_run_again(faulty):
    project, server = faulty
    project.suite(revisions=["v0.2", "v0.3"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    first, second = sorted(project.store.glob("runs/*/*/*/*/*/result.json"))
    first.write_text('{"status": "ok", "cell": ')  # torn by hand
    listed = project.cli("results", "--format", "json")
    assert listed.returncode == 0 and len(orjson.loads(listed.stdout)) == 1
    shown = first.relative_to(project.root)
    assert f"warning: skipped {shown}: not valid JSON" in listed.stderr
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and "1 done, 1 to run" in again.stderr
    assert f"unreadable, will run again: {first}: not a valid result (Invalid JSON" in again.stderr
    assert orjson.loads(first.read_bytes())["status"] == "ok" and orjson.loads(second.read_bytes())["status"] == "ok"


def test_a_record_run_finds_unreadable_leaves_every_reader(faulty):
    project, server = faulty
    project.suite(revisions=["v0.2", "v0.3"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    assert len(orjson.loads(project.cli("results", "--format", "json").stdout)) == 2  # the index knows both
    first = sorted(project.store.glob("runs/*/*/*/*/*/result.json"))[0]
    # Valid JSON every column of the index can be read from, but not a result: run checks the whole record.
    first.write_bytes(first.read_bytes().replace(b'"status": "ok"', b'"status": "fine"'))
    dry = project.cli("run", "suite.yaml", "--dry-run")
    assert f"unreadable, will run again: {first}" in dry.stderr and "1 done, 1 to run" in dry.stderr, dry.stderr
    listed = project.cli("results", "--format", "json")
    assert f"warning: skipped {first.relative_to(project.root)}: " in listed.stderr, listed.stderr
    assert len(orjson.loads(listed.stdout)) == 1  # as run sees it
    compared = project.cli("compare", "--base", "v0.2", "--head", "v0.3")  # v0.2's one result is the unreadable one
    assert compared.returncode == 2 and "no revision 'v0.2' in the store" in compared.stderr, compared.stderr
    again = project.cli("run", "suite.yaml")
    assert again.returncode == 0 and len(orjson.loads(project.cli("results", "--format", "json").stdout)) == 2


def test_every_secret_the_harness_holds_is_redacted_in_every_spelling(faulty):
    project, server = faulty
    models = [{"id": "fake-coder", "base_url": server.url, "api_key_env": "FAKE_MODEL_KEY"},
              {"id": "other", "base_url": server.url, "api_key_env": "OTHER_MODEL_CRED"}]  # a harmless-looking name
    project.suite(models=models, revisions=["v0.2"], tiers=["bare"], tasks=["leak"])
    done = project.cli("run", "suite.yaml", env={"OTHER_MODEL_CRED": OTHER_KEY})
    # The scripted provider knows only the first model's key: the other's cell is the harness's setup_error, not done.
    assert done.returncode == 1 and "error: 1 of 2 cells are not done" in done.stderr, done.stderr
    leaked = next(r for r in stored(project).values() if r["cell"]["model"]["id"] == "fake-coder")
    assert leaked["status"] == "ok" and leaked["steps"][0]["input"].startswith("echo "), leaked  # it printed the other model's key
    data = project.stored_bytes()
    assert b"echo" in data and b"[REDACTED]" in data
    for leak in LEAKS + [MODEL_KEY]:
        assert leak.encode() not in data, leak


def test_an_install_sees_an_allow_listed_environment(faulty, tmp_path):
    from agent_eval.run import envs
    from agent_eval.suite import profiles

    project, server = faulty
    spy = spy_package(tmp_path / "spy")  # a new package every time: no environment an earlier run built has it
    project.profile(install={"packages": [str(spy)]})
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    done = project.cli("run", "suite.yaml", env={"MY_CRED": "cred-value-in-an-innocent-name"})
    assert done.returncode == 0, done.stderr
    profile = profiles.load(project.root / "profiles" / "minilib")
    sha = orjson.loads(project.cli("results", "--format", "json").stdout)[0]["sha"]
    seen = spy_saw(envs.environment(profile, profiles.repo_url(profile), sha, resolve_at=RESOLVE_AT).path, spy)["environ"]  # the one the run built
    assert "cred-value-in-an-innocent-name" not in orjson.dumps(seen).decode()
    assert MODEL_KEY not in orjson.dumps(seen).decode() and "PATH" in seen
