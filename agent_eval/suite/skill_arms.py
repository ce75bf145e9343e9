"""Skill arms: a Skill author's eval files and a library's suite made into one ordinary suite, on
disk, that `run`, `compare`, `results` and `report` read like any other.

The arms are tiers of a copy of the suite's profile, at the suite's revisions: `with_skill` (the
Skill folder as it is now), `without_skill` (nothing: the agent never sees the Skill) and, given an
older version (a git revision of the repository the Skill folder is in, or another folder),
`old_skill`. Each Skill copy leaves out `evals/`: the agent must not read the expected outputs. The
tasks come from `evals/evals.json` and the trigger query set (skill_evals.py). The folder is
written afresh each time from its sources, byte for byte the same when they did not change, so run
keys hold and a second `skill run` resumes.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import git
import yaml
from pydantic import BaseModel

from . import profiles, skill_evals, skill_tasks, unpack
from .config import ConfigError, Suite
from .files import read_yaml
from .load import load_suite

ARMS = ("without_skill", "with_skill", "old_skill")
JUDGE = "skill-judge"  # the judge's name when the suite names none: its first model judges
LEFT_OUT = ("evals",)  # of a Skill folder: what the agent is never given
PRIMARY = {"score": 10, "recall": 10, "false_activation": 10}  # the headline: expectations met, Skill read when it should be, and when not


class Generated(BaseModel):
    suite: Path  # the generated suite.yaml
    arms: list[str]
    notes: list[str]  # what the importer left unread, one line per file


def generate(skill: Path, suite_path: Path, out: Path, *, old: str | None = None, queries: Path | None = None,
             until_activated: bool = False, query_repeats: int = 3) -> Generated:
    """Write `out`/{suite.yaml, profiles/<profile>/, tasks/<profile>/} and say what it holds."""
    suite = load_suite(suite_path)  # its tasks are not ours: the generated suite's are the Skill's
    profile = profiles.load(profiles.find(suite.profile, suite.path.parent, suite.path))
    skill = skill.resolve()
    given = queries or query_set(skill)
    evals = skill_evals.read_skill(skill, given)  # checks every file before anything is written
    name = evals.name
    inside = given is not None and given.resolve().is_relative_to(skill)  # a query set in the Skill's folder: the agent must not read it either
    hidden = (*LEFT_OUT, given.resolve().relative_to(skill).parts[0]) if inside else LEFT_OUT
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        shutil.copytree(profile.root, staging / "profiles" / profile.name, ignore=shutil.ignore_patterns("__pycache__"))
        arms = _skills(staging / "profiles" / profile.name / "skills", skill, name, old, hidden)
        _profile_yaml(staging / "profiles" / profile.name, profile.root, name, arms)
        judges = suite.judges or {JUDGE: suite.models[0]}
        skill_tasks.write_tasks(evals, staging / "tasks" / profile.name, judge=next(iter(judges)), query_repeats=query_repeats)
        _suite_yaml(staging / "suite.yaml", suite, profile.name, name, arms, judges, until_activated)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Generated(suite=out / "suite.yaml", arms=arms, notes=evals.unread)


def query_set(skill: Path) -> Path | None:
    """The trigger query set when none is named: eval_queries.json, else the one *quer*.json, under
    evals/ and then beside SKILL.md (authors keep it in either place)."""
    for folder in (skill / "evals", skill):
        found = sorted(p for p in folder.glob("*quer*.json") if p.is_file()) if folder.is_dir() else []
        if folder / "eval_queries.json" in found:
            return folder / "eval_queries.json"
        if len(found) == 1:
            return found[0]
    return None


def _skills(folder: Path, skill: Path, name: str, old: str | None, hidden: tuple[str, ...]) -> list[str]:
    """Each arm's copy of the Skill under the profile's skills/, without `hidden` (its eval files); the arms there are."""
    shutil.copytree(skill, folder / "with_skill" / name, ignore=_left_out(skill, hidden))
    if old is None:
        return ["without_skill", "with_skill"]
    older = Path(old)
    if older.is_dir():
        if not (older / "SKILL.md").is_file():
            raise ConfigError(f"--old {old}: no SKILL.md in this folder; give the older Skill's folder or a git revision")
        shutil.copytree(older.resolve(), folder / "old_skill" / name, ignore=_left_out(older.resolve(), hidden))
    else:
        _from_git(skill, old, folder / "old_skill" / name, hidden)
    return list(ARMS)


def _left_out(root: Path, hidden: tuple[str, ...]):
    return lambda where, names: [n for n in names if Path(where) == root and n in hidden]


def _from_git(skill: Path, ref: str, dest: Path, hidden: tuple[str, ...]) -> None:
    """The Skill folder as the repository it is in had it at `ref`."""
    try:
        repo = git.Repo(skill, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigError(f"--old {ref}: {skill} is not in a git repository, and {ref} is no folder; give the older Skill's folder") from None
    with repo:
        inside = skill.relative_to(Path(repo.working_tree_dir).resolve()).as_posix()
        try:
            data = repo.git.archive("--format=tar", ref, inside, stdout_as_string=False)
        except git.GitCommandError:
            raise ConfigError(f"--old {ref}: no Skill at {inside} in revision {ref} of {repo.working_tree_dir}; "
                              "give a revision (tag, branch, SHA) that has it, or a folder") from None
    extracted = dest.with_name(dest.name + ".git")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        unpack.extract_tar(tar, extracted)
    shutil.copytree(extracted / inside, dest, ignore=_left_out(extracted / inside, hidden))
    shutil.rmtree(extracted)
    if not (dest / "SKILL.md").is_file():
        raise ConfigError(f"--old {ref}: {inside} has no SKILL.md at {ref}; give a revision that has the Skill")


def _profile_yaml(folder: Path, original: Path, name: str, arms: list[str]) -> None:
    """The profile's own file with the arms as its tiers; a local repo path made absolute (the copy moved)."""
    raw = read_yaml(folder / "profile.yaml")
    repo = raw.get("repo")
    if isinstance(repo, str) and "://" not in repo and not Path(repo).is_absolute() and (original / repo).exists():
        raw["repo"] = str((original / repo).resolve())
    raw["tiers"] = {arm: {"skill_dir": f"skills/{arm}/{name}"} if arm != "without_skill" else {} for arm in arms}
    (folder / "profile.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))


def _suite_yaml(path: Path, suite: Suite, profile: str, name: str, arms: list[str], judges: dict, until_activated: bool) -> None:
    raw = suite.model_dump(mode="json", exclude_defaults=True, exclude={"path", "tasks", "tiers", "tasks_dir", "sessions", "decision"})
    raw.update({
        "name": f"{suite.name}-skill-{name}"[:100], "profile": profile, "tiers": arms, "store": str(suite.store_path),
        "judges": {k: v.model_dump(mode="json", exclude_defaults=True) for k, v in judges.items()},
        "budgets": {**suite.budgets.model_dump(mode="json", exclude_defaults=True), **({"until_activated": True} if until_activated else {})},
        "decision": {"primary": list(PRIMARY), "min_effect": PRIMARY},
    })
    header = f"# Generated by `agent-eval skill run` from the Skill {name} and {suite.path}: edit those, not this.\n"
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
