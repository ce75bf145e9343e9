"""Environments: the venv a revision is installed into, built once (under a lock) and shared by its
cells. Installing runs the revision's build scripts, code under test, so the install runs in the
sandbox where there is one (sandbox.install_command)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import orjson
import uv

from agent_eval.store.redact import is_secret
from agent_eval.suite import local, releases, repo
from agent_eval.suite.cache import cache_dir, locked
from agent_eval.suite.config import Profile

from . import sandbox, scratch
from .prepare import Env, SetupError

READY = ".agent-eval-ready"
# The library under test is exempt from the resolution time (a release published after it can still
# be compared): uv takes a date per package, so one no upload reaches.
EXEMPT = "2999-12-31T00:00:00Z"
USED = ".agent-eval-used"  # touched whenever a sweep or worker takes it: `agent-eval cache` shows when
RECORD = "environment.txt"  # what it resolved to (describe), beside it; the store keeps a copy by digest


def install_requirements(profile: Profile, source: Path, sha: str) -> list[str]:
    spec = profile.install.spec.format(source=source, sha=sha, repo=profile.repo)
    if profile.install.extras:
        spec = f"{spec}[{','.join(profile.install.extras)}]"
    return [spec, *packages(profile)]


def packages(profile: Profile) -> list[str]:
    """The profile's extra requirements, local paths made absolute (they are the profile folder's)."""
    return [local.absolute(p, profile.root) for p in profile.install.packages]


def environment(profile: Profile, url: str, sha: str, release: releases.Release | None = None, resolve_at: str | None = None) -> Env:
    """The venv with the library at `sha` installed (or the `release`, from the package index), its
    dependencies resolved as of `resolve_at` (the suite's resolution time). Keyed by SHA + install
    steps + Python + the content of local packages and constraints + that time, built under a lock."""
    if release:
        steps = releases.install_steps(release, profile.install.extras, packages(profile))
    else:
        repo.ensure(url, sha)
        steps = [install_requirements(profile, repo.export(url, sha), sha)]
    library = release.project if release else repo.export(url, sha)
    python = profile.install.python or sys.executable
    contents = profile.local or local.digests(profile.install.packages, profile.root)
    constraints = local.where(profile.install.constraints, profile.root) if profile.install.constraints else None
    # What local packages and constraints hold counts, not only where they are; without any of these
    # (as before they counted), the key is as it was.
    more = {k: v for k, v in {"local": contents, "resolve_at": resolve_at, "constraints": constraints and local.digest(constraints)}.items() if v}
    key = hashlib.sha256(orjson.dumps([sha, steps, python, *([more] if more else [])])).hexdigest()[:16]
    env = Env(path=cache_dir() / "envs" / f"{profile.name}-{sha[:10]}-{key}")
    ready = env.path / READY
    if not (ready.is_file() and (env.path / RECORD).is_file()):
        with locked(env.path):
            if not ready.is_file():
                pins = ["-c", str(constraints)] if constraints else []
                exempt = ["--exclude-newer-package", f"{release.project}={EXEMPT}"] if resolve_at and release else []
                _build(env, python, steps, [*(["--exclude-newer", resolve_at] if resolve_at else []), *exempt], pins)
            if not (env.path / RECORD).is_file():  # also one built before environments were recorded
                (env.path / RECORD).write_text(describe(env, sha, library, profile, contents))
            ready.touch()
    (env.path / USED).touch()
    return env


def _build(env: Env, python: str, steps: list[list[str]], options: list[str], pins: list[str]) -> None:
    """A new venv, each step installed into it with `options` (the resolution time) and `pins` (the
    constraints; not with --require-hashes: that step is the release alone, pinned by its hashes)."""
    shutil.rmtree(env.path, ignore_errors=True)
    log = env.path.with_suffix(".log")
    uv_bin = uv.find_uv_bin()
    _run([uv_bin, "venv", "--quiet", "--python", python, str(env.path)], log, "create the venv")
    for requirements in steps:
        pinned = [] if "--require-hashes" in requirements else pins
        install([uv_bin, "pip", "install", "--python", str(env.bin / "python"), *options, *pinned, *requirements], env, log)


def describe(env: Env, sha: str, library: str | Path, profile: Profile, contents: dict[str, str]) -> str:
    """The environment's record: the Python, the library (its distribution, version and revision),
    then every distribution as name==version, a local one marked with its path and content digest.
    Read from the venv's metadata, no code of it run."""
    import importlib.metadata

    site = next(env.path.glob("lib/python*/site-packages"))
    where = {local.where(text, profile.root).resolve(): text for text in contents}
    lines, name_of_library = [], library if isinstance(library, str) else None
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name, origin = dist.metadata["Name"], _origin(dist)
        if origin is not None and origin == (None if isinstance(library, str) else Path(library).resolve()):
            name_of_library = name
        mark = f"  # local {where[origin]} {contents[where[origin]][:16]}" if origin in where else ""
        lines.append(f"{name.lower()}=={dist.version}{mark}")
    version = next((line.split("==")[1].split()[0] for line in lines if name_of_library and line.startswith(f"{name_of_library.lower()}==")), "?")
    python = next((v.strip() for k, _, v in (x.partition("=") for x in (env.path / "pyvenv.cfg").read_text().splitlines())
                   if k.strip() in ("version_info", "version")), "?")
    head = [f"python {python}", f"library {(name_of_library or profile.name).lower()} {version} at {sha}"]
    return "\n".join(head + sorted(set(lines))) + "\n"


def _origin(dist) -> Path | None:
    """The local folder a distribution was installed from (its direct_url.json), if any."""
    try:
        url = orjson.loads(dist.read_text("direct_url.json") or "null")
    except orjson.JSONDecodeError:
        return None
    found = (url or {}).get("url", "")
    return Path(unquote(found.removeprefix("file://"))).resolve() if found.startswith("file://") else None


def record(env: Env) -> str | None:
    """The record written beside the environment when it was built (None: an environment made elsewhere)."""
    path = env.path / RECORD
    return path.read_text() if path.is_file() else None


# What an install may see of our environment. Installing a revision runs its build scripts, code
# under test: an allow-list, so a key in a variable with an innocent name (MY_CRED) stays with us.
INSTALL_ENV = re.compile(r"PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_\w+|TERM|TZ|TMPDIR|SHELL|XDG_\w+|SOURCE_DATE_EPOCH"
                         r"|(?i:https?_proxy|no_proxy)|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE"
                         r"|(PIP|UV)_\w+")


def install_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if INSTALL_ENV.fullmatch(k) and not is_secret(k)}


def install(cmd: list[str], env: Env, log: Path) -> None:
    """One `uv pip install`, in the sandbox when there is one (the plan's header says when not)."""
    if sandbox.isolation().name == "none":
        _run(cmd, log, "install the library")
        return
    folders, files = _local_args(cmd, env)
    staging = scratch.make("build")
    try:
        staged = {}
        for n, folder in enumerate(folders):
            staged[folder] = staging / str(n)
            shutil.copytree(folder, staged[folder], symlinks=True)
        cache = cache_dir() / "uv"  # ours, not the user's: a build may write to it
        cache.mkdir(parents=True, exist_ok=True)
        outside = {k: v for k, v in install_environment().items() if k not in ("HOME", "TMPDIR") and not k.startswith("XDG_")}
        inside = {**outside, "HOME": str(sandbox.BUILD_HOME), "TMPDIR": "/tmp", "UV_CACHE_DIR": str(cache)}
        _run(sandbox.install_command(cmd, env, files, staged, cache), log, "install the library", inside)
    finally:
        scratch.remove(staging)


def _local_args(cmd: list[str], env: Env) -> tuple[list[Path], list[Path]]:
    """The local folders (built in place: staged) and files (read) an install command names."""
    folders, files = [], []
    for arg in cmd[1:]:
        text = local.path_text(arg) if not arg.startswith("-") else None
        path = Path(text).expanduser() if text else None
        if path is None or not path.is_absolute() or not path.exists() or path.is_relative_to(env.path):
            continue
        (folders if path.is_dir() else files).append(path)
    return folders, files


def _run(cmd: list[str], log: Path, what: str, env: dict[str, str] | None = None) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env or install_environment())
    if done.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise SetupError(f"could not {what} (exit {done.returncode}): {tail[0][:300]} — full log: {log}")


def building_unsandboxed() -> str | None:
    """What to say when installs run outside the sandbox: a revision's build scripts then run as you."""
    found = sandbox.isolation()
    return None if found.name == "bwrap" else f"environments are built with no sandbox ({found.detail}): a revision's build scripts run as you"

