"""The agent's files kept in a run folder (workspace.tar.gz, written by run/workfiles.py), read back
as text: what a judge is shown and what assertions look in."""

from __future__ import annotations

import difflib
import tarfile
from pathlib import Path

ARCHIVE = "workspace.tar.gz"


def texts(folder: Path, most: int) -> list[tuple[str, str]]:
    """The kept files that read as UTF-8 text, each cut to `most` characters, by path."""
    archive = folder / ARCHIVE
    if not archive.is_file():
        return []
    found = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read(most * 4)
                if b"\0" in data:  # binary
                    continue
                text = data.decode("utf-8", errors="replace")
                found.append((member.name, text if len(text) <= most else text[:most] + "…"))
    return sorted(found)


def excerpts(folder: Path, per_file: int, per_run: int) -> dict[str, str]:
    """What a reader shows of the kept text files: each cut to `per_file` characters, and no more than
    `per_run` in all (files past it, by path, are listed without their text)."""
    shown, left = {}, per_run
    for path, text in texts(folder, per_file):
        if left <= 0:
            break
        shown[path] = text if len(text) <= left else text[:left] + "…"
        left -= len(text)
    return shown


def diffed(texts: dict[str, str], changed: list[str], originals: Path) -> list[str]:
    """Each changed file that was a task input (a copy beside the task in `originals`, the suite's
    snapshot) shown as a unified diff against it rather than whole: `texts` is updated in place; the
    paths shown so."""
    done = []
    for path in changed:
        original = originals / path
        if path in texts and original.is_file() and not texts[path].endswith("…"):  # a cut text would diff as deletions
            try:
                before = original.read_text(encoding="utf-8").splitlines(keepends=True)
            except (UnicodeDecodeError, OSError):
                continue
            texts[path] = "".join(difflib.unified_diff(before, texts[path].splitlines(keepends=True), f"task input {path}", f"left by the agent {path}"))
            done.append(path)
    return done
