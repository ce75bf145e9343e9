"""Environment records: what an environment resolved to (every distribution's name and version, the
library's own version and revision, the Python), kept once per store as envs/<digest>.txt; every
result.json names its digest. Readers compare base's and head's records: a comparison is only of
the library if nothing else in the two environments differs. A result from before records (no
digest) reads as "environment not recorded", never as a difference."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

FOLDER = "envs"
IN_RUN_FOLDER = "environment.txt"  # where a worker that cannot write envs/ (a Job's mount) keeps it
NOT_RECORDED = "environment not recorded"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def keep(root: Path, text: str, folder: Path, shared: bool = True) -> str:
    """The record in the store, once (by its digest); in the run folder when envs/ may not or cannot
    be written (`shared` False: a worker alone, as in a Job)."""
    name = digest(text)
    path = Path(root) / FOLDER / f"{name}.txt"
    if path.is_file():
        return name
    if not shared:
        (folder / IN_RUN_FOLDER).write_text(text)
        return name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(text)
        os.replace(partial, path)
    except OSError:
        (folder / IN_RUN_FOLDER).write_text(text)
    return name


def read(root: Path, name: str | None, folder: str | None = None) -> str | None:
    """A record by digest (from envs/, else the run folder); None when the result has none or it is gone."""
    if not name:
        return None
    for path in (Path(root) / FOLDER / f"{name}.txt", *([Path(root) / folder / IN_RUN_FOLDER] if folder else [])):
        if path.is_file() and digest(text := path.read_text()) == name:
            return text
    return None


def packages(text: str) -> dict[str, str]:
    """name -> version, and `python` -> its version, from a record."""
    found = {}
    for line in text.splitlines():
        if line.startswith("python "):
            found["python"] = line.split()[1]
        elif match := REQUIREMENT.match(line):
            found[match[1].lower()] = line.split("#")[0].strip().split("==", 1)[1] + _local_mark(line)
    return found


def _local_mark(line: str) -> str:
    """A local package's content digest, so an edited one differs though its version does not."""
    mark = re.search(r"# local \S+ ([0-9a-f]+)", line)
    return f" ({mark[1]})" if mark else ""


def library(text: str) -> str | None:
    """The distribution name of the library under test, from the record's `library` line."""
    line = next((x for x in text.splitlines() if x.startswith("library ")), "")
    return line.split()[1].lower() if line else None


def differences(base: str, head: str) -> list[str]:
    """What differs between two records besides the library under test: "numpy 2.1.3 → 2.2.0",
    "+ foo 1.0" (head only), "- bar 2.0" (base only)."""
    old, new = packages(base), packages(head)
    skip = {library(base), library(head)}
    changed = []
    for name in sorted(set(old) | set(new)):
        if name in skip or old.get(name) == new.get(name):
            continue
        if name in old and name in new:
            changed.append(f"{name} {old[name]} → {new[name]}")
        else:
            changed.append(f"+ {name} {new[name]}" if name in new else f"- {name} {old[name]}")
    return changed
