"""A run's entry in the index: one result.json read into what the index keeps of it — its row of
results.COLUMNS, its details (what the report's run panel shows, zlib-compressed) and its task — or
into the reason it could not be read. Many are read at once on every core (read_many).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from pathlib import Path

import orjson

from . import kept
from .results import COLUMNS, NUMBERS, flat

DETAIL_KEYS = ("answer", "errors", "ended_by", "requests", "markers", "steps", "graders", "score", "tampered", "files_cut")  # what the report's run panel shows
# Of the agent's files, the run panel shows the first FILES_LISTED of the listing and the text of the
# kept text files, FILE_CHARS of each and RUN_CHARS in all: a report of 100k runs stays a size to ship.
FILES_LISTED, FILE_CHARS, RUN_CHARS = 200, 4_000, 8_000
TASK_KEYS = ("id", "prompt", "expected", "match", "files")  # what the report shows of a task


def read(store: str, path: str) -> tuple:
    """One run folder as ("row", values…) for the runs table, or ("bad", path, size, mtime, reason)."""
    file = f"{store}/{path}/result.json"
    try:
        st = os.stat(file)
        with open(file, "rb") as f:
            data = f.read()
    except OSError as err:
        return ("bad", path, None, None, f"cannot read: {err.strerror}")
    try:
        result = orjson.loads(data)
        row = flat(result)
        detail = {"folder": row["folder"], **{key: result.get(key) for key in DETAIL_KEYS}, **files_shown(Path(store) / path, result)}  # as lenient as flat()
        task = {k: result["cell"]["task"].get(k) for k in TASK_KEYS}
        values = [orjson.dumps(row[c]).decode() if c == "markers" else row[c] for c in COLUMNS]
        odd = next((c for c, v in zip(COLUMNS, values) if not isinstance(v, (int, float, type(None)) if c in NUMBERS else (str, int, float, type(None)))), None)
        if odd:
            raise TypeError(f"field {odd} is {type(row[odd]).__name__}, not a number{'' if odd in NUMBERS else ' or a string'}")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        return ("bad", path, st.st_size, st.st_mtime_ns, reason(err))
    info = orjson.dumps(task)
    task_id = hashlib.blake2b(info, digest_size=8).hexdigest()
    return ("row", path, st.st_size, st.st_mtime_ns, *values, task_id, zlib.compress(orjson.dumps(detail), 1), info)


def files_shown(folder: Path, result: dict) -> dict:
    """The agent's files as the run panel shows them: the listing (cut), and the kept text files' text."""
    files = result.get("files") or []
    if not files:
        return {}
    shown = {"files": files[:FILES_LISTED], "files_total": len(files), "texts": {}}
    if any(f.get("kept", True) and f.get("change") != "deleted" for f in files):
        try:
            shown["texts"] = kept.excerpts(folder, FILE_CHARS, RUN_CHARS)
            inputs = set(result["cell"]["task"].get("files") or [])
            originals = folder.parents[5] / "suites" / result["cell"]["suite"] / "snapshot" / "tasks"  # runs/<sha>/<model>/<tier>/<task>/<run>
            shown["diffs"] = kept.diffed(shown["texts"], [f["path"] for f in files if f.get("change") == "changed" and f["path"] in inputs], originals)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:  # the listing stands; the panel says why no text
            shown["texts_error"] = f"{kept.ARCHIVE} could not be read: {err}"
    return shown


def reason(err: Exception) -> str:
    if isinstance(err, orjson.JSONDecodeError):
        return f"not valid JSON ({err})"
    if isinstance(err, KeyError):
        return f"missing field {err}"
    return f"unexpected shape ({err})"


def read_many(store: Path, paths: list[str]) -> list[tuple]:
    """Many run folders at once: on every core when there are enough to pay for the processes."""
    if len(paths) < 2000 or (os.cpu_count() or 1) < 2:
        return [read(str(store), p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor  # here: multiprocessing costs every reader's start 20 ms to import

    chunk = max(500, len(paths) // ((os.cpu_count() or 1) * 4))
    with ProcessPoolExecutor(min(os.cpu_count() or 1, 8)) as pool:
        parts = pool.map(_read_chunk, [(str(store), paths[i : i + chunk]) for i in range(0, len(paths), chunk)])
        return [row for part in parts for row in part]


def _read_chunk(job: tuple[str, list[str]]) -> list[tuple]:
    store, paths = job
    return [read(store, p) for p in paths]
