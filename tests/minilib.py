"""A tiny real library with real git history, built by the tests:

  v0.1  Python API only: minilib.checksum(text)
  v0.2  adds a command-line interface: `minilib checksum TEXT`
  v0.3  adds a Skill: skills/minilib/SKILL.md
  main  = v0.3

Commits carry fixed dates and authors, so the SHAs (and the cached environments keyed by them)
are the same on every run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def checksum(text: str) -> int:
    """The library's one computation, here too so tests know the right answer."""
    return sum((i + 1) * ord(c) for i, c in enumerate(text)) % 9973


API = '''"""minilib: a checksum nobody knows by heart."""


def checksum(text: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(text)) % 9973
'''

CLI = '''import argparse

from minilib import checksum


def main() -> None:
    parser = argparse.ArgumentParser(prog="minilib")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("checksum").add_argument("text")
    options = parser.parse_args()
    print(checksum(options.text))
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "minilib"
version = "{version}"
{scripts}
[tool.setuptools]
packages = ["minilib"]
'''

SKILL = '''---
name: minilib
description: How to compute minilib checksums from the shell. Use for any minilib task.
---
# minilib

Run `minilib checksum TEXT` to print the checksum of TEXT.
'''


def build(dest: Path) -> Path:
    dest.mkdir(parents=True)
    env = {
        **os.environ, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)

    def write(path: str, text: str) -> None:
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_text(text)

    git("init", "-q", "-b", "main")
    write("minilib/__init__.py", API)
    write("pyproject.toml", PYPROJECT.format(version="0.1", scripts=""))
    git("add", "-A")
    git("commit", "-q", "-m", "Python API")
    git("tag", "v0.1")

    write("minilib/cli.py", CLI)
    write("pyproject.toml", PYPROJECT.format(version="0.2", scripts='[project.scripts]\nminilib = "minilib.cli:main"\n'))
    git("add", "-A")
    git("commit", "-q", "-m", "Command-line interface")
    git("tag", "v0.2")

    write("skills/minilib/SKILL.md", SKILL)
    git("add", "-A")
    git("commit", "-q", "-m", "Skill")
    git("tag", "v0.3")
    return dest
