"""The tasks folder of a Skill's generated suite, written from skill_evals.py's models as the Skill
design says: a case becomes eval-<id>.yaml, its input files beside it at their paths in the Skill
folder and its script check in eval-<id>/verify/; a trigger query becomes query-<NN>.yaml. Same
models in, same bytes out: run keys stay put, so a re-run resumes. The folder is built beside the
target and renamed into place, so a failure never leaves half of one.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from .config import NAME, ConfigError
from .task import Task
from .files import parse
from .skill_evals import EVALS, EvalCase, SkillEvals, TriggerQuery
from .text import visible

class Dumper(yaml.SafeDumper):
    """Multi-line text (a prompt, a rubric) as a literal block, readable as the author wrote it."""


Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))

RUBRIC = ("The answer and the files the agent left deliver this expected output, as the Skill's author "
          "described it:\n\n{}")


def write_tasks(skill: SkillEvals, target: Path, judge: str | None, query_repeats: int = 3) -> list[str]:
    """Write the tasks folder `target` (replacing it) from `skill`; `judge` names one of the suite's
    judges (None: no judge, so expectations and expected outputs go ungraded). Returns the task ids,
    cases first, in the files' order."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target}: is a file, not a tasks folder; move it or choose another folder")
    tasks = task_files(skill, judge, query_repeats)
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build.chmod(0o755)  # mkdtemp's 0700 would hide the tasks from a sandbox running as another user
        for case in skill.cases:
            copy_inputs(skill.folder, build, case)
        for name, data in tasks.items():
            text = yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
            (build / f"{name}.yaml").write_bytes(text.encode("utf-8"))
        replace(build, target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return list(tasks)


def task_files(skill: SkillEvals, judge: str | None, query_repeats: int) -> dict[str, dict]:
    """Each task's id -> the fields of its YAML file, each checked as the task loader will."""
    if isinstance(query_repeats, bool) or not isinstance(query_repeats, int) or query_repeats < 1:
        raise ConfigError(f"query repeats: {query_repeats!r} is not a whole number of 1 or more; give e.g. 3")
    tasks: dict[str, dict] = {}
    width = max(2, len(str(len(skill.queries))))
    named = [(task_name(case.id), eval_task(case, judge), skill.folder / EVALS) for case in skill.cases]
    named += [(f"query-{n:0{width}d}", query_task(q, query_repeats), Path(f"trigger query {n}")) for n, q in enumerate(skill.queries, 1)]
    for name, data, source in named:
        if name in tasks:
            raise ConfigError(f"{source}: field 'id': two cases make the task id '{name}'; give them ids that differ in letters or digits")
        parse(Task, data, source)
        tasks[name] = data
    return tasks


def task_name(case_id: str) -> str:
    """eval-<id> when that is a valid task id; otherwise a slug of the id and 6 hex of its hash, so
    ids that differ only in characters a file name cannot hold still make different tasks."""
    name = f"eval-{case_id}"
    if re.fullmatch(NAME, name) and len(name) <= 100:
        return name
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", case_id).strip("-.")[:80]
    digest = hashlib.sha256(case_id.encode()).hexdigest()[:6]
    return f"eval-{slug}-{digest}" if slug else f"eval-{digest}"


def eval_task(case: EvalCase, judge: str | None) -> dict:
    data: dict = {"prompt": case.prompt}
    if case.files:
        data["files"] = list(case.files)
    data["tags"] = ["eval", f"eval:{visible(case.id)}"]
    if judge is not None and case.expectations:
        data["judge"] = {"model": judge, "expectations": list(case.expectations), "files": True, "threshold": 1.0}
    elif judge is not None and case.expected_output:
        data["judge"] = {"model": judge, "rubric": RUBRIC.format(case.expected_output), "files": True}
    if case.assertions:
        data["assertions"] = [a.model_dump(exclude_none=True) for a in case.assertions]
    if case.verify:
        data["verify"] = case.verify.model_dump(exclude_defaults=True, exclude={"dir"})
    return data


def query_task(query: TriggerQuery, repeats: int) -> dict:
    tag = "should-trigger" if query.should_trigger else "should-not-trigger"
    return {"prompt": query.text, "trigger": query.should_trigger, "tags": ["query", tag], "repeats": repeats}


def copy_inputs(skill_folder: Path, build: Path, case: EvalCase) -> None:
    """The case's files at their paths in the Skill folder; its script in <task id>/verify/, which the agent never sees."""
    for name in case.files:
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(skill_folder / name, build / name)
    if case.verify:
        folder = build / task_name(case.id) / "verify"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(skill_folder / case.verify.dir / case.verify.script, folder / case.verify.script)  # keeps its mode: a program stays runnable


def replace(build: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = build.with_name(f"{build.name}.old")  # build's name is unique, so is this
        target.rename(old)
    build.rename(target)
    if old is not None:
        shutil.rmtree(old)
