"""Prepare: the library's environment for a revision (built once, reused by all its cells) and a
fresh working directory per cell, filled according to its tier."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import uv
from pydantic import BaseModel

from agent_eval.store.records import Cell
from agent_eval.store.redact import is_secret
from agent_eval.suite import profiles, releases, repo
from agent_eval.suite.cache import cache_dir, locked
from agent_eval.suite.config import Profile, Task

from . import scratch


class SetupError(Exception):
    """The harness could not set the cell up; the cell is recorded as setup_error and retried next run."""


class Env(BaseModel):
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"


class Workspace(BaseModel):
    scratch: Path  # removed after the cell
    workdir: Path  # the agent's cwd
    home: Path  # HOME and pi's agent dir
    skill: Path | None = None


def install_requirements(profile: Profile, source: Path, sha: str) -> list[str]:
    spec = profile.install.spec.format(source=source, sha=sha, repo=profile.repo)
    if profile.install.extras:
        spec = f"{spec}[{','.join(profile.install.extras)}]"
    return [spec, *profile.install.packages]


def environment(profile: Profile, url: str, sha: str, release: releases.Release | None = None) -> Env:
    """The venv with the library at `sha` installed (or the `release`, from the package index).
    Keyed by SHA + install spec, built under a lock."""
    if release:
        steps = releases.install_steps(release, profile.install.extras, profile.install.packages)
    else:
        repo.ensure(url, sha)
        steps = [install_requirements(profile, repo.export(url, sha), sha)]
    python = profile.install.python or sys.executable
    key = hashlib.sha256(orjson.dumps([sha, steps, python])).hexdigest()[:16]
    env = Env(path=cache_dir() / "envs" / f"{profile.name}-{sha[:10]}-{key}")
    ready = env.path / ".agent-eval-ready"
    if ready.is_file():
        return env
    with locked(env.path):
        if ready.is_file():
            return env
        shutil.rmtree(env.path, ignore_errors=True)
        log = env.path.with_suffix(".log")
        uv_bin = uv.find_uv_bin()
        _run([uv_bin, "venv", "--quiet", "--python", python, str(env.path)], log, "create the venv")
        for requirements in steps:
            _run([uv_bin, "pip", "install", "--python", str(env.bin / "python"), *requirements], log, "install the library")
        ready.touch()
    return env


# What an install may see of our environment. Installing a revision runs its build scripts, code
# under test: an allow-list, so a key in a variable with an innocent name (MY_CRED) stays with us.
INSTALL_ENV = re.compile(r"PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_\w+|TERM|TZ|TMPDIR|SHELL|XDG_\w+|SOURCE_DATE_EPOCH"
                         r"|(?i:https?_proxy|no_proxy)|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE"
                         r"|(PIP|UV)_\w+")


def install_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if INSTALL_ENV.fullmatch(k) and not is_secret(k)}


def _run(cmd: list[str], log: Path, what: str) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=install_environment())
    if done.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise SetupError(f"could not {what} (exit {done.returncode}): {tail[0][:300]} — full log: {log}")


def workspace(cell: Cell, profile: Profile, task: Task, url: str) -> Workspace:
    """A fresh scratch folder: the working dir with the task's inputs and what the tier adds."""
    folder = scratch.make(cell.key[:8])
    try:
        return _fill(Workspace(scratch=folder, workdir=folder / "work", home=folder / "home"), cell, profile, task, url)
    except BaseException:
        scratch.remove(folder)
        raise


def _fill(ws: Workspace, cell: Cell, profile: Profile, task: Task, url: str) -> Workspace:
    ws.workdir.mkdir()
    (ws.home / ".pi" / "agent").mkdir(parents=True)
    add_inputs(task, ws.workdir)
    tier = profile.tiers[cell.tier]
    for item in tier.files:
        _copy(profile.root / item, ws.workdir / Path(item).name)
    release = cell.revision.release
    if tier.checkout and release:  # a release has no history: its sdist's tree is the checkout
        shutil.copytree(releases.source(release), ws.workdir / profile.name)
    elif tier.checkout:
        repo.checkout(url, cell.revision.sha, ws.workdir / profile.name)
    if tier.skill:
        if profile.skill.dir:
            origin = profile.root / profile.skill.dir
        else:
            origin = (releases.source(release) if release else repo.export(url, cell.revision.sha)) / profile.skill.path
        hooks = profiles.plugin(profile)
        if hooks and hasattr(hooks, "build_skill"):  # the revision ships what the Skill is made from
            ws.skill = ws.scratch / "skills" / profile.name
            hooks.build_skill(origin, ws.skill)
        else:
            ws.skill = ws.scratch / "skills" / origin.name
            shutil.copytree(origin, ws.skill)
    hooks = profiles.plugin(profile)
    if hooks and hasattr(hooks, "prepare_workdir"):
        hooks.prepare_workdir(ws.workdir, cell.tier, cell.revision.sha)
    return ws


def add_inputs(task: Task, workdir: Path) -> None:
    """The task's input files, into the working dir (in a session, just before the task's prompt)."""
    for name in task.files:
        _copy(task.root / name, workdir / name)


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copy2(source, dest)
