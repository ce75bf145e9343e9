"""Plan: resolve every revision to a SHA once, expand the suite into cells (cells.py), and set
aside the cells already done — a session only when every one of its tasks is.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import orjson
from pydantic import BaseModel

from agent_eval import __version__
from agent_eval.store import index
from agent_eval.store.records import Cell, Revision
from agent_eval.store.store import Store
from agent_eval.suite import identity, local, orders, profiles, releases, repo
from agent_eval.suite.config import ConfigError, Profile, Suite
from agent_eval.suite.task import Task
from agent_eval.suite.load import load, load_task

from . import sandbox
from .cells import agent_versions, one_shot_cells, repeats, session_cells, size, units

MAX_CELLS = 1_000_000


class Plan(BaseModel):
    suite: Suite
    profile: Profile
    tasks: list[Task]
    revisions: list[Revision]
    todo: list[Cell]
    done: list[Cell]
    not_applicable: list[str]  # why some (tier, revision) pairs have no cells
    collapsed: list[str] = []  # entries of the suite that name the same thing as an earlier one
    unreadable: list[str] = []  # stored results that cannot be read back: their cells run again
    rerun: bool = False  # run every cell again, done or not (the earlier runs are kept, superseded)
    changed: list[str] = []  # what changed since the suite was last run that gives its cells new run keys
    resolve_at: str | None = None  # every environment's dependencies as of this time (uv --exclude-newer)
    resolve_source: str = ""  # where that time comes from, for the plan's header
    aliases: dict[str, str] = {}  # run key -> the key its done result is stored under (written before grading left the key)
    stale_grading: int | None = None  # done results graded under an older grading (None: not known here)
    sequential: dict | None = None  # run in rounds (--until-decided): the design and the looks so far (read/rounds.py)

    def units(self) -> list[list[Cell]]:
        """What the scheduler runs, in plan order: each one-shot cell alone, each session's cells together."""
        return units(self.todo)

    @property
    def combinations(self) -> int:
        """models × agent versions × revisions × tiers × every task's repeats, before not-applicable pairs are left out."""
        return size(self.suite, self.revisions, self.tasks)

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
            "task_repeats": {t.id: self.suite.repeats if self.suite.sessions else repeats(self.suite, t) for t in self.tasks},
            "markers": [m.model_dump() for m in self.profile.markers],
            "decision": self.suite.decision.model_dump(),
            "cells": [c.key for c in self.done + self.todo],
            # What coverage is measured against: every (model, revision, task, tier), each `repeats` times.
            # With sessions a (model, revision, task, tier) is there once per order it runs in.
            "grid": [[c.model.id, c.revision.sha, c.task.id, c.tier] for c in self.done + self.todo if c.repeat == 0],
            "local_packages": self.profile.local,
            "resolve_at": self.resolve_at,
            "aliases": self.aliases,
            "sessions": self.suite.sessions and {
                **self.suite.sessions.model_dump(), "orders_drawn": orders.draw([t.id for t in self.tasks], self.suite.sessions),
            },
            **({"sequential": self.sequential} if self.sequential else {}),
        }


def check_keys(suite: Suite) -> None:
    """Every model's key is at hand: without it every cell of the model would fail."""
    named = [(f"models.{index}", model) for index, model in enumerate(suite.models)] + [(f"judges.{name}", m) for name, m in suite.judges.items()]
    for field, model in named:
        if model.key_env and not key_available(model.key_env):
            how = "set HF_TOKEN or run `hf auth login`" if model.key_env == "HF_TOKEN" else f"export {model.key_env}=… in this shell"
            raise ConfigError(f"{suite.path}: field '{field}': {model.id} needs the key in {model.key_env}, which is not set; {how}")


def key_available(name: str) -> bool:
    if name == "HF_TOKEN":
        from huggingface_hub import get_token  # HF_TOKEN, or the token `hf auth login` saved

        return bool(get_token())
    return bool(os.environ.get(name))


def unique(suite: Suite, revisions: list[Revision]) -> tuple[Suite, list[Revision], list[str]]:
    """One entry per thing: a model listed twice, two refs on one commit or a repeated tier would
    plan the same cell twice, and two runs of one cell in one folder corrupt each other."""
    collapsed, models, seen = [], [], {}
    for model in suite.models:
        identity = orjson.dumps(model.model_dump(exclude={"name"}), option=orjson.OPT_SORT_KEYS)
        if identity in seen:
            collapsed.append(f"model '{model.display}' is the same model as '{seen[identity]}': planned once")
        else:
            seen[identity] = model.display
            models.append(model)
    kept: dict[str, Revision] = {}
    for rev in revisions:
        if rev.sha in kept:
            collapsed.append(f"revision '{rev.name}' is the same commit as '{kept[rev.sha].name}' ({rev.sha[:10]}): planned once")
        else:
            kept[rev.sha] = rev
    tiers = list(dict.fromkeys(suite.tiers))
    collapsed += [f"tier '{t}' is listed {suite.tiers.count(t)} times: planned once" for t in tiers if suite.tiers.count(t) > 1]
    return suite.model_copy(update={"models": models, "tiers": tiers}), list(kept.values()), collapsed


def check_store(suite: Suite, profile: Profile) -> None:
    """The store must be a folder we can write, found before anything is run or written."""
    check_links(suite)
    where = suite.store_path
    if where.exists() and not where.is_dir():
        raise ConfigError(f"{suite.path}: field 'store': {where} is a file, not a folder; point store (or --store) at a folder")
    if where.is_relative_to(profile.root.resolve()):  # each run's snapshot would copy the store into itself
        raise ConfigError(f"{suite.path}: field 'store': {where} is inside the profile folder {profile.root}, which every run copies into the store; "
                          "put the store outside it")
    existing = next(p for p in [where, *where.parents] if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{suite.path}: field 'store': {existing} is not writable; choose another store (or --store) or fix its permissions")


def check_links(suite: Suite) -> None:
    """Resolving the store's path gives up on a symlink loop, and follows a dangling symlink to a
    place the store would then be made in unannounced: every link on the way must lead somewhere."""
    given = suite.path.parent / suite.store
    for link in (p for p in [given, *given.parents] if p.is_symlink()):
        try:
            link.stat()
        except OSError as err:
            what = "a symlink loop" if err.errno == errno.ELOOP else f"a dangling symlink (to {os.readlink(link)}, which does not exist)"
            raise ConfigError(f"{suite.path}: field 'store': {link} is {what}; point store (or --store) at a real folder") from None


def make(suite_path: Path, rerun: bool = False, store: Path | None = None, done: set[str] | None = None,
         before: dict | None = None, need_keys: bool = True) -> Plan:
    """`done`: the run folders already done elsewhere (a bucket); default: the suite's local store.
    `before`: the suite's last plan there (its plan.json); default: the local store's.
    `need_keys`: require every model's key (not to read where the cells are, which calls no model)."""
    suite, profile, tasks = load(suite_path)
    sandbox.switch()  # a misspelt AGENT_EVAL_SANDBOX would otherwise be ignored in silence
    if store is not None:
        suite = suite.model_copy(update={"store": str(Path(store).absolute())})  # not resolved: check_links looks at its links
    if need_keys:
        check_keys(suite)
    if done is None:
        check_store(suite, profile)
    url = profiles.repo_url(profile)
    if any(spec.ref for spec in suite.revisions):  # a suite of releases only needs no git history
        if not url:
            raise ConfigError(f"{profile.root / 'profile.yaml'}: field 'repo' is missing, and {suite.path} names git revisions (ref:); "
                              "set repo: to the library's git URL or path, or give every revision as release: NAME==VERSION")
        try:
            repo.fetch(url)
        except repo.RepoError as err:
            raise ConfigError(f"{profile.root / 'profile.yaml'}: field 'repo': {err}") from None
    revisions = []
    for spec in suite.revisions:
        if spec.release:
            revisions.append(_release(suite, profile, spec))
            continue
        try:
            sha = repo.resolve(url, spec.ref)
        except repo.RepoError as err:
            raise ConfigError(f"{suite.path}: field 'revisions': {err}") from None
        revisions.append(Revision(ref=spec.ref, name=spec.name or spec.ref, sha=sha))
    suite, revisions, collapsed = unique(suite, revisions)
    if size(suite, revisions, tasks) > MAX_CELLS:
        raise ConfigError(f"{suite.path}: {size(suite, revisions, tasks):,} cells (models × revisions × tasks × tiers × repeats) is more than {MAX_CELLS:,}; lower repeats or split the suite")

    applicable, not_applicable = {}, []
    for tier in suite.tiers:
        for rev in revisions:
            missing = _missing_skill(profile, tier, url, rev)
            applicable[tier, rev.sha] = not missing
            if missing:
                not_applicable.append(f"tier {tier} at {rev.name}: {missing}")

    profile = profile.model_copy(update={"local": local.digests(profile.install.packages, profile.root)})
    stored = Store(suite.store_path)
    before = previous(stored, suite.name) if before is None else before
    resolve_at, source, moved = resolution(suite, before)
    suite = suite.model_copy(update={"resolve_at": resolve_at})
    expand = session_cells if suite.sessions else one_shot_cells
    cells = expand(suite, profile, tasks, revisions, applicable)
    is_done = stored.is_done if done is None else (lambda c: c.folder in done)
    legacy = [expand(suite, p, ts, revisions, applicable, legacy=True) for p, ts in [(profile, tasks), *snapshot_of(stored, suite, profile, tasks, before, done)]]
    found, via_alias = ({}, set()) if rerun else stored_as(cells, legacy, before, is_done)
    whole = [unit for unit in units(cells) if all(c.key in found for c in unit)]
    keys = {c.key for unit in whole for c in unit}
    finished = [found[c.key] for c in cells if c.key in keys]
    todo = [c for c in cells if c.key not in keys]
    aliases = {new: found[new].key for new in keys if found[new].key != new}
    regraded = None if done is not None else stale(stored, [(c, found[c.key]) for c in cells if c.key in keys], profile, tasks, via_alias, suite.judges)
    return Plan(suite=suite, profile=profile, tasks=tasks, revisions=revisions, todo=todo, done=finished,
                not_applicable=not_applicable, collapsed=collapsed, unreadable=stored.bad, rerun=rerun,
                changed=moved + changes(before, profile), resolve_at=resolve_at, resolve_source=source,
                aliases=aliases, stale_grading=regraded)


def stored_as(cells: list[Cell], legacy: list[list[Cell]], before: dict, is_done) -> tuple[dict[str, Cell], set[str]]:
    """Each planned cell that is done, as it is stored (by run key), and which of them only the
    snapshot or an alias found. A cell is stored under its run key, or under the key it had before
    grading left the run key (a store written by an earlier agent-eval), found by the old formula:
    over today's files (`legacy[0]`); over the files its suite last ran with (the snapshot, when a
    grading edit came with the upgrade); or by the alias a plan since recorded (plan.json's
    `aliases`, once a run has replaced the snapshot). The store is never rewritten to migrate it."""
    known = before.get("aliases") or {}
    found, via_alias = {}, set()
    for cell, *olds in zip(cells, *legacy):
        candidates = [cell, *olds] + ([cell.model_copy(update={"key": known[cell.key]})] if cell.key in known else [])
        for candidate in dict((c.key, c) for c in candidates).values():
            if is_done(candidate):
                found[cell.key] = candidate
                if candidate.key not in (cell.key, olds[0].key):
                    via_alias.add(cell.key)
                break
    return found, via_alias


def snapshot_of(stored: Store, suite: Suite, profile: Profile, tasks: list[Task], before: dict, done) -> list[tuple[Profile, list[Task]]]:
    """The profile and tasks the suite last ran with, from its snapshot in a local store, where they
    give the agent what today's files give it (their grading may differ); none: []. A task that
    differs in more than its grading is today's: its old key then finds nothing, and it runs again."""
    folder = stored.root / "suites" / suite.name / "snapshot"
    if done is not None or not folder.is_dir():
        return []
    try:
        was = profiles.load(folder / "profile").model_copy(update={"local": before.get("local_packages") or profile.local})
        ran = [load_task(folder / "tasks" / f"{t.id}.yaml") if (folder / "tasks" / f"{t.id}.yaml").is_file() else t for t in tasks]
    except (ConfigError, OSError):
        return []
    if was.action_hash != profile.action_hash:
        return []
    return [(was, [old if old.action_hash == new.action_hash else new for old, new in zip(ran, tasks)])]


def stale(stored: Store, done: list[tuple[Cell, Cell]], profile: Profile, tasks: list[Task], via_alias: set[str], judges: dict) -> int | None:
    """How many done results were graded under another grading than the current one (regrade brings
    them up to date). A result stored before gradings were recorded is current when the old formula
    over today's files found it (those files graded it), older when only an alias did."""
    if not done:
        return 0
    current = {t.id: identity.grading(profile.markers, t.grading_hash, judges.get(t.judge.model) if t.judge else None) for t in tasks}
    try:
        recorded = index.gradings(stored.root)  # the store's index: no result.json read again
    except (sqlite3.Error, OSError, index.UnusableIndex):  # derived data that cannot be made here (a read-only store): not known
        return None
    count = 0
    for planned, cell in done:
        if cell.folder not in recorded:
            continue
        grading = recorded[cell.folder]
        count += (planned.key in via_alias) if grading is None else grading != current[cell.task.id]
    return count


def previous(stored: Store, suite: str) -> dict:
    """The suite's plan.json as the last run wrote it; {} when there is none (or it cannot be read)."""
    try:
        return parse_previous((stored.root / "suites" / suite / "plan.json").read_bytes())
    except OSError:
        return {}


def parse_previous(data: bytes | None) -> dict:
    try:
        found = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def changes(before: dict, profile: Profile) -> list[str]:
    """What the suite's last plan says differently of what its cells' run keys cover and the suite
    file does not show: the content of local packages."""
    was = before.get("local_packages") or {}
    return [f"local package {text} changed since the last run: its cells run again"
            for text, digest in profile.local.items() if was.get(text, digest) != digest]


def resolution(suite: Suite, before: dict) -> tuple[str, str, list[str]]:
    """The suite's resolution time, where it comes from, and whether `resolve_at` moved it."""
    recorded = before.get("resolve_at")
    if suite.resolve_at:
        moved = [f"resolve_at moved the resolution time from {recorded} to {suite.resolve_at}: environments are built anew, "
                 "and compare will say where base's and head's then differ"] if recorded and recorded != suite.resolve_at else []
        return suite.resolve_at, "set by resolve_at in the suite", moved
    if recorded:
        return recorded, "recorded when the suite was first planned", []
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "now: the suite's first run records it for every later one", []


def _release(suite: Suite, profile: Profile, spec) -> Revision:
    need_sdist = any(profile.tiers[t].checkout for t in suite.tiers) or bool(profile.skill and profile.skill.path)
    try:
        release = releases.resolve(spec.release, need_sdist)
    except releases.ReleaseError as err:
        raise ConfigError(f"{suite.path}: field 'revisions': {err}") from None
    return Revision(ref=spec.release, name=spec.name or spec.release, sha=release.digest, release=release)


def _missing_skill(profile: Profile, tier: str, url: str, rev: Revision) -> str:
    """Why the tier has no Skill at this revision ("" when it has one). A revision without it is
    not applicable; a file where the Skill's folder should be is a wrong profile: every run would fail."""
    if not profile.tiers[tier].skill or not profile.skill.path:
        return ""
    if rev.release:
        found = releases.source(rev.release) / profile.skill.path
        kind = "tree" if found.is_dir() else "blob" if found.exists() else None
    else:
        kind = repo.path_kind(url, rev.sha, profile.skill.path)
    hooks = profiles.plugin(profile)
    if kind is not None and kind != "tree" and not (hooks and hasattr(hooks, "build_skill")):  # build_skill may start from a file
        raise ConfigError(f"{profile.root / 'profile.yaml'}: field 'skill.path': {profile.skill.path} is a file at {rev.name} "
                          "(the Skill is copied as a folder); name the folder that holds SKILL.md")
    return "" if kind is not None else f"no Skill at {profile.skill.path}"

