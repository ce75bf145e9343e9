"""The edges of the Hub path (issue 22, items 12, 16, 17, 18), against the Hub stand-in: two suites
sharing cells, a connection lost after a Job was created, what `status`, `pull` and `fanout` say
when the Hub or a key is missing or a Job failed, and the wheel a fan-out builds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from conftest import HF_CANARY, rules
from fake_model import FakeModel
from test_jobs import BUCKET, hold, jobs_cli, make_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def hub_model():
    """A scripted model that wants the Hub token as its key."""
    server = FakeModel(rules(), api_key=HF_CANARY)
    yield server
    server.close()


def bucket_files(hub) -> dict[str, bytes]:
    bucket = hub.buckets[BUCKET]
    hub.materialize(bucket)  # what batches added, written into the folder the Jobs mount
    return {p.relative_to(bucket.root).as_posix(): p.read_bytes() for p in bucket.root.rglob("*") if p.is_file()}


def other_suite(project, name: str = "other") -> str:
    """The same cells under another suite name."""
    data = yaml.safe_load((project.root / "suite.yaml").read_text())
    project.write(f"{name}.yaml", {**data, "name": name})
    return f"{name}.yaml"


def test_a_second_suite_with_the_same_cells_submits_nothing_and_leaves_the_running_jobs_inputs(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held)
    first = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert first.returncode == 0 and len(held.jobs) == 3, first.stderr
    before = bucket_files(held)
    mounted = {v["path"] for job in held.jobs.values() for v in job.spec["volumes"]}

    second = jobs_cli(project, "fanout", other_suite(project), "--jobs")
    assert second.returncode == 0, second.stderr
    assert "3 cells already have a live Job: not submitted again" in second.stderr
    assert "nothing submitted" in second.stderr and len(held.jobs) == 3
    after = bucket_files(held)
    assert {p: after[p] for p in before} == before  # no cell.json, snapshot or wheel a running Job reads was rewritten
    assert all(any(p.startswith(m + "/") for p in after) for m in mounted)
    status = jobs_cli(project, "status", "other.yaml")
    assert "suite other: 3 cells · 0 done · 3 running" in status.stdout, status.stdout + status.stderr

    canceled = jobs_cli(project, "cancel", "other.yaml")  # only a suite's own Jobs
    assert "canceled 0 live Jobs of suite other" in canceled.stderr
    assert {j.stage for j in held.jobs.values()} == {"RUNNING"}


def test_two_suites_fanned_out_at_the_same_instant_leave_one_job_per_cell(tmp_path, minilib_repo, hub, hub_model, monkeypatch):
    import threading

    from huggingface_hub import HfApi

    from agent_eval.hub import jobs
    from agent_eval.hub.bucket import BucketStore
    from agent_eval.run import plan

    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held, repeats=2)  # 6 cells
    for name, value in {**project.env(), **project.hub_env}.items():
        monkeypatch.setenv(name, value)
    plans = [plan.make(project.root / "suite.yaml", done=set()), plan.make(project.root / other_suite(project), done=set())]
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
    fanouts = [threading.Thread(target=jobs.launch, args=(made, made.todo, store, options, said.append), name=f"fanout-{k}") for k, made in enumerate(plans)]
    for thread in fanouts:
        thread.start()
    for thread in fanouts:
        thread.join(timeout=300)
    live = Counter(j.spec["labels"]["agent-eval-key"] for j in held.jobs.values() if j.stage in ("SCHEDULING", "RUNNING"))
    assert len(held.jobs) == 12 and len(live) == 6 and set(live.values()) == {1}, said
    # Both fan-outs wrote each run folder's cell.json; whichever Job lives starts from its own, kept with its snapshot.
    files = bucket_files(held)
    for job in (j for j in held.jobs.values() if j.stage == "RUNNING"):
        snapshot = next(v["path"] for v in job.spec["volumes"] if v["mountPath"].endswith("/snapshot"))
        (key,) = re.findall(r"cp /store/suites/\w+/snapshot/cells/(\w+)\.json", job.spec["command"][2])
        assert orjson.loads(files[f"{snapshot}/cells/{key}.json"])["suite"] == job.spec["labels"]["agent-eval-suite"]


def test_a_connection_lost_after_a_job_was_created_is_looked_up_not_resubmitted(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held, repeats=2)  # 6 cells
    held.drop_replies = 3
    done = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert done.returncode == 0, done.stderr
    assert held.drop_replies == 0  # three connections ended with no reply, each after its Job was created
    keys = [j.spec["labels"]["agent-eval-key"] for j in held.jobs.values()]
    assert len(keys) == 6 and len(set(keys)) == 6  # each Job whose reply was lost was found again, not submitted twice
    creates = [r for r in held.requests if r["method"] == "POST" and r["path"] == "/api/jobs/tester"]
    assert len(creates) == 6


def test_status_needs_no_model_key(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held)
    models = [{"id": "org/Fake-Coder:fast", "base_url": hub_model.url, "api_key_env": "HF_TOKEN"},
              {"id": "other-coder", "base_url": hub_model.url, "api_key_env": "MY_CRED"}]
    project.suite(name="suite", models=models, revisions=["main"], tiers=["bare"], tasks=["checksum"])
    status = jobs_cli(project, "status", "suite.yaml")  # MY_CRED is not set here
    assert status.returncode == 0, status.stderr
    assert "suite test: 2 cells · 0 done · 0 running · 0 failed · 2 missing" in status.stdout
    fanout = jobs_cli(project, "fanout", "suite.yaml", "--jobs")  # submitting does need it
    assert fanout.returncode == 2 and "needs the key in MY_CRED" in fanout.stderr


def test_pull_from_an_unreachable_hub_or_a_missing_bucket_is_one_line_and_makes_no_folder(tmp_path, minilib_repo, hub, hub_model):
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
    dest = tmp_path / "pulled"
    away = project.cli("pull", str(dest), "--bucket", BUCKET, env={**project.hub_env, "HF_ENDPOINT": "http://127.0.0.1:9"}, timeout=60)
    assert away.returncode == 2, away.stderr
    (line,) = away.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the Hub at http://127.0.0.1:9") and not dest.exists()
    missing = project.cli("pull", str(dest), "--bucket", "org/no-such-bucket", env=project.hub_env, timeout=60)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1 and "404" in missing.stderr, missing.stderr
    assert not dest.exists()


def test_fanout_counts_a_failed_jobs_result_as_status_does_and_runs_it_again(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held)
    assert jobs_cli(project, "fanout", "suite.yaml", "--jobs").returncode == 0
    bucket = held.buckets[BUCKET].root
    first = min(held.jobs.values(), key=lambda j: j.id)
    for job in held.jobs.values():  # every worker stored a result; the first one's harness failed (setup_error)
        folder = bucket / job.spec["volumes"][0]["path"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_bytes(orjson.dumps({"status": "setup_error" if job is first else "ok"}))
        held.finish(job.id, *(("ERROR", "Job failed with exit code: 3") if job is first else ("COMPLETED",)))
    status = jobs_cli(project, "status", "suite.yaml")
    assert "3 cells · 2 done · 0 running · 1 failed · 0 missing" in status.stdout, status.stdout
    again = jobs_cli(project, "fanout", "suite.yaml", "--jobs")
    assert again.returncode == 0, again.stderr
    assert "2 done, 1 to run" in again.stderr and "submitted 1 Jobs" in again.stderr
    assert len(held.jobs) == 4 and sorted(held.jobs.values(), key=lambda j: j.id)[-1].spec["labels"] == first.spec["labels"]


def checkout_copy(tmp_path: Path) -> Path:
    """This source as a user's git checkout: its files (as they are now), committed."""
    copy = tmp_path / "checkout"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file() and not name.startswith(("tests/", "benchmarks/", "examples/")):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    git = ["git", "-C", str(copy), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "source"], check=True)
    return copy


def wheel_put(hub, said: str) -> set[str]:
    """The files of the wheel a fan-out said it put in the bucket."""
    (remote,) = re.findall(rf"in hf://buckets/{BUCKET}/(wheels/\S+\.whl)", said)
    hub.materialize(hub.buckets[BUCKET])
    return set(zipfile.ZipFile(hub.buckets[BUCKET].root / remote).namelist())


def test_fanout_builds_its_wheel_outside_the_checkout_from_the_source_as_it_is(tmp_path, minilib_repo, hub, hub_model):
    held = hold(hub)
    project = make_project(tmp_path, minilib_repo, hub_model.url, held)
    checkout = checkout_copy(tmp_path)
    (checkout / "agent_eval" / "hub" / "stray.py").write_text("GONE = False\n")  # a new module, not yet committed: in the wheel
    env = {**project.hub_env, "PYTHONPATH": str(checkout)}
    fanout = subprocess.run([sys.executable, "-m", "agent_eval", "fanout", "suite.yaml", "--jobs", "--bucket", BUCKET],
                            cwd=project.root, env=project.env(**env), capture_output=True, text=True, timeout=600)
    assert fanout.returncode == 0, fanout.stderr
    assert str(checkout) in subprocess.run([sys.executable, "-c", "import agent_eval; print(agent_eval.__file__)"],
                                           cwd=project.root, env=project.env(**env), capture_output=True, text=True).stdout  # the copy's code ran
    (checkout / "agent_eval" / "hub" / "stray.py").unlink()  # deleted: the next wheel must not have it
    for job in list(held.jobs):
        held.cancel(job)
    again = subprocess.run([sys.executable, "-m", "agent_eval", "fanout", "suite.yaml", "--jobs", "--bucket", BUCKET],
                           cwd=project.root, env=project.env(**env), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert not (checkout / "build").exists() and not list(checkout.glob("*.egg-info"))  # nothing built in the user's tree
    old, new = wheel_put(held, fanout.stderr), wheel_put(held, again.stderr)
    assert "agent_eval/hub/stray.py" in old and "agent_eval/hub/stray.py" not in new
    assert "agent_eval/hub/jobs.py" in new and "agent_eval/_shipped/report_site/index.html" in new
