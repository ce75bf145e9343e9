"""The docs and Skill files no run of a revision opened, for the report's "Where agents look".

The revision's files are listed from what this machine has, cheapest first: the tree pip installed
from (the cache's src/<sha>, or src/release-<digest> for a release's sdist), else a git mirror in the
cache that holds the commit (`git ls-tree`: names only, nothing checked out), else they are not known
and the list says why. A Skill kept in the profile (skill.dir) is the same for every revision and is
listed from the store's own snapshot of the profile. Docs are .md, .rst, .txt and .ipynb files and
everything under docs/; profiles are read as YAML, never loaded (a profile's plugin is code).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from agent_eval.suite.cache import cache_dir, mirror_path

DOCS = (".md", ".rst", ".txt", ".ipynb")
SHA = re.compile(r"[0-9a-f]{40}")


class Profiles:
    """What the store's snapshots of its profiles say about where the library and its Skill are."""

    def __init__(self, store: Path):
        self.repos: list[str] = []
        self.skill_path: str | None = None  # the Skill's folder in the repository
        self.skill_files: list[str] = []  # the files of a Skill kept in the profile, relative to its folder
        for snapshot in sorted(Path(store).glob("suites/*/snapshot/profile/profile.yaml")):
            try:
                profile = yaml.safe_load(snapshot.read_text()) or {}
                skill = profile.get("skill") or {}
            except (OSError, yaml.YAMLError, AttributeError):
                continue
            repo = profile.get("repo")
            if isinstance(repo, str) and "://" not in repo and (snapshot.parent / repo).is_dir():
                repo = str((snapshot.parent / repo).resolve())  # a path relative to the profile, as the run took it
            if isinstance(repo, str) and repo not in self.repos:
                self.repos.append(repo)
            if isinstance(skill.get("path"), str) and self.skill_path is None:
                self.skill_path = skill["path"].strip("/")
            if isinstance(skill.get("dir"), str) and (folder := snapshot.parent / skill["dir"]).is_dir():
                self.skill_files += [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file()]


def files(sha: str, repos: list[str]) -> tuple[list[str] | None, str]:
    """The revision's files, relative to its root, and where they were listed from; None and why
    when this machine has neither its tree nor a mirror holding it."""
    for tree in (cache_dir() / "src" / sha, cache_dir() / "src" / f"release-{sha[:16]}"):
        if tree.is_dir():
            found = (p.relative_to(tree) for p in tree.rglob("*") if p.is_file())
            return sorted(p.as_posix() for p in found if ".git" not in p.parts), "the revision's tree in this machine's cache"
    if not SHA.fullmatch(sha):
        return None, "a release's source is not unpacked in this machine's cache (its clone tier, run here, unpacks it)"
    lacking = []
    for url in repos:  # the cache's mirror of it, or the repository itself when it is a folder here
        for place, name in ((mirror_path(url), f"the git mirror of {url}"), (Path(url), url)):
            if place.is_dir():
                git_dir = place / ".git" if (place / ".git").exists() else place  # never a repository around a folder that is none
                listed = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", "--name-only", sha], capture_output=True, stdin=subprocess.DEVNULL)
                if listed.returncode == 0:
                    return sorted(listed.stdout.decode(errors="replace").split("\0")[:-1]), name
                lacking.append(f"{name} lacks commit {sha[:10]}")
        if not any(url in x for x in lacking):
            lacking.append(f"no git mirror of {url}")
    if not lacking:
        return None, "this machine's cache has no tree of it, and no profile the store keeps names its repository"
    return None, f"this machine's cache has no tree of it, and {'; '.join(lacking)} (`agent-eval run SUITE --dry-run` here fetches the mirror)"


def unopened(sha: str, read: set[str], profiles: Profiles) -> dict:
    """{"files": the revision's docs and Skill files no run opened ("library: docs/x.md", "skill:
    SKILL.md"), "from": where they were listed, "unknown": why the library's are not listed, or None}."""
    tree, where = files(sha, profiles.repos)
    skill = profiles.skill_path
    out = []
    for rel in tree or []:
        in_skill = skill is not None and rel.startswith(skill + "/")
        if not (in_skill or rel.endswith(DOCS) or rel.startswith("docs/")):
            continue
        names = {f"library: {rel}"} | ({f"skill: {rel[len(skill) + 1:]}"} if in_skill else set())
        if not names & read:
            out.append(f"skill: {rel[len(skill) + 1:]}" if in_skill else f"library: {rel}")
    sources = [where] if tree is not None else []
    if profiles.skill_files:
        out += [f"skill: {rel}" for rel in profiles.skill_files if f"skill: {rel}" not in read]
        sources.append("the Skill in the store's snapshot of the profile")
    return {"files": out, "from": sources, "unknown": None if tree is not None else where}
