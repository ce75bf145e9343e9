"""wordcode's history, built from library/ into a real git repository on first use.

Three tagged revisions, like a library growing agent-friendlier: v1.0 has only a Python API,
v1.1 adds a command-line interface, v1.2 adds a Skill. Fixed dates and author keep the SHAs
(and so every run key) the same on every machine.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from agent_eval.suite.cache import cache_dir

LIBRARY = Path(__file__).parent / "library"
REVISIONS = [
    ("v1.0", "Python API", {"wordcode/__init__.py": "wordcode/__init__.py", "pyproject.toml": "pyproject-api.toml"}),
    ("v1.1", "Command-line interface", {"wordcode/cli.py": "wordcode/cli.py", "pyproject.toml": "pyproject-cli.toml"}),
    ("v1.2", "Skill", {"skills/wordcode/SKILL.md": "skills/wordcode/SKILL.md", "skills/wordcode/examples.md": "skills/wordcode/examples.md",
                       "pyproject.toml": "pyproject-skill.toml"}),
]


def repository() -> Path:
    path = cache_dir() / "quickstart" / f"wordcode-{_digest()}"  # an edit to library/ builds a new history beside the old
    if (path / ".git" / "refs" / "tags" / REVISIONS[-1][0]).is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "agent-eval", "GIT_AUTHOR_EMAIL": "quickstart@agent-eval.invalid",
           "GIT_COMMITTER_NAME": "agent-eval", "GIT_COMMITTER_EMAIL": "quickstart@agent-eval.invalid"}
    git = lambda *args: subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)  # noqa: E731
    git("init", "-q", "-b", "main")
    for day, (tag, message, files) in enumerate(REVISIONS, start=1):
        for dest, source in files.items():
            (path / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(LIBRARY / source, path / dest)
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"2026-06-0{day}T12:00:00Z"
        git("add", "-A")
        git("commit", "-q", "-m", message)
        git("tag", tag)
    return path


def _digest() -> str:
    files = sorted(p for p in LIBRARY.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    content = b"".join(str(p.relative_to(LIBRARY)).encode() + b"\0" + p.read_bytes() for p in files)
    return hashlib.sha256(content).hexdigest()[:10]
