"""A starting point for your own library: a profile, two example tasks and a suite, written as
files you then edit. The library is named by its package-index name (its newest releases become
the revisions) or by a git URL or path (its newest tags, else its default branch)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from . import releases, repo
from .catalog import PREFIX
from .config import ConfigError

REVISIONS = 2


def start(library: str, folder: Path) -> list[Path]:
    """Write profiles/<name>/profile.yaml, tasks/<name>/*.yaml and <name>.yaml under `folder`;
    returns them, suite last. Nothing is overwritten."""
    is_git = "://" in library or library.endswith(".git") or library.startswith("git@") or Path(library).is_dir()
    name = _name(library) if is_git else releases.normalize(library)
    module = name.replace("-", "_")
    revisions = _git_revisions(library) if is_git else _releases(name)
    tiers = ["bare", "clone"] if is_git or _all_have_sources(revisions) else ["bare"]
    files = {
        folder / "profiles" / name / "profile.yaml": _profile(name, module, library if is_git else None, tiers),
        folder / "tasks" / name / "version.yaml": _version_task(name),
        folder / "tasks" / name / "first-use.yaml": _first_use_task(name, module),
        folder / f"{name}.yaml": _suite(name, revisions, tiers),
    }
    if taken := [str(p) for p in files if p.exists()]:
        raise ConfigError(f"{taken[0]} already exists; init writes new files only: choose another folder (--dir) or remove it")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def _name(url: str) -> str:
    stem = re.sub(r"\.git$", "", url.rstrip("/")).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).strip(".-") or "library"


def _releases(name: str) -> list[dict]:
    try:
        versions = releases.latest(name, REVISIONS)
    except releases.ReleaseError as err:
        raise ConfigError(str(err)) from None
    if not versions:
        raise ConfigError(f"{name} has no final release on {releases.INDEX}; name a git URL instead")
    return [{"release": f"{name}=={v}"} for v in versions]


def _all_have_sources(revisions: list[dict]) -> bool:
    """The clone tier checks out a release's sdist: only when every release has one."""
    try:
        for rev in revisions:
            releases.resolve(rev["release"], need_sdist=True)
    except releases.ReleaseError:
        return False
    return True


def _git_revisions(url: str) -> list[dict]:
    try:
        repo.fetch(url)
    except repo.RepoError as err:
        raise ConfigError(str(err)) from None
    tags = repo.latest_tags(url, REVISIONS)
    return [{"ref": tag} for tag in tags] if tags else [{"ref": "HEAD", "name": "default branch"}]


def _dump(comment: str, data: dict) -> str:
    return comment + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _profile(name: str, module: str, url: str | None, tiers: list[str]) -> str:
    data: dict = {"name": name, "description": f"{name}, as a coding agent meets it"}
    if url:
        data["repo"] = str(Path(url).resolve()) if Path(url).is_dir() else url
    data["tiers"] = {"bare": {}, "clone": {"checkout": True}} if "clone" in tiers else {"bare": {}}
    data["markers"] = [
        {"name": "cli", "where": "command", "pattern": rf"(^|[;&|(]\s*){re.escape(name)}\s", "description": f"ran the {name} command"},
        {"name": "python-api", "where": "code", "pattern": rf"\b(import|from)\s+{re.escape(module)}\b", "description": f"wrote Python using {module}"},
        {"name": "help", "where": "command", "pattern": rf"{re.escape(name)}\b.*--help|help\({re.escape(module)}|pydoc3?\s+{re.escape(module)}",
         "description": "asked for help"},
    ]
    return _dump(f"# {name}: how to install it at a revision, what each tier gives the agent, and the markers\n"
                 "# matched over what the agent did (README: Profiles). Add a Skill with `skill: {dir: ...}`.\n", data)


def _version_task(name: str) -> str:
    return _dump("# An example with an answer to match: replace it with a task your users do, whose answer you know.\n",
                 {"prompt": f"Which version of {name} is installed in this environment? Reply with the version number only.",
                  "expected": r"\b\d+(\.\d+)+\b", "match": "regex", "timeout": 300})


def _first_use_task(name: str, module: str) -> str:
    return _dump("# An example with no single answer (behaviour-only: its markers and costs are measured, not a match).\n",
                 {"prompt": f"Use {name} (the Python package {module}, or its command line if it has one) for the smallest "
                            "useful thing it does, run it, and reply with what it printed.", "timeout": 300})


def _suite(name: str, revisions: list[dict], tiers: list[str]) -> str:
    return _dump(f"# Does a change to {name} help agents use it? Run with: agent-eval run {name}.yaml\n"
                 "# Then: agent-eval compare --base <first revision> --head <second>  (README: Your library)\n",
                 {"name": name, "profile": name, "models": [f"{PREFIX}qwen2.5-coder-1.5b"], "revisions": revisions, "tiers": tiers,
                  "repeats": 3, "budgets": {"timeout": 300, "max_turns": 20}, "store": "agent-eval-results"})
