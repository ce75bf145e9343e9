"""The agent's files: what it created, changed or deleted in its working dir, kept beside the trace
as one archive (workspace.tar.gz) with a listing in result.json — what a verifier checked, and
what lets `regrade` run a verifier again.

What the harness put there (inputs, the tier's files, the checkout) is the baseline, by size and
mtime: an untouched checkout costs a stat per file, never a copy. `.git` folders are left out (a
commit's objects are not the agent's files; the files it committed are). The archive holds
created and changed files up to MAX_BYTES; past that a file is listed but not kept, and the result
says so.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from agent_eval.store.kept import ARCHIVE
from agent_eval.store.records import FileChange
from agent_eval.store.redact import redact

MAX_BYTES = int(os.environ.get("AGENT_EVAL_KEEP_BYTES", 20 * 1024 * 1024))  # per run: the agent's files kept at most (bytes)


def baseline(workdir: Path) -> dict[str, tuple[int, int]]:
    """Every file under the working dir (not under .git): relative path -> (size, mtime_ns)."""
    found = {}
    for top, dirs, files in os.walk(workdir):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(top) / name
            stat = path.lstat()
            found[path.relative_to(workdir).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def changes(workdir: Path, before: dict[str, tuple[int, int]]) -> list[FileChange]:
    after = baseline(workdir)
    listing = [FileChange(path=p, size=after[p][0], change="created" if p not in before else "changed")
               for p in sorted(after) if before.get(p) != after[p]]
    return listing + [FileChange(path=p, size=0, change="deleted") for p in sorted(set(before) - set(after))]


def keep(workdir: Path, before: dict[str, tuple[int, int]], folder: Path, secrets: list[str] = (), cap: int | None = None) -> tuple[list[FileChange], str | None]:
    """The listing, and why the archive is short of it (None: it holds every created and changed
    file). Each file is stored with the secrets the harness holds redacted, as traces are."""
    cap = MAX_BYTES if cap is None else cap
    listing = changes(workdir, before)
    if not listing:
        return [], None
    kept, left = 0, []
    with tarfile.open(folder / ARCHIVE, "w:gz") as archive:
        for item in listing:
            if item.change == "deleted":
                continue
            if kept + item.size > cap:
                left.append(item.path)
                item.kept = False
                continue
            path = workdir / item.path
            info = archive.gettarinfo(path, arcname=item.path)
            if info.isfile():
                data = redact(path.read_bytes(), list(secrets))
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:  # a link: kept as a link, never followed
                archive.addfile(info)
            kept += item.size
    cut = f"{len(left)} of the agent's files left out of {ARCHIVE} past its cap of {cap:,} bytes (first: {left[0]})" if left else None
    return listing, cut


def restore(folder: Path, listing: list[FileChange], workdir: Path) -> None:
    """A prepared working dir made into the one the agent left: its kept files written, its deletions done."""
    archive = folder / ARCHIVE
    if archive.is_file():
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(workdir, filter="data")  # no absolute paths, no links out of it
    for item in listing:
        if item.change == "deleted":
            (workdir / item.path).unlink(missing_ok=True)


def tampered(inputs: list[str], source: Path, workdir: Path) -> list[str]:
    """The task's input files the agent changed or deleted: each checksummed as given and as left."""
    digest = lambda path: hashlib.sha256(path.read_bytes()).digest() if path.is_file() else None  # noqa: E731
    return [name for name in inputs if digest(workdir / name) != digest(source / name)]
