"""The agent-eval a Job installs: this very source as a wheel, built from a clean copy of it in a
temporary folder. A build inside the checkout would leave build/ and *.egg-info in the user's tree,
and setuptools' build/lib would carry a module deleted since the last build into the next wheel."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import uv

SHIPPED = ("pyproject.toml", "README.md", "agent_eval", "profiles", "tasks", "report_site")  # what pyproject.toml packages
SKIPPED = {"__pycache__", "node_modules", "build", "dist"}


class WheelError(Exception):
    pass


def source_files(root: Path) -> list[str]:
    """The files that make the package, relative to the checkout: in a git checkout those tracked or
    new and not ignored, that still exist; elsewhere every file of the shipped folders."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SHIPPED],
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked sdist): the folders as they are
        listed = [p.relative_to(root).as_posix() for name in SHIPPED for p in [root / name, *(root / name).rglob("*")]]
    return sorted({name for name in listed if name and (root / name).is_file() and not name.endswith(".pyc")
                   and not any(part in SKIPPED or part.endswith(".egg-info") for part in Path(name).parts[:-1])})


def digest(root: Path, files: list[str]) -> str:
    """The source version: a hash of every file's path and bytes."""
    found = hashlib.sha256()
    for name in files:
        found.update(name.encode() + b"\0" + (root / name).read_bytes())
    return found.hexdigest()[:12]


def build(root: Path, files: list[str], out: Path) -> Path:
    """The wheel of exactly `files`, built from a copy of them; written in `out`."""
    with tempfile.TemporaryDirectory(prefix="agent-eval-source-") as scratch:
        source = Path(scratch)
        for name in files:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, source / name)
        built = subprocess.run([uv.find_uv_bin(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(source)], capture_output=True, text=True)
    if built.returncode:
        raise WheelError(f"could not build the agent-eval wheel from {root}: {(built.stderr.strip().splitlines() or ['?'])[-1]}")
    (wheel,) = out.glob("*.whl")
    return wheel
