"""Scratch folders: a cell's working dir, HOME and pi's raw session, the sandbox's bridge, a model
server's log. Each is removed when its cell ends; but a harness killed by SIGKILL removes nothing,
and its folders hold the agent's raw session. So each folder holds a lock for as long as its owner
lives (the kernel drops it when the owner dies, however it dies), and `sweep` — run by every
`agent-eval run` and by `doctor --fix` — removes the folders whose lock nobody holds."""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import threading
from pathlib import Path

PREFIX = "agent-eval-"
LOCK = ".agent-eval-owner"  # inside each folder: locked by the process that made it
_held: dict[Path, object] = {}  # folder -> its open, locked lock file
_lock = threading.Lock()


def make(kind: str) -> Path:
    """A new scratch folder in the system's temporary folder, locked by this process."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-"))
    handle = open(folder / LOCK, "w")  # noqa: SIM115 - held open until remove()
    fcntl.flock(handle, fcntl.LOCK_EX)
    with _lock:
        _held[folder] = handle
    return folder


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with _lock:
        handle = _held.pop(folder, None)
    if handle:
        handle.close()


def sweep() -> int:
    """Remove the scratch folders of processes that died without cleaning up; how many there were."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if folder in _held or not (folder / LOCK).is_file():
            continue
        try:
            with open(folder / LOCK) as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # got it: its owner is gone
        except (BlockingIOError, OSError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
