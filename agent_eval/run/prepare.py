"""Prepare: a fresh working directory per cell, filled according to its tier (the library's
environment it runs with is envs.py's)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel

from agent_eval.store.records import Cell
from agent_eval.suite import profiles, releases, repo
from agent_eval.suite.config import Profile
from agent_eval.suite.task import Task

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
        source = releases.source(release)
        shutil.copytree(source, ws.workdir / profile.name, ignore=_left_out(source, tier.exclude))
    elif tier.checkout and tier.exclude:
        repo.tree_without(url, cell.revision.sha, ws.workdir / profile.name, tier.exclude)
    elif tier.checkout:
        repo.checkout(url, cell.revision.sha, ws.workdir / profile.name)
    if tier.skill_dir:
        ws.skill = ws.scratch / "skills" / Path(tier.skill_dir).name
        shutil.copytree(profile.root / tier.skill_dir, ws.skill)
    elif tier.skill:
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


def _left_out(source: Path, exclude: list[str]):
    paths = {(source / item).resolve() for item in exclude}
    return lambda folder, names: [n for n in names if (Path(folder) / n).resolve() in paths]


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
