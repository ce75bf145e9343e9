"""Profiles: one folder per library under test, found beside the suite or through an entry point.

A profile folder holds `profile.yaml` and optionally `plugin.py`, for what YAML cannot say. Its
hooks, both optional: `repository() -> str | Path` says where the git history is (and may build
it); `prepare_workdir(workdir: Path, tier: str, sha: str)` runs after the tier filled the working
dir (generate a config file, start from a notebook…). A library can ship its
own profile by pointing the `agent_eval.profiles` entry point at a module inside its profile folder.
"""

from __future__ import annotations

import functools
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from .config import ConfigError, Profile, check_tree, confined, hash_files, parse, read_yaml

ENTRY_POINT_GROUP = "agent_eval.profiles"


def search_path(base: Path) -> list[Path]:
    """Folders that may hold profiles/<name>: beside the suite, then the current directory."""
    return list(dict.fromkeys([base / "profiles", Path.cwd() / "profiles"]))


def installed() -> dict[str, Path]:
    """Profiles shipped by installed packages: entry point name -> profile folder."""
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = importlib.util.find_spec(ep.value.split(":")[0])
        if spec and spec.origin:
            found[ep.name] = Path(spec.origin).parent
    return found


def available(base: Path) -> dict[str, Path]:
    found = dict(installed())
    for folder in reversed(search_path(base)):
        if folder.is_dir():
            found.update({p.parent.name: p.parent for p in folder.glob("*/profile.yaml")})
    return found


def find(name_or_path: str, base: Path, source: Path) -> Path:
    candidate = base / name_or_path
    if (candidate / "profile.yaml").is_file():
        return candidate.resolve()
    known = available(base)
    if name_or_path in known:
        return known[name_or_path].resolve()
    names = ", ".join(sorted(known)) or "none found"
    raise ConfigError(
        f"{source}: field 'profile': no profile '{name_or_path}' (looked in {base / 'profiles'}, "
        f"./profiles and the {ENTRY_POINT_GROUP} entry point; known: {names})"
    )


def load(folder: Path) -> Profile:
    path = folder / "profile.yaml"
    profile = parse(Profile, read_yaml(path), path, root=folder)
    if profile.skill and profile.skill.dir and not confined(folder, profile.skill.dir, path, "skill.dir").is_dir():
        raise ConfigError(f"{path}: field 'skill.dir': {profile.skill.dir} is not a folder of the profile")
    for name, tier in profile.tiers.items():
        for item in tier.files:
            if not confined(folder, item, path, f"tiers.{name}.files").exists():
                raise ConfigError(f"{path}: field 'tiers.{name}.files': {item} not found in the profile folder")
    files = check_tree(folder, path)
    return profile.model_copy(update={"content_hash": hash_files(files, folder)})


@functools.cache
def _load_plugin(path: Path) -> ModuleType | None:
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"agent_eval_profile_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plugin(profile: Profile) -> ModuleType | None:
    return _load_plugin(profile.root / "plugin.py")


def repo_url(profile: Profile) -> str:
    """The git URL; a relative local path is taken from the profile folder; a plugin's
    `repository()` hook, when present, says where the history is (and may build it)."""
    hooks = plugin(profile)
    if hooks and hasattr(hooks, "repository"):
        return str(hooks.repository())
    local = profile.root / profile.repo
    return str(local.resolve()) if "://" not in profile.repo and local.exists() else profile.repo
