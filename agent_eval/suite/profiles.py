"""Profiles: one folder per library under test, found beside the suite, in ./profiles, among the
profiles agent-eval ships, or through an installed package's entry point.

A profile folder holds `profile.yaml` and optionally `plugin.py`, for what YAML cannot say. Its
hooks, all optional: `repository() -> str | Path` says where the git history is (and may build
it); `build_skill(source: Path, dest: Path)` writes the Skill folder (SKILL.md…) at `dest` from
what `skill.path` names in the revision's tree, for a library whose Skill is generated rather than
stored; `prepare_workdir(workdir: Path, tier: str, sha: str)` runs after the tier filled the working
dir (generate a config file, start from a notebook…).

A library ships its own profile with an `agent_eval.profiles` entry point whose *name* is the
profile's name (the `name:` in its profile.yaml) and whose *value* is an importable package: the
package's folder is the profile folder, with profile.yaml shipped as package data, and its tasks in
a `tasks/` folder beside it (also package data) unless the suite has tasks/<name> of its own. An
entry point that cannot be imported, has no profile.yaml or names another profile is *broken*:
`agent-eval profiles` says why, everything else ignores it.
"""

from __future__ import annotations

import functools
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from . import identity
from .config import ConfigError, Profile
from .files import check_tree, confined, hash_files, parse, read_yaml

ENTRY_POINT_GROUP = "agent_eval.profiles"


def shipped_root() -> Path:
    """Where the profiles/, tasks/ and report_site/ that ship with agent-eval are: the repository's
    top level in a source checkout, agent_eval/_shipped/ in an installed wheel (see pyproject.toml)."""
    package = Path(__file__).resolve().parent.parent
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "profiles").is_dir():
        return checkout
    return package / "_shipped"


def search_path(base: Path) -> list[Path]:
    """Folders that may hold profiles/<name>: beside the suite, then the current directory."""
    return list(dict.fromkeys([base / "profiles", Path.cwd() / "profiles"]))


@functools.cache
def entry_point_profiles() -> tuple[dict[str, Path], dict[str, str]]:
    """Installed packages' profiles: (name -> profile folder, name -> why the entry point is broken)."""
    found, broken = {}, {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = _entry_point_folder(ep.name, ep.value.split(":")[0].strip())
        except (ConfigError, ValueError) as err:  # ValueError: a profile.yaml that is not UTF-8
            broken[ep.name] = str(err)
    return found, broken


def _entry_point_folder(name: str, module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except Exception as err:  # importing a parent package runs its code: anything can happen
        raise ConfigError(f"entry point {name} = {module}: cannot import it ({type(err).__name__}: {err})") from None
    if spec is None:
        raise ConfigError(f"entry point {name} = {module}: no such module is installed")
    locations = list(spec.submodule_search_locations or [])
    folder = Path(locations[0]) if locations else Path(spec.origin or ".").parent
    yaml_path = folder / "profile.yaml"
    if not yaml_path.is_file():
        raise ConfigError(f"entry point {name} = {module}: no profile.yaml in {folder}; ship it as package data")
    declared = read_yaml(yaml_path).get("name")
    if declared != name:
        raise ConfigError(f"entry point {name} = {module}: its profile.yaml is named '{declared}'; name the entry point '{declared}'")
    return folder


def installed() -> dict[str, Path]:
    """Profiles shipped by installed packages: name -> profile folder (broken entry points left out)."""
    return entry_point_profiles()[0]


def available(base: Path) -> dict[str, Path]:
    """Every profile by name; a later place wins: shipped, entry points, ./profiles, beside the suite."""
    found = _folders(shipped_root() / "profiles")
    found.update(installed())
    for folder in reversed(search_path(base)):
        found.update(_folders(folder))
    return found


def listing(base: Path) -> list[str]:
    """One line per profile: name, description and folder, or why it is broken."""
    lines = []
    for name, folder in sorted(available(base).items()):
        try:
            lines.append(f"{name:20} {load(folder).description}  [{folder}]")
        except (ConfigError, ValueError) as err:
            lines.append(f"{name:20} (broken) {err}")
    broken = entry_point_profiles()[1]
    return lines + [f"{name:20} (broken) {why}" for name, why in sorted(broken.items()) if name not in available(base)]


def _folders(folder: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in sorted(folder.glob("*/profile.yaml"))} if folder.is_dir() else {}


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
        f"./profiles, agent-eval's own and the {ENTRY_POINT_GROUP} entry point; known: {names})"
    )


def tasks_dir(name: str, base: Path) -> Path:
    """Where a profile's tasks are when the suite does not say: tasks/<name> beside the suite or in
    the current directory, else the tasks shipped with the profile (an entry point's tasks/ folder,
    or agent-eval's own tasks/<name>). The first that exists; beside the suite when none does."""
    places = [base / "tasks" / name, Path.cwd() / "tasks" / name]
    if name in installed():
        places.append(installed()[name] / "tasks")
    places.append(shipped_root() / "tasks" / name)
    return next((p for p in places if p.is_dir()), places[0])


def load(folder: Path) -> Profile:
    path = folder / "profile.yaml"
    raw = read_yaml(path)
    profile = parse(Profile, raw, path, root=folder)
    if profile.skill and profile.skill.dir and not confined(folder, profile.skill.dir, path, "skill.dir").is_dir():
        raise ConfigError(f"{path}: field 'skill.dir': {profile.skill.dir} is not a folder of the profile")
    for name, tier in profile.tiers.items():
        if tier.skill_dir and not (confined(folder, tier.skill_dir, path, f"tiers.{name}.skill_dir") / "SKILL.md").is_file():
            raise ConfigError(f"{path}: field 'tiers.{name}.skill_dir': {tier.skill_dir} is not a folder of the profile holding a SKILL.md")
        for item in tier.files:
            if not confined(folder, item, path, f"tiers.{name}.files").exists():
                raise ConfigError(f"{path}: field 'tiers.{name}.files': {item} not found in the profile folder")
    files = check_tree(folder, path)
    own = [folder / t.skill_dir for t in profile.tiers.values() if t.skill_dir]
    return profile.model_copy(update={"content_hash": hash_files(files, folder), "action_hash": identity.profile_action(raw, files, folder, own),
                                      "tier_skills": identity.tier_skills(profile.tiers, files, folder)})


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
    if profile.repo is None:
        return ""
    local = profile.root / profile.repo
    return str(local.resolve()) if "://" not in profile.repo and local.exists() else profile.repo
