"""Local paths among a profile's install requirements (`install.packages: [./helper]`): which
requirements name one, where it is, and a digest of what it holds, so an edit gives a new
environment and a new run key, and no edit reuses the old ones."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

EXTRAS = re.compile(r"\[[^\]]*\]$")


def path_text(requirement: str) -> str | None:
    """The path a requirement names, as written, or None: `./x`, `/x`, `~/x`, `x/y[extra]`,
    `name @ file:///x`. A URL (`git+https://…`) or a name with a version is not a path."""
    text = requirement.strip()
    if "@" in text and not text.startswith(("/", ".", "~")):
        text = text.split("@", 1)[1].strip()
    text = text.removeprefix("file://")
    if "://" in text or text.startswith("-") or ";" in text:
        return None
    text = EXTRAS.sub("", text)
    return text if text.startswith((".", "/", "~")) or "/" in text else None


def where(text: str, base: Path) -> Path:
    """A written path, absolute: relative ones are the profile folder's."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else (base / path).absolute()


def absolute(requirement: str, base: Path) -> str:
    """The requirement with its local path made absolute, so the install finds it from anywhere."""
    text = path_text(requirement)
    return requirement if text is None else requirement.replace(text, str(where(text, base)), 1)


def paths(requirements: list[str], base: Path) -> dict[str, Path]:
    """Every local path among the requirements: as written -> where it is."""
    return {text: where(text, base) for text in map(path_text, requirements) if text is not None}


# Made by building or running a package, never its source: an edit there is not an edit.
IGNORED_DIRS = {"__pycache__", ".git", "build", "dist", ".eggs", ".tox", ".nox", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def digest(path: Path) -> str:
    """What a local requirement holds. A file: its bytes. A git work tree: the folder's tree at
    HEAD, the uncommitted diff and the untracked files git does not ignore. Any other folder: every
    file's path and bytes, build outputs, __pycache__ and .git left out."""
    if path.is_file():
        return _hash_files([path], path.parent)
    tracked = _git_state(path)
    if tracked is not None:
        return tracked
    files = []
    for top, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.endswith(".egg-info"))
        files += [Path(top, n) for n in names if not n.endswith((".pyc", ".pyo"))]
    return _hash_files(files, path)


def _git_state(path: Path) -> str | None:
    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=True, stdin=subprocess.DEVNULL).stdout

    try:
        tree = git("rev-parse", "HEAD:./")  # this folder's tree, so commits elsewhere in the repository do not count
        diff = git("diff", "HEAD", "--binary", "--", ".")
        untracked = git("ls-files", "--others", "--exclude-standard", "-z", "--", ".").split(b"\0")
    except (subprocess.CalledProcessError, OSError):  # not a work tree, no commit yet, or no git
        return None
    extra = _hash_files([path / os.fsdecode(n) for n in untracked if n], path)
    return hashlib.sha256(b"git\0" + tree + b"\0" + diff + b"\0" + extra.encode()).hexdigest()


def _hash_files(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        if file.is_symlink() and not file.exists():
            continue
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest() if sys.version_info >= (3, 11) else hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def digests(requirements: list[str], base: Path) -> dict[str, str]:
    """Every local path among the requirements, as written -> the digest of what it holds."""
    return {text: digest(path) for text, path in paths(requirements, base).items()}
