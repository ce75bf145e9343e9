"""agent-eval: measure how much work a coding agent needs to use a library."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

__version__ = "0.1.0"


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


def is_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret (HF_TOKEN, *_KEY, *_SECRET…)."""
    return any(word in name.upper() for word in ("TOKEN", "KEY", "SECRET", "PASSWORD"))


def load_results(store: str | Path = "agent-eval-results"):
    """Every result of a store as flat rows (dicts with the columns of `agent-eval results --format
    json`), read through the store's index; `.to_pandas()` gives a DataFrame when pandas is installed."""
    from .export import load_results as load

    return load(store)
