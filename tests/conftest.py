"""Shared fixtures: a test cache, the minilib git repo, a scripted model, and a project folder
(profile + tasks + suite) pointing at both. Everything runs on loopback with the real pi."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fake_model import FakeModel
from hub_standin import HubStandIn
import minilib
from kit import HF_CANARY, MODEL_KEY, PROMPTS, RESOLVE_AT, Project, rules  # noqa: F401  (tests import them from here)

# A cache of its own, kept between runs on one machine: pi is installed once, and the minilib
# SHAs are fixed, so each revision's environment is built once too.
os.environ.setdefault("AGENT_EVAL_CACHE", str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-eval-tests"))

# pi's retries after a provider error, 0.1 s apart and doubling instead of 2 s: the fault tests wait less.
os.environ.setdefault("AGENT_EVAL_PI_RETRY_MS", "100")

# Every CLI the tests start runs this checkout's code, whatever `pip install -e` last pointed at.
CHECKOUT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))


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
