"""The cache every suite shares: git mirrors, revision environments, the pinned pi, the offline
model's weights; and the lock that keeps two processes from building the same thing at once."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    """Where git mirrors, revision environments and the pinned pi live; shared by every suite."""
    root = os.environ.get("AGENT_EVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-eval"
    return Path(root)


def mirror_path(url: str) -> Path:
    """The cache's bare git mirror of `url`. Here, not beside the git code in repo.py: the report
    looks for mirrors, and importing GitPython for that cost it 40 ms and more."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", url).strip("-")[-40:]
    return cache_dir() / "repos" / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


@contextmanager
def locked(path: Path):
    """An exclusive lock beside `path`, so two processes never build the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
