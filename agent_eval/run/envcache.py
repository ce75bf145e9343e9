"""The environments in the cache: what each is (profile, revision, size, when last used, which
suites' results used it), and pruning them by age or by what no result references. Every revision,
release and install spec leaves one (the transformers profile's are gigabytes each). Like `uv cache
prune` and `hf cache prune`: list first, `--dry-run` says what would go and how much it frees."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

from pydantic import BaseModel

from agent_eval.store import columns, environments
from agent_eval.suite.cache import cache_dir

from .envs import READY, RECORD, USED


class Cached(BaseModel):
    path: Path
    profile: str
    revision: str  # the library's version and revision, from its record (or the folder's name)
    size: int  # bytes
    last_used: float  # seconds since the epoch
    record: str | None  # the digest results name it by; None: built before environments were recorded
    suites: list[str]  # the suites whose results (in the stores looked at) ran with it


def listing(stores: list[Path]) -> list[Cached]:
    """Every finished environment in the cache, most recently used first."""
    used_by = suites_by_record(stores)
    found = []
    for ready in sorted((cache_dir() / "envs").glob(f"*/{READY}")):
        folder = ready.parent
        text = (folder / RECORD).read_text() if (folder / RECORD).is_file() else None
        record = environments.digest(text) if text else None
        lib = next((line.split(maxsplit=1)[1] for line in (text or "").splitlines() if line.startswith("library ")), None)
        found.append(Cached(path=folder, profile=folder.name.rsplit("-", 2)[0], revision=lib or folder.name.rsplit("-", 2)[1],
                            size=size(folder), last_used=last_used(folder), record=record, suites=sorted(used_by.get(record, set()))))
    return sorted(found, key=lambda c: -c.last_used)


def suites_by_record(stores: list[Path]) -> dict[str, set[str]]:
    """Environment record digest -> the suites whose results in these stores name it."""
    out: dict[str, set[str]] = {}
    for store in stores:
        if (Path(store) / "runs").is_dir():
            for row in columns.rows(Path(store)):
                if row.get("environment"):
                    out.setdefault(row["environment"], set()).add(row["suite"])
    return out


def last_used(folder: Path) -> float:
    marks = [folder / USED, folder / READY]
    return max(m.stat().st_mtime for m in marks if m.exists())


def size(folder: Path) -> int:
    """Bytes on disk, each hard-linked file once (uv links files from its cache)."""
    seen, total = set(), 0
    for top, _, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(top, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def chosen(found: list[Cached], older_than: float | None, unused: bool) -> list[Cached]:
    """What prune removes: last used longer ago than `older_than` seconds, and/or referenced by no result."""
    now = time.time()
    return [c for c in found if (older_than is None or now - c.last_used > older_than) and (not unused or not c.suites)]


def remove(env: Cached) -> bool:
    """Remove one environment unless it is being built (its lock is held): False when skipped."""
    with open(f"{env.path}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        (env.path / READY).unlink(missing_ok=True)  # never half an environment that looks ready
        shutil.rmtree(env.path, ignore_errors=True)
        env.path.with_suffix(".log").unlink(missing_ok=True)
    Path(f"{env.path}.lock").unlink(missing_ok=True)
    return True


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
