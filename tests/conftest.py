"""Shared fixtures: a test cache, the minilib git repo, a scripted model, and a project folder
(profile + tasks + suite) pointing at both. Everything runs on loopback with the real pi."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fake_model import FakeModel, Reply, Rule
from hub_standin import HubStandIn
import minilib

# A cache of its own, kept between runs on one machine: pi is installed once, and the minilib
# SHAs are fixed, so each revision's environment is built once too.
os.environ.setdefault("AGENT_EVAL_CACHE", str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-eval-tests"))

# Every CLI the tests start runs this checkout's code, whatever `pip install -e` last pointed at.
CHECKOUT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))
# Every test suite resolves as of one fixed time, so the environments the cache keeps serve them all
# (a suite's default, the time it is first planned, would build them anew for each test's store).
RESOLVE_AT = "2026-11-01T00:00:00Z"
MODEL_KEY = "canary-model-key-5f2c9a"  # must never land in a stored file
HF_CANARY = "hf_canary_token_81d3e0aa"

PROMPTS = {
    "checksum": "Use the minilib command-line tool to find the checksum of the text 'agent'. Reply with the number.",
    "api": "Use the Python API of minilib to compute the checksum of 'hello'. Reply with the number.",
    "explore": "List the files in the working directory.",
}


def rules() -> list[Rule]:
    answer = Reply(text="The checksum is {last_tool_output}.", prompt_tokens=1300, cached_tokens=1024, completion_tokens=9)
    cli = Reply(text="Let me run it.", tool="bash", args={"command": "minilib checksum agent"})
    return [
        Rule("checksum of the text 'agent'", [Reply(tool="read", args={"path": "{skill_location}"}), cli, answer], system_contains="<available_skills>"),
        Rule("checksum of the text 'agent'", [cli, answer]),
        Rule("Python API of minilib", [Reply(tool="bash", args={"command": "python -c \"import minilib; print(minilib.checksum('hello'))\""}), answer]),
        Rule("List the files", [Reply(tool="bash", args={"command": "ls"}), Reply(text="Files: {last_tool_output}")]),
        Rule("RETRY", [Reply(status=503, fail_times=1, text="recovered")]),
        Rule("BADREQUEST", [Reply(status=400)]),
        Rule("SILENT", [Reply(empty=True)]),
        Rule("LOOP", [Reply(tool="bash", args={"command": "echo again"})]),
        Rule("SLOW", [Reply(text="too late", stall=30)]),  # it answers, too slowly: the agent's timeout
    ]


@pytest.fixture(scope="session")
def pi_ready():
    from agent_eval.run.agent import ensure_pi

    return ensure_pi()


@pytest.fixture(scope="session")
def minilib_repo(tmp_path_factory) -> Path:
    return minilib.build(tmp_path_factory.mktemp("upstream") / "minilib")


@pytest.fixture
def hub():
    """A stand-in of the Hub endpoints we use, on loopback; HF_CANARY is its one valid token."""
    server = HubStandIn(token=HF_CANARY)
    yield server
    server.close()


@pytest.fixture
def fake():
    server = FakeModel(rules(), api_key=MODEL_KEY)
    yield server
    server.close()


class Project:
    """A folder with profiles/, tasks/ and suite files, like a user's."""

    def __init__(self, root: Path, repo: Path, model_url: str):
        self.root, self.repo, self.model_url = root, repo, model_url
        self.store = root / "agent-eval-results"

    def profile(self, **overrides) -> Path:
        data = {
            "name": "minilib", "description": "a test library", "repo": str(self.repo),
            "skill": {"path": "skills/minilib"},
            "markers": [
                {"name": "cli", "where": "command", "pattern": r"\bminilib\s+checksum", "description": "called the CLI"},
                {"name": "python-api", "where": "code", "pattern": r"import minilib", "description": "wrote Python using it"},
                {"name": "skill-read", "where": "file_read", "pattern": r"SKILL\.md", "description": "opened the Skill"},
            ],
            **overrides,
        }
        return self.write("profiles/minilib/profile.yaml", data)

    def task(self, name: str, **fields) -> Path:
        return self.write(f"tasks/minilib/{name}.yaml", fields)

    def suite(self, name: str = "suite", **overrides) -> Path:
        data = {
            "name": "test", "profile": "minilib",
            "models": [{"id": "fake-coder", "name": "Fake", "base_url": self.model_url, "api_key_env": "FAKE_MODEL_KEY"}],
            "revisions": [{"ref": "v0.1", "name": "API only"}, {"ref": "v0.2", "name": "CLI"}, {"ref": "main", "name": "Skill"}],
            "budgets": {"timeout": 60},
            "resolve_at": RESOLVE_AT,
            **overrides,
        }
        return self.write(f"{name}.yaml", {k: v for k, v in data.items() if v is not None})

    def write(self, relative: str, data) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "FAKE_MODEL_KEY": MODEL_KEY, "HF_TOKEN": HF_CANARY, **extra}

    def cli(self, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "agent_eval", *args], cwd=self.root, env=self.env(**(env or {})),
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )

    def stored_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.store.rglob("*") if p.is_file())


@pytest.fixture
def bare_project(tmp_path, minilib_repo) -> Project:
    """A profile, one task and a suite whose model is nowhere: for checks that never call it."""
    project = Project(tmp_path, minilib_repo, "http://127.0.0.1:9/v1")
    project.profile()
    project.task("checksum", prompt="What is the checksum of 'a'?", expected="97")
    project.suite()
    return project


@pytest.fixture
def project(tmp_path, minilib_repo, fake, pi_ready) -> Project:
    project = Project(tmp_path, minilib_repo, fake.url)
    project.profile()
    project.task("checksum", prompt=PROMPTS["checksum"], expected=str(minilib.checksum("agent")))
    project.task("api", prompt=PROMPTS["api"], expected=str(minilib.checksum("hello")))
    return project


def spy_package(folder: Path, looks_at: list[Path] = ()) -> Path:
    """A local package whose setup.py records what its build saw: the environment, and each file of
    `looks_at` it could read. The record ships inside the package (spy_pkg/seen.json): the build may
    write nowhere else. A fresh nonce makes every spy a new package, which no cache holds."""
    import uuid

    (folder / "spy_pkg").mkdir(parents=True)
    (folder / "spy_pkg" / "__init__.py").write_text("")
    nonce = uuid.uuid4().hex
    (folder / "nonce").write_text(nonce)
    (folder / "setup.py").write_text(
        "import json, os\nfrom setuptools import setup\n"
        "def read(path):\n"
        "    try:\n        return open(os.path.expanduser(path)).read()\n"
        "    except OSError as err:\n        return f'unreadable: {err.strerror}'\n"
        f"seen = {{'nonce': {nonce!r}, 'environ': dict(os.environ), 'files': {{p: read(p) for p in {[str(p) for p in looks_at]!r}}}}}\n"
        "json.dump(seen, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'spy_pkg', 'seen.json'), 'w'))\n"
        "setup(name='spy-pkg', version='0.1', packages=['spy_pkg'], package_data={'spy_pkg': ['seen.json']})\n")
    return folder


def spy_saw(env_path: Path, spy: Path) -> dict:
    """What this spy's build saw (not an earlier spy's, in an environment built before)."""
    import orjson

    (found,) = env_path.glob("lib/python*/site-packages/spy_pkg/seen.json")
    seen = orjson.loads(found.read_bytes())
    assert seen["nonce"] == (spy / "nonce").read_text(), "the environment was built from an earlier spy"
    return seen
