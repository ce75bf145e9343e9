"""What the tests and the benchmarks share, with no pytest in it (a benchmark runs with only the
package installed): the scripted model's rules and keys, and a project folder like a user's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from fake_model import Reply, Rule

# Every test suite resolves as of one fixed time, so the environments the cache keeps serve them all
# (a suite's default, the time it is first planned, would build them anew for each test's store).
RESOLVE_AT = "2026-11-01T00:00:00Z"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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


def chromium_page(playwright):
    """Headless Chromium and a page whose `errors` collects every page error and console error or
    warning (a report must show none): (browser, page)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(f"page error: {err}"))
    page.on("console", lambda msg: page.errors.append(f"console {msg.type}: {msg.text}") if msg.type in ("error", "warning") else None)
    return browser, page


def report_details(path: Path) -> tuple[list[dict], dict]:
    """A report's details/PPP-NNNN.js, read as the page reads it: each run's details (one zlib
    stream a run, base64 of them all) and the file's reads columns."""
    import base64
    import zlib

    import orjson

    text = path.read_bytes()
    packed, reads = orjson.loads(b"[" + text[text.index(b",") + 1 : text.rindex(b")")] + b"]")
    streams, at = base64.b64decode(packed["z"]), packed["at"]
    return [orjson.loads(zlib.decompress(streams[a:b])) for a, b in zip(at, at[1:])], reads
