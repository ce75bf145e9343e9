"""Fan-out on Hugging Face Jobs against the Hub stand-in: the stand-in runs each Job's command as a
local process with the bucket mapped to a folder, so every cell goes through the real wheel, the
real worker and the real pi, and its files come back through the real hf_xet client."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter

import orjson
import pytest

from conftest import HF_CANARY, PROMPTS, RESOLVE_AT, Project, rules
from fake_model import FakeModel
from hub_standin import HubStandIn
import minilib
from agent_eval.read import report

BUCKET = "org/evals"


@pytest.fixture
def hub_model():
    """A scripted model that wants the Hub token as its key, so HF_TOKEN travels all the way."""
    server = FakeModel(rules(), api_key=HF_CANARY)
    yield server
    server.close()


def hold(hub: HubStandIn) -> HubStandIn:
    """Jobs that never run: they stay RUNNING until the test ends them."""
    hub.execute = False
    return hub


def make_project(tmp_path, minilib_repo, model_url: str, hub: HubStandIn, **suite) -> Project:
    project = Project(tmp_path, minilib_repo, model_url)
    project.profile()
    project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")))
    model = {"id": "org/Fake-Coder:fast", "name": "Fake", "base_url": model_url, "api_key_env": "HF_TOKEN"}
    project.suite(name="suite", models=[model], revisions=[{"ref": "v0.1"}, {"ref": "main"}], tiers=["bare", "skill"], **suite)
    project.hub_env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(tmp_path / "hf-home")}
    return project


def jobs_cli(project: Project, *args: str, timeout: float = 300):
    return project.cli(*args, "--bucket", BUCKET, timeout=timeout, env=project.hub_env)


def bucket_bytes(hub: HubStandIn) -> bytes:
    return b"".join(p.read_bytes() for p in (hub.root / "buckets").rglob("*") if p.is_file())


def comparable(result: dict) -> dict:
    """What a cell measured, without its timings and its scratch folder's random name."""
    keep = ("status", "matched", "answer", "turns", "tool_calls", "tokens", "tokens_trace", "requests", "markers", "errors", "steps")
    text = orjson.dumps({k: result[k] for k in keep}).decode()
    return orjson.loads(re.sub(r"agent-eval-[0-9a-f]{8}-[A-Za-z0-9_]+", "SCRATCH", text))


def report_numbers(store) -> dict:
    """The report's aggregates by model, revision and tier, timings aside."""
    t = report.build(store, store / "report")
    rows = report.aggregate(t, report.select(t), ["model", "revision", "tier"])
    return {key: {k: v for k, v in row.items() if k != "wall"} for key, row in rows.items()}


def by_key(store) -> dict[str, dict]:
    return {r["cell"]["key"]: r for r in (orjson.loads(p.read_bytes()) for p in store.glob("runs/*/*/*/*/*/result.json"))}


def test_fanout_runs_every_cell_as_a_job_and_matches_a_local_run(tmp_path, minilib_repo, pi_ready, hub, hub_model):
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)

    dry = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--dry-run", "--flavor", "cpu-upgrade", "--timeout", "45m")
    assert dry.returncode == 0, dry.stderr
    assert "0 cells done in hf://buckets/org/evals; 0 have a live Job; 3 Jobs to submit" in dry.stderr
    spec = orjson.loads(dry.stdout[dry.stdout.index("{"):])
    assert spec["flavor"] == "cpu-upgrade" and spec["timeout"] == 2700 and spec["secrets"] == ["HF_TOKEN"]
    # Each Job mounts its own run folder read-write; the snapshot and the wheel read-only.
    assert [(v["mountPath"], v.get("path"), v["readOnly"]) for v in spec["volumes"]][1:] == [
        ("/store/suites/test/snapshot", "snapshots/<snapshot hash>", True),  # the fan-out's own, where no later one writes
        ("/store/wheels/<version>-<source hash>", "wheels/<version>-<source hash>", True),
    ]
    own = spec["volumes"][0]
    assert own["mountPath"] == "/store/" + own["path"] and own["path"].startswith("runs/") and own["readOnly"] is False
    assert "cost ceiling: $0.07 = 3 Jobs × 45 min × $0.03/h on cpu-upgrade" in dry.stderr
    assert not hub.jobs and not hub.buckets  # a dry run submits and creates nothing

    done = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--watch", "--poll", "0.5", "--max-parallel", "2")
    assert done.returncode == 0, done.stderr + "\n".join(line for job in hub.jobs.values() for _, line in job.log)
    assert "3/3 results in hf://buckets/org/evals" in done.stderr
    assert len(hub.jobs) == 3 and {j.stage for j in hub.jobs.values()} == {"COMPLETED"}
    for job in hub.jobs.values():
        spec = job.spec
        assert spec["secrets"] == {"HF_TOKEN": HF_CANARY}
        assert spec["labels"]["agent-eval-suite"] == "test" and spec["labels"]["model"] == "org-Fake-Coder-fast"
        assert HF_CANARY not in orjson.dumps({k: v for k, v in spec.items() if k != "secrets"}).decode()
        assert all(HF_CANARY not in line for _, line in job.log)
        assert "uv tool run" in spec["command"][2] and "/store/wheels/" in spec["command"][2]  # the wheel of this source
    assert HF_CANARY.encode() not in bucket_bytes(hub)
    written = {p.relative_to(hub.root / "buckets" / BUCKET).as_posix() for p in (hub.root / "buckets" / BUCKET).rglob("*") if p.is_file()}
    folders = {job.spec["volumes"][0]["path"] for job in hub.jobs.values()}
    outside = {p for p in written if not any(p.startswith(f + "/") for f in folders)}
    assert all(p.startswith(("suites/test/snapshot/", "snapshots/", "wheels/")) for p in outside - {"suites/test/plan.json"}), outside  # each Job wrote only its own folder
    for folder in folders:  # so its environment's record is in its run folder, not in envs/
        kept = hub.root / "buckets" / BUCKET / folder
        record = (kept / "environment.txt").read_text()
        assert orjson.loads((kept / "result.json").read_bytes())["environment"] == hashlib.sha256(record.encode()).hexdigest()

    again = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert again.returncode == 0 and "3 done, 0 to run" in again.stderr and len(hub.jobs) == 3  # resumed: nothing new
    make_project(tmp_path, minilib_repo, hub_model.url, hub, resolve_at=None)  # the time now comes from the bucket's plan
    held = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--dry-run")
    assert f"dependencies resolved as of {RESOLVE_AT} (recorded when the suite was first planned" in held.stderr, held.stderr
    assert "3 done, 0 to run" in held.stderr

    status = jobs_cli(project, "status", "suite.yaml")
    assert "suite test: 3 cells · 3 done · 0 running · 0 failed · 0 missing" in status.stdout, status.stderr

    pulled = project.cli("pull", str(tmp_path / "pulled"), "--bucket", BUCKET, env=project.hub_env)
    assert pulled.returncode == 0, pulled.stderr
    assert "(3 results)" in pulled.stderr
    assert "0 files fetched" in project.cli("pull", str(tmp_path / "pulled"), "--bucket", BUCKET, env=project.hub_env).stderr

    local = project.cli("run", "suite.yaml", "--store", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    remote, here = by_key(tmp_path / "pulled"), by_key(tmp_path / "local")
    assert remote.keys() == here.keys() and len(remote) == 3
    for key in remote:
        assert comparable(remote[key]) == comparable(here[key])
    assert {r["cell"]["tier"]: r["matched"] for r in remote.values() if r["cell"]["revision"]["ref"] == "main"} == {"bare": True, "skill": True}
    numbers = report_numbers(tmp_path / "pulled")
    assert numbers == report_numbers(tmp_path / "local") and len(numbers) == 3
    assert [row["match"] for row in numbers.values()].count(100.0) == 2  # v0.1 has no CLI: that cell misses

    site = project.cli("report", f"hf://buckets/{BUCKET}", "--out", str(tmp_path / "site"), env=project.hub_env)
    assert site.returncode == 0 and "3 runs" in site.stderr, site.stderr


def test_failed_and_killed_jobs_show_in_status_and_retry_resubmits_only_them(tmp_path, minilib_repo, pi_ready, hub, hub_model):
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
    short = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--watch", "--poll", "0.3", "--timeout", "1s")
    assert short.returncode == 1
    assert short.stderr.count("Job timeout") == 3 and "    | " in short.stderr  # each failure, with its log tail
    assert "0/3 results" in short.stderr and "agent-eval retry suite.yaml --failed --bucket org/evals" in short.stderr

    status = jobs_cli(project, "status", "suite.yaml")
    assert "3 cells · 0 done · 0 running · 3 failed · 0 missing" in status.stdout
    assert status.stdout.count("(Job timeout)") == 3

    retried = jobs_cli(project, "retry", "suite.yaml", "--failed", "--watch", "--poll", "0.3", "--max-parallel", "1")
    assert retried.returncode == 0, retried.stderr
    assert "3 of 3 cells failed or missing" in retried.stderr and "3/3 results" in retried.stderr
    assert len(hub.jobs) == 6

    # A Job killed mid-run (a lost node): only its cell is failed, and only it is retried.
    rerun = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--rerun", "--max-parallel", "1", "--poll", "0.2")
    assert rerun.returncode == 0, rerun.stderr
    newest = sorted(hub.jobs.values(), key=lambda j: j.created)[-1]
    while newest.stage == "SCHEDULING":
        time.sleep(0.05)
    hub.kill(newest.id)
    deadline = time.time() + 120
    while any(j.stage in ("SCHEDULING", "RUNNING") for j in hub.jobs.values()) and time.time() < deadline:
        time.sleep(0.2)
    status = jobs_cli(project, "status", "suite.yaml")
    assert "2 done · 0 running · 1 failed · 0 missing" in status.stdout, status.stdout
    assert "node lost" in status.stdout
    retried = jobs_cli(project, "retry", "suite.yaml", "--failed", "--watch", "--poll", "0.3")
    assert "1 of 3 cells failed or missing" in retried.stderr and retried.returncode == 0, retried.stderr
    assert HF_CANARY.encode() not in bucket_bytes(hub)


def test_rate_limits_lost_replies_and_live_jobs_never_make_duplicates(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held, repeats=4)  # 12 cells
    held.refuse_creates, held.lose_replies = 15, 3
    first = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert first.returncode == 0, first.stderr
    assert "the Hub answered 429" in first.stderr and "trying again in" in first.stderr  # what is retried, and why
    keys = [j.spec["labels"]["agent-eval-key"] for j in held.jobs.values()]
    assert len(keys) == 12 and len(set(keys)) == 12  # every cell once, despite 429s and lost replies
    creates = [r for r in held.requests if r["method"] == "POST" and r["path"] == "/api/jobs/tester"]
    assert len(creates) == 12 + 15  # lost replies were found again by label, not resubmitted

    second = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert second.returncode == 0 and "12 cells already have a live Job: not submitted again" in second.stderr
    assert len(held.jobs) == 12
    status = jobs_cli(project, "status", "suite.yaml")
    assert "12 cells · 0 done · 12 running" in status.stdout

    canceled = jobs_cli(project, "cancel", "suite.yaml")
    assert "canceled 12 live Jobs" in canceled.stderr and {j.stage for j in held.jobs.values()} == {"CANCELED"}


def test_two_fanouts_at_the_same_instant_leave_one_job_per_cell(tmp_path, minilib_repo, hub, hub_model, monkeypatch):
    from huggingface_hub import HfApi

    from agent_eval.hub import jobs
    from agent_eval.run import plan
    from agent_eval.hub.bucket import BucketStore

    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held, repeats=2)  # 6 cells
    for name, value in {**project.env(), **project.hub_env}.items():
        monkeypatch.setenv(name, value)
    made = plan.make(project.root / "suite.yaml", done=set())
    store = BucketStore(BUCKET, api=HfApi(endpoint=hub.url, token=HF_CANARY))
    store.ensure()
    options = jobs.Options(namespace="tester", timeout=600, poll=0.2)
    both_looked = threading.Barrier(2)
    real = jobs.jobs_of

    def look_then_wait(*args):  # the race: both fan-outs look before either submits
        found = real(*args)
        if threading.current_thread().name.startswith("fanout"):
            both_looked.wait(timeout=60)
        return found

    monkeypatch.setattr(jobs, "jobs_of", look_then_wait)
    said: list[str] = []
    fanouts = [threading.Thread(target=jobs.launch, args=(made, made.todo, store, options, said.append), name=f"fanout-{k}") for k in range(2)]
    for thread in fanouts:
        thread.start()
    for thread in fanouts:
        thread.join(timeout=300)
    live = Counter(j.spec["labels"]["agent-eval-key"] for j in held.jobs.values() if j.stage in ("SCHEDULING", "RUNNING"))
    assert len(held.jobs) == 12 and len(live) == 6 and set(live.values()) == {1}, said  # both submitted; one Job per cell lives
    assert any("canceled 6 Jobs that another fan-out submitted" in line for line in said), said


def test_max_parallel_bounds_the_live_jobs(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held, repeats=3)  # 9 cells
    peak, stop = [0], threading.Event()

    def scheduler():  # ends each Job a moment after it starts, noting how many were live at once
        while not stop.is_set():
            live = [j for j in list(held.jobs.values()) if j.stage == "RUNNING"]
            peak[0] = max(peak[0], len(live))
            for job in live:
                if time.time() - job.started > 0.3:
                    held.finish(job.id)
            time.sleep(0.02)

    thread = threading.Thread(target=scheduler, daemon=True)
    thread.start()
    try:
        done = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--max-parallel", "2", "--poll", "0.2")
    finally:
        stop.set()
    assert done.returncode == 0, done.stderr
    assert len(held.jobs) == 9 and peak[0] == 2


def test_bad_input_is_one_line(tmp_path, minilib_repo, hub, hub_model):
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
    cases = {
        ("fanout", "suite.yaml"): "fanout needs --jobs",
        ("fanout", "suite.yaml", "--jobs", "--flavor", "gpu-dream"): "--flavor 'gpu-dream' is not a Jobs flavor; choose one of: cpu-basic",
        ("fanout", "suite.yaml", "--jobs", "--timeout", "soon"): "--timeout 'soon' is not a duration",
        ("retry", "suite.yaml"): "--failed",
    }
    for args, message in cases.items():
        done = jobs_cli(project, *args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    no_bucket = project.cli("status", "suite.yaml", env=project.hub_env)
    assert no_bucket.returncode == 2 and "--bucket is required" in no_bucket.stderr
    for name in ("nope", "org/a--b", "org/.hidden", "org/a/b"):  # the Hub's own rules for names
        bad_bucket = project.cli("status", "suite.yaml", "--bucket", name, env=project.hub_env)
        assert bad_bucket.returncode == 2 and "is not a valid ORG/NAME" in bad_bucket.stderr, name
    wrong_token = project.cli("status", "suite.yaml", "--bucket", BUCKET, env={**project.hub_env, "HF_TOKEN": "hf_wrong_token_123"})
    assert wrong_token.returncode == 2 and "hf_wrong_token_123" not in wrong_token.stderr
    (line,) = wrong_token.stderr.strip().splitlines()  # the status, the server's own words, and the fix
    assert "the Hub answered 401" in line and "Invalid user token" in line and "set HF_TOKEN or run `hf auth login`" in line


def test_an_unreachable_hub_is_one_line_with_the_cause():
    import httpx2

    from agent_eval.cli.common import one_line

    with pytest.raises(httpx2.TransportError) as caught:
        httpx2.get("http://127.0.0.1:9/api/whoami-v2")  # nothing listens on port 9
    assert one_line(caught.value).startswith("cannot reach the Hub at ") and "Connection refused" in one_line(caught.value)


def test_each_job_gets_only_the_key_of_its_own_model(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held)
    models = [{"id": "org/Fake-Coder:fast", "base_url": hub_model.url, "api_key_env": "HF_TOKEN"},
              {"id": "other-coder", "base_url": hub_model.url, "api_key_env": "MY_CRED"}]
    project.suite(name="suite", models=models, revisions=["main"], tiers=["bare"], tasks=["checksum"])
    done = project.cli("fanout", "suite.yaml", "--jobs", "--bucket", BUCKET, env={**project.hub_env, "MY_CRED": "my-cred-canary-0042"})
    assert done.returncode == 0, done.stderr
    assert "submitted 2 Jobs" in done.stderr
    secrets = {j.spec["labels"]["model"]: j.spec["secrets"] for j in held.jobs.values()}
    assert secrets == {"org-Fake-Coder-fast": {"HF_TOKEN": HF_CANARY}, "other-coder": {"MY_CRED": "my-cred-canary-0042"}}
    again = project.cli("fanout", "suite.yaml", "--jobs", "--bucket", BUCKET, env={**project.hub_env, "MY_CRED": "my-cred-canary-0042"})
    assert "nothing submitted (every cell to run has a live Job)" in again.stderr


JUDGE_CANARY = "judge-key-canary-0077"


def test_a_judges_key_reaches_its_job_as_a_secret_and_nowhere_else(tmp_path, minilib_repo, pi_ready, hub, hub_model):
    from fake_model import Reply, Rule

    judge = FakeModel([Rule("JUDGE-OK", [Reply(text='{{"score": 0.9, "reason": "right checksum"}}', prompt_tokens=300, completion_tokens=7)])],
                      api_key=JUDGE_CANARY)  # answers only a request that carries the judge's own key
    try:
        project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
        project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")), judge={"model": "strict", "rubric": "JUDGE-OK"})
        model = {"id": "org/Fake-Coder:fast", "name": "Fake", "base_url": hub_model.url, "api_key_env": "HF_TOKEN"}
        project.suite(name="suite", models=[model], revisions=["main"], tiers=["bare"],
                      judges={"strict": {"id": "judge-model", "base_url": judge.url, "api_key_env": "JUDGE_KEY"}})

        unset = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
        assert unset.returncode == 2 and unset.stderr.count("\n") == 1 and "JUDGE_KEY" in unset.stderr, unset.stderr
        assert not hub.jobs and not hub.buckets  # nothing built, put or submitted

        env = {**project.hub_env, "JUDGE_KEY": JUDGE_CANARY}
        done = project.cli("fanout", "suite.yaml", "--jobs", "--watch", "--poll", "0.5", "--bucket", BUCKET, env=env)
        assert done.returncode == 0, done.stderr + "\n".join(line for job in hub.jobs.values() for _, line in job.log)
        (job,) = hub.jobs.values()
        assert job.spec["secrets"] == {"HF_TOKEN": HF_CANARY, "JUDGE_KEY": JUDGE_CANARY}
        assert JUDGE_CANARY not in orjson.dumps({k: v for k, v in job.spec.items() if k != "secrets"}).decode()  # not in env, labels, argv
        assert all(JUDGE_CANARY not in line for _, line in job.log)
        assert JUDGE_CANARY.encode() not in bucket_bytes(hub)
        (result,) = by_key(hub.root / "buckets" / BUCKET).values()
        verdict = result["graders"][-1]
        assert (verdict["kind"], verdict["status"], verdict["output"]) == ("judge", "passed", "right checksum")  # the key reached the Job's judge call
        assert verdict["tokens"] == {"new": 300, "cached": 0, "generated": 7}
    finally:
        judge.close()
