"""A small real git repository laid out like transformers, built by the tests (the real one, its
torch stack and the Hub models are out of reach here):

  v5.8.0, v5.9.0  src/transformers/: pipeline() and the Auto classes (stand-ins that answer at once)
  cli             adds the `transformers` command and src/transformers/cli/agentic/*.py
  cli-skill       adds src/transformers/cli/agentic/_skill_derive.py, what the Skill is made from

Fixed dates and authors, so the SHAs (and the environments cached by them) never change.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "transformers"
version = "{version}"
{scripts}
[tool.setuptools.packages.find]
where = ["src"]
'''

LIBRARY = '''"""Stand-ins with the real names: enough for an agent's script to run and print an answer."""

ANSWERS = {"text-classification": "POSITIVE 0.9999", "fill-mask": "paris 0.41"}


def pipeline(task, model=None):
    return lambda *args, **kwargs: ANSWERS.get(task, "?")


class _Auto:
    @classmethod
    def from_pretrained(cls, name):
        return cls()

    def classify(self, tokenizer, text):
        return "POSITIVE 0.9999"


class AutoTokenizer(_Auto):
    pass


class AutoModelForSequenceClassification(_Auto):
    pass
'''

AGENTIC_TEXT = '''"""Text commands; each loads its model with the Auto classes (here: answers at once)."""

from transformers import pipeline


def classify(text: str, model: str = "") -> str:
    """Classify a text into labels with scores."""
    return pipeline("text-classification", model)(text)


def fill_mask(text: str, model: str = "") -> str:
    """Predict the masked token of a text."""
    return pipeline("fill-mask", model)(text)


def tokenize(text: str, model: str = "") -> str:
    """Split a text into tokens and count them."""
    return f"num_tokens: {len(text.split()) + 1}"
'''

CLI_MAIN = '''import argparse

from transformers.cli.agentic import text


def main() -> None:
    parser = argparse.ArgumentParser(prog="transformers")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("classify", "fill-mask", "tokenize"):
        sub = commands.add_parser(name, help=getattr(text, name.replace("-", "_")).__doc__)
        sub.add_argument("--text", required=True)
        sub.add_argument("--model", default="")
    options = parser.parse_args()
    print(getattr(text, options.command.replace("-", "_"))(options.text, options.model))
'''

SKILL_DERIVE = '''"""Derives the Skill's manifest from the agentic commands (the real one introspects Typer)."""
'''


def build(dest: Path) -> dict[str, str]:
    """The repository at `dest`; returns {name: full SHA} of the four revisions."""
    dest.mkdir(parents=True)
    env = {
        **os.environ, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2026-05-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-05-01T00:00:00Z",
    }

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True, text=True).stdout.strip()

    def write(path: str, content: str) -> None:
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_text(content)

    def commit(message: str, tag: str) -> str:
        git("add", "-A")
        git("commit", "-q", "-m", message)
        git("tag", tag)
        return git("rev-parse", "HEAD")

    git("init", "-q", "-b", "main")
    shas = {}
    write("src/transformers/__init__.py", LIBRARY)
    for version in ("5.8.0", "5.9.0"):
        write("pyproject.toml", PYPROJECT.format(version=version, scripts=""))
        shas[f"v{version}"] = commit(f"Release {version}", f"v{version}")
    write("src/transformers/cli/__init__.py", "")
    write("src/transformers/cli/transformers.py", CLI_MAIN)
    write("src/transformers/cli/agentic/__init__.py", "")
    write("src/transformers/cli/agentic/text.py", AGENTIC_TEXT)
    write("pyproject.toml", PYPROJECT.format(version="5.10.0.dev0", scripts='[project.scripts]\ntransformers = "transformers.cli.transformers:main"\n'))
    shas["cli"] = commit("Agentic CLI with examples", "cli")
    write("src/transformers/cli/agentic/_skill_derive.py", SKILL_DERIVE)
    shas["cli-skill"] = commit("Skill derived from the CLI", "cli-skill")
    return shas
