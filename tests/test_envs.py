"""Environments a comparison can trust: keyed by the content of local packages, resolved as of the
suite's time, recorded with every result; and a suite with none of these keeps its run keys."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import yaml

import minilib
from fake_model import Reply, Rule

from agent_eval.store import environments

# The run keys of one fixed suite (a profile with no local package), as planned before environments
# were keyed by content and before grading left the run key: plan.py's old formula must still give
# them, so an upgrade re-runs nothing (test_grading_identity.py plans against such a store).
GOLDEN_KEYS = [
    "65d0bdb09ccb2dd478465cb0ecd205f805c6c42a4b853c0577941d2358a01223", "87ac8ceba9821bb7df16cb7c19ef2c864dd631cb20528f371eb13dc8361af00b",
    "b456f42b111e83f5b1dc27cf8835657aba42e6016132a944542de3bc43e6dce4", "e8abeb4f32ef81e9edd39a8b0b641b0ddba348cc13235c8df4f640920daf2535",
]
# The same cells' keys since grading left the run key: what the agent is given, and nothing that grades it.
ACTION_KEYS = [
    "74c66ab72b792a0f57635d2b05e06bce18e3d105b5da8bf9e5be4c3a53d94b15", "857cdfff4b3302a17817507d901c547712b785085c0b4f3098b49feb4834168a",
    "93397bcc5055c1cf0922b7b7594b39aa4ea886d8142d65b56c897f4f4da9b240", "eefb2b5c1af43977a9f3c332469ad14114b00b80d493971ac33f227a5d3bcd0e",
]


def fixed_project(root: Path, minilib_repo: Path, **install) -> Path:
    """A suite whose every input is the same on every machine: the repository is named relatively."""
    shutil.copytree(minilib_repo, root / "minilib-repo")
    profile = {"name": "minilib", "repo": "../../minilib-repo", "install": install} if install else {"name": "minilib", "repo": "../../minilib-repo"}
    (root / "profiles" / "minilib").mkdir(parents=True)
    (root / "profiles" / "minilib" / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    (root / "tasks" / "minilib").mkdir(parents=True)
    (root / "tasks" / "minilib" / "checksum.yaml").write_text(yaml.safe_dump({"prompt": "Checksum of 'agent'?", "expected": str(minilib.checksum("agent"))}))
    suite = {"name": "fixed", "profile": "minilib", "models": [{"id": "m", "base_url": "http://127.0.0.1:9/v1"}],
             "revisions": ["v0.1", "v0.2"], "tiers": ["bare", "clone"]}
    (root / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return root / "suite.yaml"


def test_a_suite_without_local_packages_keeps_its_run_keys(tmp_path, minilib_repo):
    from agent_eval.run import cells, plan

    made = plan.make(fixed_project(tmp_path, minilib_repo))
    assert sorted(c.key for c in made.todo) == ACTION_KEYS
    applicable = {(tier, rev.sha): True for tier in made.suite.tiers for rev in made.revisions}
    legacy = cells.one_shot_cells(made.suite, made.profile, made.tasks, made.revisions, applicable, legacy=True)
    assert sorted(c.key for c in legacy) == GOLDEN_KEYS


def helper_package(folder: Path, value: int) -> Path:
    """A local package beside the library, as a profile might install a wrapper or a plugin."""
    (folder / "helper_pkg").mkdir(parents=True, exist_ok=True)
    (folder / "helper_pkg" / "__init__.py").write_text(f"VALUE = {value}\n")
    (folder / "setup.py").write_text("from setuptools import setup\nsetup(name='helper-pkg', version='0.1', packages=['helper_pkg'])\n")
    return folder


def test_an_edited_local_package_gives_a_new_environment_and_new_runs(project, fake):
    fake.rules.insert(0, Rule("HELPER", [Reply(tool="bash", args={"command": "python -c 'import helper_pkg; print(helper_pkg.VALUE)'"}),
                                          Reply(text="VALUE is {last_tool_output}")]))
    helper = helper_package(project.root / "helper", 1)
    project.profile(install={"packages": ["../../helper"]})  # the profile folder's path, outside the profile
    project.task("value", prompt="HELPER: what is helper_pkg.VALUE?")
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["value"])
    first = project.cli("run", "suite.yaml")
    assert first.returncode == 0, first.stderr
    assert [r["answer"] for r in answers(project)] == ["VALUE is 1"]

    (helper / "build").mkdir()  # a build output and bytecode are not edits
    (helper / "helper_pkg" / "__pycache__").mkdir()
    (helper / "helper_pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert "1 done, 0 to run" in project.cli("run", "suite.yaml", "--dry-run").stderr

    helper_package(helper, 2)
    dry = project.cli("run", "suite.yaml", "--dry-run")
    assert "0 done, 1 to run" in dry.stderr and "local package ../../helper changed since the last run" in dry.stderr, dry.stderr
    second = project.cli("run", "suite.yaml")
    assert second.returncode == 0, second.stderr
    assert sorted(r["answer"] for r in answers(project)) == ["VALUE is 1", "VALUE is 2"]  # the old run stays, the new one saw the edit


def answers(project) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")]


def test_a_git_folder_is_keyed_by_head_and_uncommitted_changes(tmp_path):
    from agent_eval.suite import local

    folder = helper_package(tmp_path / "helper", 1)
    plain = local.digest(folder)
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / ".gitignore").write_text("build/\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    committed = local.digest(folder)
    assert committed != plain
    (folder / "build").mkdir()
    (folder / "build" / "x").write_text("ignored by git")
    assert local.digest(folder) == committed
    (folder / "helper_pkg" / "__init__.py").write_text("VALUE = 2\n")
    edited = local.digest(folder)
    assert edited != committed
    (folder / "helper_pkg" / "new.py").write_text("")  # untracked, not ignored: part of the package
    untracked = local.digest(folder)
    assert untracked != edited
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    assert local.digest(folder) != committed


def test_environments_are_recorded_and_compare_flags_a_dependency_that_differs(project):
    helper = helper_package(project.root / "helper", 1)
    project.profile(install={"packages": ["../../helper"]})
    project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    records = {r["cell"]["revision"]["ref"]: r["environment"] for r in answers(project)}
    texts = {ref: (project.store / "envs" / f"{digest}.txt").read_text() for ref, digest in records.items()}
    assert len(set(records.values())) == 2 and len(list((project.store / "envs").iterdir())) == 2  # once per environment
    assert texts["v0.1"].startswith("python 3.") and "\nlibrary minilib 0.1 at " in texts["v0.1"] and "\nminilib==0.1\n" in texts["v0.1"]
    assert "\nhelper-pkg==0.1  # local ../../helper " in texts["v0.1"]
    same = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert same.returncode == 0 and "environment" not in same.stdout, same.stdout  # only the library differs

    (helper / "setup.py").write_text((helper / "setup.py").read_text().replace("version='0.1'", "version='0.2'"))
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])  # head alone, built later, with the helper moved on
    assert project.cli("run", "suite.yaml").returncode == 0
    flagged = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert "note: head's environment: helper-pkg 0.1 (" in flagged.stdout and "— this comparison mixes that change with the library's" in flagged.stdout, flagged.stdout
    comment = project.cli("compare", "--base", "v0.1", "--head", "v0.2", "--format", "markdown").stdout
    assert "> ⚠️ head's environment: helper-pkg 0.1 (" in comment
    shown = project.cli("explain", "--task", "checksum")
    assert shown.returncode == 0 and "besides the library, vs" in shown.stdout and "helper-pkg" in shown.stdout, shown.stdout

    for path in project.store.glob("runs/*/*/*/*/*/result.json"):  # as a store from before records: none
        path.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(path.read_bytes()).items() if k != "environment"}))
    assert project.cli("reindex").returncode == 0
    old = project.cli("compare", "--base", "v0.1", "--head", "v0.2")
    assert old.returncode == 0 and "environment" not in old.stdout, old.stdout
    assert "environment not recorded" in project.cli("explain", "--task", "checksum").stdout


class PackageIndex:
    """A package index on loopback (PEP 691 JSON, with PEP 700 upload times) holding one project,
    whose releases the test publishes as it goes; every other project is not here (404), so uv
    looks for it in the next index."""

    def __init__(self, project: str):
        self.project, self.files = project, {}  # filename -> (bytes, upload time)
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):  # uv asks whether a wheel can be read in ranges: it cannot
                self.do_GET(body=False)

            def do_GET(self, body: bool = True):
                self.body = body
                if self.path.rstrip("/") == f"/simple/{index.project}":
                    self.reply(orjson.dumps(index.page(f"http://127.0.0.1:{self.server.server_port}")), "application/vnd.pypi.simple.v1+json")
                elif self.path.startswith("/files/") and self.path[7:] in index.files:
                    self.reply(index.files[self.path[7:]][0], "application/octet-stream")
                else:
                    self.send_error(404)

            def reply(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=0, must-revalidate")
                self.end_headers()
                if self.body:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/simple"

    def publish(self, version: str, uploaded: datetime) -> None:
        name = self.project.replace("-", "_")
        files = {f"{name}/__init__.py": f"VERSION = {version!r}\n",
                 f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {self.project}\nVersion: {version}\n",
                 f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
        digest = lambda data: base64.urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b"=").decode()  # noqa: E731
        record = "".join(f"{path},sha256={digest(text)},{len(text.encode())}\n" for path, text in files.items())
        files[f"{name}-{version}.dist-info/RECORD"] = record + f"{name}-{version}.dist-info/RECORD,,\n"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as wheel:
            for path, text in files.items():
                wheel.writestr(path, text)
        self.files[f"{name}-{version}-py3-none-any.whl"] = (out.getvalue(), uploaded)

    def page(self, root: str) -> dict:
        files = [{"filename": f, "url": f"{root}/files/{f}", "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                  "upload-time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")} for f, (data, when) in self.files.items()]
        return {"meta": {"api-version": "1.1"}, "name": self.project, "files": files, "versions": sorted({f.split("-")[1] for f in self.files})}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_environments_built_at_different_times_resolve_alike(project):
    dependency = f"depdemo-{uuid.uuid4().hex[:8]}"
    index = PackageIndex(dependency)
    try:
        index.publish("1.0", datetime(2026, 1, 1, tzinfo=timezone.utc))
        env = {"UV_EXTRA_INDEX_URL": index.url}
        project.profile(install={"packages": [dependency]})
        project.suite(revisions=["v0.1"], tiers=["bare"], tasks=["checksum"], resolve_at=None)  # the default: when first planned
        first = project.cli("run", "suite.yaml", env=env)
        assert first.returncode == 0 and "(now: the suite's first run records it for every later one;" in first.stderr, first.stderr
        recorded = orjson.loads((project.store / "suites" / "test" / "plan.json").read_bytes())["resolve_at"]
        at = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        index.publish("2.0", at + timedelta(hours=1))  # a release after the suite's resolution time

        project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"], resolve_at=None)  # head, built later
        second = project.cli("run", "suite.yaml", env=env)
        assert second.returncode == 0 and f"dependencies resolved as of {recorded} (recorded when the suite was first planned" in second.stderr
        assert "1 done, 1 to run" in second.stderr, second.stderr  # recording the time re-ran nothing
        records = [(project.store / "envs" / f"{r['environment']}.txt").read_text() for r in answers(project)]
        assert all(f"\n{dependency}==1.0\n" in text for text in records), records
        assert "environment" not in project.cli("compare", "--base", "v0.1", "--head", "v0.2").stdout

        later = (at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # moved on purpose, past 2.0
        project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"], resolve_at=later)
        moved = project.cli("run", "suite.yaml", "--dry-run", env=env)
        assert f"resolve_at moved the resolution time from {recorded} to {later}" in moved.stderr and "1 done, 0 to run" in moved.stderr, moved.stderr
        assert project.cli("run", "suite.yaml", "--rerun", env=env).returncode == 0
        flagged = project.cli("compare", "--base", "v0.1", "--head", "v0.2").stdout
        assert f"head's environment: {dependency} 1.0 → 2.0 — this comparison mixes" in flagged, flagged

        project.write("profiles/minilib/pins.txt", f"{dependency}==1.0\n")  # a user who pins: the constraints hold
        project.profile(install={"packages": [dependency], "constraints": "pins.txt"})
        assert project.cli("run", "suite.yaml", "--rerun", env=env).returncode == 0
        assert "environment" not in project.cli("compare", "--base", "v0.1", "--head", "v0.2").stdout
    finally:
        index.close()


def fake_environment(cache: Path, name: str, record: str, days_ago: float, megabytes: int) -> Path:
    """An environment as envs.py leaves one: its files, its record, marked ready and last used `days_ago`."""
    from agent_eval.run import envs

    folder = cache / "envs" / name
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "blob").write_bytes(b"\1" * megabytes * 1_000_000)
    (folder / envs.RECORD).write_text(record)
    for mark in (envs.READY, envs.USED):
        (folder / mark).touch()
        os.utime(folder / mark, (time.time() - days_ago * 86400,) * 2)
    return folder


def test_cache_lists_and_prunes_environments(tmp_path):
    from agent_eval.store.store import Store
    from synthetic import result, revision

    cache, store = tmp_path / "cache", tmp_path / "agent-eval-results"
    kept = "python 3.11.7\nlibrary lib 5.1 at " + revision(1).sha + "\nlib==5.1\n"
    old = fake_environment(cache, f"lib-{revision(1).sha[:10]}-aaaaaaaaaaaaaaaa", kept, days_ago=40, megabytes=2)
    unused = fake_environment(cache, f"lib-{revision(2).sha[:10]}-bbbbbbbbbbbbbbbb", kept.replace("5.1", "5.2"), days_ago=1, megabytes=3)
    recent = fake_environment(cache, f"lib-{revision(3).sha[:10]}-cccccccccccccccc", kept.replace("5.1", "5.3"), days_ago=0, megabytes=1)
    ran = result("org/m", revision(1), "t", "bare").model_copy(update={"environment": environments.digest(kept)})
    Store(store).start(ran.cell)
    Store(store).finish(ran)
    run = lambda *args: subprocess.run([sys.executable, "-m", "agent_eval", "cache", *args], cwd=tmp_path, capture_output=True, text=True,  # noqa: E731
                                       env={**os.environ, "AGENT_EVAL_CACHE": str(cache)})

    listed = run()
    assert listed.returncode == 0 and "3 environments, 6.0 MB" in listed.stderr, listed.stderr
    assert [line.split()[1] for line in listed.stdout.splitlines()] == ["lib", "lib", "lib"]  # most recently used first
    assert "5.1 at " in listed.stdout and "last used   40d ago  synthetic" in listed.stdout, listed.stdout

    dry = run("prune", "--unused", "--dry-run")
    assert f"would remove {unused.name}" in dry.stdout and f"would remove {recent.name}" in dry.stdout and old.name not in dry.stdout
    assert "would free 4.0 MB (2 environments)" in dry.stderr and unused.is_dir() and recent.is_dir()
    aged = run("prune", "--older-than", "30d")
    assert f"removed {old.name}" in aged.stdout and "freed 2.0 MB (1 environments)" in aged.stderr, aged.stderr
    assert not old.exists() and unused.is_dir() and recent.is_dir()
    both = run("prune", "--unused", "--older-than", "12h")
    assert f"removed {unused.name}" in both.stdout and recent.is_dir() and not unused.exists()

    for args, said in ((["prune"], "say what to prune: --older-than 30d"), (["prune", "--older-than", "soon"], "--older-than 'soon' is not a duration")):
        wrong = run(*args)
        assert wrong.returncode == 2 and said in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr
