"""Publishing against a local stand-in of the Hub: the Space is created static and private, the
committed files are the built site (one commit), traces go to a tagged Dataset, redacted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from conftest import HF_CANARY as TOKEN
from hub_standin import HubStandIn
from synthetic import plan, result, revision, write
from agent_eval.read import report


@pytest.fixture
def store(tmp_path) -> Path:
    a = revision(2)
    results = [result("m1", a, "t1", "bare", r).model_dump(mode="json") for r in range(3)]
    store = write(tmp_path / "store", results, [plan("pub", ["m1"], [a], ["t1"], ["bare"], 3)])
    for folder in store.glob("runs/*/*/*/*/*"):
        (folder / "trace.jsonl").write_text('{"type":"session","version":3}\n{"type":"message","note":"token ' + TOKEN + ' leaked by a tool"}\n')
    return store


def cli(hub: HubStandIn, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run([sys.executable, "-m", "agent_eval", *args], env=env, capture_output=True, text=True, timeout=120)


def test_publish_report_creates_a_private_static_space_with_the_built_site(hub, store, tmp_path):
    dry = cli(hub, "publish-report", str(store), "--space", "org/agent-eval-report", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"dry run: would upload {8 + len(report.SCRIPTS)} files" in dry.stderr and "private static Space org/agent-eval-report" in dry.stderr
    assert not hub.repos  # nothing was created

    done = cli(hub, "publish-report", str(store), "--space", "org/agent-eval-report")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{hub.url}/spaces/org/agent-eval-report"
    space = hub.repos["space:org/agent-eval-report"]
    assert (space.sdk, space.private, len(space.commits)) == ("static", True, 1)
    assert set(space.files) == {"README.md", "index.html", *report.SCRIPTS, "style.css", "data.js", "echarts.min.js", "details/000-0000.js", "reads.js", "views.js"}
    assert b"sdk: static" in space.files["README.md"]
    card = yaml.safe_load(space.files["README.md"].decode().split("---")[1])  # front matter the Hub can parse
    assert card["sdk"] == "static" and card["title"].startswith("agent-eval: ")
    local = tmp_path / "local-site"
    assert cli(hub, "report", str(store), "--out", str(local)).returncode == 0
    for name in (*report.SCRIPTS, "style.css", "echarts.min.js", "details/000-0000.js"):
        assert space.files[name] == (local / name).read_bytes()
    published = orjson.loads(space.files["data.js"].removeprefix(b"window.REPORT=").rstrip(b";\n"))
    assert published["meta"]["trace_base"] == "" and published["meta"]["runs"] == 3

    again = cli(hub, "publish-report", str(store), "--space", "org/agent-eval-report", "--public")
    assert again.returncode == 0, again.stderr  # an existing Space is reused: a second commit
    assert len(space.commits) == 2


def test_upload_traces_is_a_dry_run_until_push_and_redacts(hub, store):
    dry = cli(hub, "upload-traces", str(store), "--dataset", "org/traces")
    assert dry.returncode == 0 and "would upload 3 traces" in dry.stderr and "add --push" in dry.stderr
    assert not hub.repos

    done = cli(hub, "upload-traces", str(store), "--dataset", "org/traces", "--push")
    assert done.returncode == 0, done.stderr
    dataset = hub.repos["dataset:org/traces"]
    assert dataset.private and b"agent-traces" in dataset.files["README.md"]
    traces = {p: b for p, b in dataset.files.items() if p.endswith("trace.jsonl")}
    assert len(traces) == 3 and all(p.startswith("runs/") for p in traces)
    assert all(TOKEN.encode() not in b and b"[REDACTED]" in b for b in traces.values())


def test_hub_errors_are_one_line(hub, store):
    env_bad = cli(hub, "publish-report", str(store), "--space", "nospace")
    assert env_bad.returncode == 2 and env_bad.stderr.strip().startswith("error: --space is required as ORG/NAME")
    hub.token = "another-token"  # ours is now refused
    refused = cli(hub, "publish-report", str(store), "--space", "org/x")
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "401" in lines[0]
    assert TOKEN not in refused.stderr


def test_the_saved_hub_login_is_redacted_when_hf_token_is_also_set(project, fake, hub, tmp_path):
    from fake_model import Reply, Rule

    saved, stored, refresh = "hf_saved_login_4e1d77ab", "hf_stored_token_90c2f3de", "hf_refresh_token_c0ffee42"
    home = tmp_path / "hf-home"  # `hf auth login` saved these; HF_TOKEN (another token) is set as well
    home.mkdir()
    (home / "token").write_text(saved + "\n")
    (home / "stored_tokens").write_text(f"[work]\nhf_token = {stored}\nrefresh_token = {refresh}\nexpires_at = 1999999999\n")
    read = f"cat {home}/token {home}/stored_tokens"
    fake.rules.insert(0, Rule("Read the login", [Reply(tool="bash", args={"command": read}), Reply(text="Login: {last_tool_output}")]))
    project.task("login", prompt="Read the login and report it.", expected="Login")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["login"])
    env = {"AGENT_EVAL_SANDBOX": "off", "HF_HOME": str(home), "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
    ran = project.cli("run", "suite.yaml", env=env)
    assert ran.returncode == 0, ran.stderr
    assert saved.encode() in b"".join(fake.bodies)  # the agent did read them (the control: no sandbox here)
    secrets = [s.encode() for s in (saved, stored, refresh)]
    stored_bytes = project.stored_bytes()
    assert not [s for s in secrets if s in stored_bytes] and b"[REDACTED]" in stored_bytes

    published = project.cli("upload-traces", str(project.store), "--dataset", "org/traces", "--push", env=env)
    assert published.returncode == 0, published.stderr
    (trace,) = [b for p, b in hub.repos["dataset:org/traces"].files.items() if p.endswith("trace.jsonl")]
    assert not [s for s in secrets if s in trace] and b"Login: " in trace


def test_publish_says_the_real_visibility_and_changes_it_only_when_asked(hub, store):
    first = cli(hub, "publish-results", str(store), "--dataset", "org/res", "--public")
    assert first.returncode == 0, first.stderr
    assert "to the public Dataset org/res (new)" in first.stderr and not hub.repos["dataset:org/res"].private
    again = cli(hub, "publish-results", str(store), "--dataset", "org/res")
    assert "committed 3 rows to the public Dataset org/res\n" in again.stderr and not hub.repos["dataset:org/res"].private
    dry = cli(hub, "publish-results", str(store), "--dataset", "org/res", "--private", "--dry-run")
    assert "to the private Dataset org/res (was public)" in dry.stderr and not hub.repos["dataset:org/res"].private
    hidden = cli(hub, "publish-results", str(store), "--dataset", "org/res", "--private")
    assert "to the private Dataset org/res (was public)" in hidden.stderr and hub.repos["dataset:org/res"].private

    shown = cli(hub, "publish-report", str(store), "--space", "org/rep", "--public")
    assert "to the public static Space org/rep (new)" in shown.stderr and not hub.repos["space:org/rep"].private
    kept = cli(hub, "publish-report", str(store), "--space", "org/rep")
    assert kept.returncode == 0 and "to the public static Space org/rep\n" in kept.stderr and not hub.repos["space:org/rep"].private


def test_republishing_a_report_leaves_exactly_the_new_report_in_the_space(hub, store, tmp_path):
    assert cli(hub, "publish-report", str(store), "--space", "org/rep").returncode == 0
    space = hub.repos["space:org/rep"]
    new = set(space.files)
    space.files |= {"details/001-1000.js": b"old answers", "old-view.js": b"old", ".gitattributes": b"*.js text"}  # an earlier, larger report's
    again = cli(hub, "publish-report", str(store), "--space", "org/rep")
    assert again.returncode == 0, again.stderr
    assert set(space.files) == new | {".gitattributes"} and len(space.commits) == 2  # one commit added and deleted


def test_the_space_title_names_only_suites_with_runs_and_never_cuts_one(hub, tmp_path):
    a = revision(2)
    names = ["first-release-comparison-of-the-library", "second-long-suite-name", "third"]
    results = []
    for k, name in enumerate(names):
        row = result("m1", a, f"t{k}", "bare").model_dump(mode="json")
        row["cell"]["suite"] = name
        results.append(row)
    store = write(tmp_path / "titled", results, [plan(n, ["m1"], [a], ["t0"], ["bare"], 1) for n in [*names, "planned-but-never-run"]])
    done = cli(hub, "publish-report", str(store), "--space", "org/titled")
    assert done.returncode == 0, done.stderr
    card = yaml.safe_load(hub.repos["space:org/titled"].files["README.md"].decode().split("---")[1])
    assert card["title"] == "agent-eval: first-release-comparison-of-the-library +2 more", card["title"]
    assert "planned-but-never-run" not in hub.repos["space:org/titled"].files["README.md"].decode()
