"""The cache every suite shares: git mirrors, revision environments, the pinned pi, the offline
model's weights; and the lock that keeps two processes from building the same thing at once."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    """Where git mirrors, revision environments and the pinned pi live; shared by every suite."""
    root = os.environ.get("AGENT_EVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-eval"
    return Path(root)


@contextmanager
def locked(path: Path):
    """An exclusive lock beside `path`, so two processes never build the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
