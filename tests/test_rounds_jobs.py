"""`fanout --jobs --until-decided --watch` against the Hub stand-in: each round's cells as Jobs
(the real wheel, worker and pi), pulled into the suite's store, looked at, and stopped when decided."""

from __future__ import annotations

import orjson

from test_jobs import BUCKET, hub_model, jobs_cli, make_project  # noqa: F401  (hub_model: a fixture)
from test_rounds import DECISION, tasks


def test_fanout_in_rounds_stops_when_decided_and_records_it_in_the_bucket(tmp_path, minilib_repo, pi_ready, hub, hub_model):  # noqa: F811
    project = make_project(tmp_path, minilib_repo, hub_model.url, hub)
    tasks(project, checksum=5)
    model = {"id": "org/Fake-Coder:fast", "name": "Fake", "base_url": hub_model.url, "api_key_env": "HF_TOKEN"}
    project.suite(name="suite", models=[model], revisions=[{"ref": "v0.1"}, {"ref": "v0.2"}], tiers=["bare"], repeats=3, decision=DECISION)
    no_watch = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--until-decided")
    assert no_watch.returncode == 2 and "needs --watch" in no_watch.stderr

    done = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--until-decided", "--watch", "--poll", "0.3", "--max-parallel", "4")
    assert done.returncode == 0, done.stderr + "\n".join(line for job in hub.jobs.values() for _, line in job.log)
    assert "round 1/3: 10 cells" in done.stderr and "-> stop (decided)" in done.stderr
    assert "decided after 1 of 3 rounds: 10 of 30 runs (33%), 20 saved" in done.stderr
    assert len(hub.jobs) == 10  # round 1 only
    hub.materialize(hub.buckets[BUCKET])  # what the last batch added, written into the bucket's folder
    in_bucket = orjson.loads((hub.root / "buckets" / BUCKET / "suites" / "test" / "plan.json").read_bytes())
    assert in_bucket["sequential"]["stopped"] == "decided" and in_bucket["sequential"]["round"] == 1
    comment = project.cli("compare", "--base", "v0.1", "--head", "v0.2", "--format", "markdown")  # on the store it pulled into
    assert comment.returncode == 0 and "decided after 1 of 3 rounds (33% of the maximum runs)" in comment.stdout, comment.stderr

    again = jobs_cli(project, "fanout", "suite.yaml", "--jobs", "--until-decided", "--watch", "--poll", "0.3")
    assert again.returncode == 0 and "decided after 1 of 3 rounds" in again.stderr and len(hub.jobs) == 10  # resumed: no Job more
