"""Load a suite and everything it names — its profile, its tasks, the models and pi versions it asks
for — checked, with no git and no network: what `validate` checks and `run` plans from."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from . import identity, local, profiles
from .catalog import MODELS, PI_PACKAGES, PREFIX, known
from .config import NAME, NAME_RULE, ConfigError, Profile, Suite
from .task import Task
from .files import MAX_INPUT_BYTES, check_tree, confined, hash_files, parse, read_yaml


def load(suite_path: Path) -> tuple[Suite, Profile, list[Task]]:
    """Everything a suite names, checked; no git, no network."""
    suite = load_suite(suite_path)
    base = suite.path.parent
    folder = profiles.find(suite.profile, base, suite.path)
    profile = profiles.load(folder)
    check_folder_name(profile, folder)
    check_local_paths(profile)
    for index, model in enumerate(suite.models):
        if model.is_local and model.id.removeprefix(PREFIX) not in MODELS:
            raise ConfigError(f"{suite.path}: field 'models.{index}.id': unknown local model '{model.id}'; known: {known()}")
    for version in suite.agent.version or []:
        if version not in PI_PACKAGES:
            raise ConfigError(f"{suite.path}: field 'agent.version': pi {version} is not supported; supported versions: {', '.join(PI_PACKAGES)}")
    if suite.tiers is None:
        suite = suite.model_copy(update={"tiers": list(profile.tiers)})
    for tier in suite.tiers:
        if tier not in profile.tiers:
            raise ConfigError(f"{suite.path}: field 'tiers': unknown tier '{tier}'; profile {profile.name} has {', '.join(profile.tiers)}")
    tasks_dir = base / suite.tasks_dir if suite.tasks_dir else profiles.tasks_dir(profile.name, base)
    tasks = load_tasks(tasks_dir, suite.tasks, suite.path)
    if suite.network == "none":
        tasks = [task.model_copy(update={"network": "none"}) for task in tasks]
    check_judges(suite, tasks, tasks_dir)
    if suite.sessions and suite.sessions.tasks > len(tasks):
        raise ConfigError(f"{suite.path}: field 'sessions.tasks': sessions of {suite.sessions.tasks} tasks, but the suite has "
                          f"{len(tasks)}; lower sessions.tasks or select more tasks")
    return suite, profile, tasks


def check_judges(suite: Suite, tasks: list[Task], tasks_dir: Path) -> None:
    """A task's judge names one of the suite's judges; an offline judge is one agent-eval can serve."""
    for name, model in suite.judges.items():
        if model.is_local and model.id.removeprefix(PREFIX) not in MODELS:
            raise ConfigError(f"{suite.path}: field 'judges.{name}.id': unknown local model '{model.id}'; known: {known()}")
    for task in tasks:
        if task.judge and task.judge.model not in suite.judges:
            names = ", ".join(suite.judges) or "none"
            raise ConfigError(f"{tasks_dir / f'{task.id}.yaml'}: field 'judge.model': no judge '{task.judge.model}' in {suite.path} "
                              f"(its judges: {names}); add it under judges: or name one of them")


def check_local_paths(profile: Profile) -> None:
    """A local package that is not there would fail every environment's install, at run time."""
    source = profile.root / "profile.yaml"
    for text, path in local.paths(profile.install.packages, profile.root).items():
        if not path.exists():
            raise ConfigError(f"{source}: field 'install.packages': {text} not found (looked at {path}); "
                              "fix the path (a relative one is the profile folder's) or remove it")
    if profile.install.constraints:
        check_constraints(local.where(profile.install.constraints, profile.root), profile.install.constraints, source)


def check_constraints(path: Path, text: str, source: Path) -> None:
    """A constraints file is requirements, one a line (NAME, a version specifier, markers), as pip reads them."""
    from packaging.requirements import InvalidRequirement, Requirement

    field = f"{source}: field 'install.constraints'"
    if not path.is_file():
        raise ConfigError(f"{field}: {text} not found (looked at {path}); fix the path (a relative one is the profile folder's) or remove it")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{field}: {path} cannot be read as text ({err}); give a constraints file") from None
    for number, line in enumerate(lines, 1):
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            Requirement(line)
        except InvalidRequirement:
            raise ConfigError(f"{field}: {path} line {number}: '{line[:60]}' is not a constraint; write NAME==VERSION "
                              "(or another version specifier), one a line") from None


def load_suite(path: Path) -> Suite:
    path = Path(path)
    return parse(Suite, read_yaml(path), path, path=path)


def check_folder_name(profile: Profile, folder: Path) -> None:
    """Tasks and results are found by the profile's name; a folder named otherwise would send the
    search for tasks/<name> astray. An entry point's package folder has its own name: that is allowed."""
    if profile.name != folder.name and folder not in [f.resolve() for f in profiles.installed().values()]:
        raise ConfigError(f"{folder / 'profile.yaml'}: field 'name': the profile is named '{profile.name}' but its folder is "
                          f"'{folder.name}'; make them the same (set name: {folder.name}, or rename the folder to {profile.name})")


def load_task(path: Path) -> Task:
    # The id is the file name and becomes a folder of the store: `..yaml` would be the id '.'.
    if not re.fullmatch(NAME, path.stem) or len(path.stem) > 100:
        raise ConfigError(f"{path}: field 'id': the task id '{path.stem[:40]}' (its file name without .yaml) must be a plain "
                          f"name: {NAME_RULE}, at most 100 characters; rename the file")
    raw = read_yaml(path)
    task = parse(Task, raw, path, id=path.stem, root=path.parent)
    inputs = []
    for name in task.files:
        source = confined(path.parent, name, path, "files")
        if not source.is_file():
            raise ConfigError(f"{path}: field 'files': {name} not found beside the task (or not a regular file); add it or remove it")
        if (size := source.stat().st_size) > MAX_INPUT_BYTES:  # before hashing it: a sparse 1 GiB file hashes for seconds
            raise ConfigError(f"{path}: field 'files': {name} is {size:,} bytes, more than the {MAX_INPUT_BYTES:,} an input "
                              "file may be; give a smaller input")
        inputs.append(source)
    checks = verifier_files(task, path)
    return task.model_copy(update={"content_hash": hash_files([path, *inputs], path.parent),
                                   "action_hash": identity.task_action(task.id, raw, inputs, path.parent),
                                   "grading_hash": identity.task_grading(raw, checks, task.verify_dir)})


def verifier_files(task: Task, path: Path) -> list[Path]:
    """The verifier's folder, checked: it exists beside the task, holds its script, and is not an input."""
    if task.verify is None:
        return []
    given = task.verify.dir or f"{task.id}/verify"
    folder = confined(path.parent, given, path, "verify.dir")
    if not folder.is_dir():
        raise ConfigError(f"{path}: field 'verify.dir': {given} is not a folder beside the task; create it with the verifier's "
                          "script, or set verify.dir")
    if not confined(folder, task.verify.script, path, "verify.script").is_file():
        raise ConfigError(f"{path}: field 'verify.script': {task.verify.script} not found in {folder}; add the script there or fix the name")
    if any((path.parent / name).resolve().is_relative_to(folder.resolve()) for name in task.files):
        raise ConfigError(f"{path}: field 'files': an input file is inside the verifier's folder {given}, which the agent must never see; move it out")
    return check_tree(folder, path)


def load_tasks(tasks_dir: Path, selectors: list[str], source: Path) -> list[Task]:
    if not tasks_dir.is_dir():
        raise ConfigError(f"{source}: field 'tasks_dir': {tasks_dir} is not a folder; create it or set tasks_dir")
    files = {p.stem: p for p in sorted(tasks_dir.glob("*.yaml"))}
    chosen: list[str] = []
    for selector in selectors:
        hits = [name for name in files if fnmatch.fnmatchcase(name, selector)]
        if not hits:
            close = ", ".join(sorted(files)) or "none"
            raise ConfigError(f"{source}: field 'tasks': no task matches '{selector}' in {tasks_dir}; tasks there: {close}")
        chosen += [h for h in hits if h not in chosen]
    return [load_task(files[name]) for name in chosen]
