"""Plan: expand a suite into cells, resolve every revision to a SHA once, set aside cells already done.

Cells come task-first (repeat, task, tier, model, then revision innermost) so a sweep stopped
halfway has the same tasks done for every revision: comparisons stay like-for-like.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from pydantic import BaseModel

from . import __version__, profiles, repo, serve
from .agent import PI_VERSION
from .config import ConfigError, Profile, Suite, Task, load_suite, load_tasks
from .store import Cell, Revision, Store


class Plan(BaseModel):
    suite: Suite
    profile: Profile
    tasks: list[Task]
    revisions: list[Revision]
    todo: list[Cell]
    done: list[Cell]
    not_applicable: list[str]  # why some (tier, revision) pairs have no cells

    def summary(self) -> dict:
        return {
            "suite": self.suite.name,
            "profile": self.profile.name,
            "harness_version": __version__,
            "revisions": [r.model_dump() for r in self.revisions],
            "models": [m.model_dump() for m in self.suite.models],
            "agent_versions": agent_versions(self.suite),
            "tasks": [t.id for t in self.tasks],
            "tiers": self.suite.tiers,
            "repeats": self.suite.repeats,
            "markers": [m.model_dump() for m in self.profile.markers],
            "cells": [c.key for c in self.done + self.todo],
            # What coverage is measured against: every (model, revision, task, tier), each `repeats` times.
            "grid": [[c.model.id, c.revision.sha, c.task.id, c.tier] for c in self.done + self.todo if c.repeat == 0],
        }


def load(suite_path: Path) -> tuple[Suite, Profile, list[Task]]:
    """Everything a suite names, checked; no git, no network."""
    suite = load_suite(suite_path)
    base = suite.path.parent
    profile = profiles.load(profiles.find(suite.profile, base, suite.path))
    for index, model in enumerate(suite.models):
        if model.is_local:
            try:
                serve.weights(model.id)
            except serve.ServeError as err:
                raise ConfigError(f"{suite.path}: field 'models.{index}.id': {err}") from None
    if suite.tiers is None:
        suite = suite.model_copy(update={"tiers": list(profile.tiers)})
    for tier in suite.tiers:
        if tier not in profile.tiers:
            raise ConfigError(f"{suite.path}: field 'tiers': unknown tier '{tier}'; profile {profile.name} has {', '.join(profile.tiers)}")
    tasks_dir = base / (suite.tasks_dir or f"tasks/{profile.name}")
    return suite, profile, load_tasks(tasks_dir, suite.tasks, suite.path)


def make(suite_path: Path, rerun: bool = False, store: Path | None = None, done: set[str] | None = None) -> Plan:
    """`done`: the run folders already done elsewhere (a bucket); default: the suite's local store."""
    suite, profile, tasks = load(suite_path)
    if store is not None:
        suite = suite.model_copy(update={"store": str(Path(store).resolve())})
    url = profiles.repo_url(profile)
    try:
        repo.fetch(url)
    except repo.RepoError as err:
        raise ConfigError(f"{profile.root / 'profile.yaml'}: field 'repo': {err}") from None
    revisions = []
    for spec in suite.revisions:
        try:
            sha = repo.resolve(url, spec.ref)
        except repo.RepoError as err:
            raise ConfigError(f"{suite.path}: field 'revisions': {err}") from None
        revisions.append(Revision(ref=spec.ref, name=spec.name or spec.ref, sha=sha))

    applicable, not_applicable = {}, []
    for tier in suite.tiers:
        for rev in revisions:
            missing = _missing_skill(profile, tier, url, rev.sha)
            applicable[tier, rev.sha] = not missing
            if missing:
                not_applicable.append(f"tier {tier} at {rev.name}: {missing}")

    cells = [
        cell(suite, profile, model, rev, task, tier, r, version)
        for r in range(suite.repeats)
        for task in tasks
        for tier in suite.tiers
        for model in suite.models
        for version in agent_versions(suite)
        for rev in revisions
        if applicable[tier, rev.sha]
    ]
    is_done = Store(suite.store_path).is_done if done is None else (lambda c: c.folder in done)
    finished = [] if rerun else [c for c in cells if is_done(c)]
    keys = {c.key for c in finished}
    todo = [c for c in cells if c.key not in keys]
    return Plan(suite=suite, profile=profile, tasks=tasks, revisions=revisions, todo=todo, done=finished, not_applicable=not_applicable)


def _missing_skill(profile: Profile, tier: str, url: str, sha: str) -> str:
    if not profile.tiers[tier].skill or not profile.skill.path:
        return ""
    return "" if repo.has_path(url, sha, profile.skill.path) else f"no Skill at {profile.skill.path}"


def agent_versions(suite: Suite) -> list[str]:
    return suite.agent.version or [PI_VERSION]


def cell(suite: Suite, profile: Profile, model, rev: Revision, task: Task, tier: str, repeat: int, version: str = PI_VERSION) -> Cell:
    # The run key covers everything that can change the outcome; display names are left out so
    # renaming a revision or model never re-runs anything.
    serving = serve.serving(model.id) if model.is_local else None
    if model.is_local:
        model = model.model_copy(update={"context_window": serve.CONTEXT, "max_tokens": 2048})
    identity = {
        "model": model.model_dump(exclude={"name"}),
        "sha": rev.sha,
        "task": task.content_hash,
        "tier": tier,
        "repeat": repeat,
        "profile": profile.content_hash,
        "agent": ["pi", version],
        "budgets": suite.budgets.model_dump(),
        "thinking": suite.thinking,
        "serving": serving,
    }
    key = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Cell(
        key=key, suite=suite.name, profile=profile.name, model=model, revision=rev, task=task, tier=tier,
        repeat=repeat, budgets=suite.budgets, thinking=suite.thinking, agent_version=version, serving=serving,
    )
