"""What a task and a profile are, split in two: what changes what the agent *does* (the run key's
part, `action`) and what only grades it (`grading`). A grading edit — an expected answer, a match
rule, a marker, a verifier, a judge — must never re-run the agent; `regrade` applies it instead.

Both hashes read what the user wrote (the YAML as parsed, not the pydantic model), so a field
added to the models later, with its default, changes no run key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from .files import hash_files as files_digest

# Task fields that only grade (or only select: tags, repeats): left out of the run key.
TASK_GRADING = ("expected", "match", "verify", "judge", "assertions", "trigger")
FIRST_GRADERS = 4  # the graders every stored digest names, even when absent; later ones only when a task has them
TASK_NOT_ACTION = (*TASK_GRADING, "tags", "repeats")
# Profile fields that neither change the workspace nor the agent: markers grade, a description is prose.
PROFILE_NOT_ACTION = ("markers", "description")


def canonical(data) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)


def task_action(task_id: str, raw: dict, inputs: list[Path], root: Path) -> str:
    kept = {k: v for k, v in raw.items() if k not in TASK_NOT_ACTION}
    return hashlib.sha256(canonical({"id": task_id, "task": kept, "inputs": files_digest(inputs, root)})).hexdigest()


def task_grading(raw: dict, verifier_files: list[Path], verifier_root: Path | None) -> str:
    """The task's graders as written, and the content of its verifier's folder."""
    kept = {k: raw.get(k) for k in TASK_GRADING[:FIRST_GRADERS]} | {k: raw[k] for k in TASK_GRADING[FIRST_GRADERS:] if k in raw}
    folder = files_digest(verifier_files, verifier_root) if verifier_root else None
    return hashlib.sha256(canonical({"graders": kept, "verifier": folder})).hexdigest()


def profile_action(raw: dict, files: list[Path], folder: Path, own: list[Path] = ()) -> str:
    """The profile as written minus its markers and description, and every other file of its folder
    but those of a tier's own Skill (`own`: they count in that tier's cells alone, tier_skills)."""
    kept = {k: v for k, v in raw.items() if k not in PROFILE_NOT_ACTION}
    others = [f for f in files if f != folder / "profile.yaml" and not any(f.is_relative_to(d) for d in own)]
    return hashlib.sha256(canonical({"profile": kept, "files": files_digest(others, folder)})).hexdigest()


def tier_skills(tiers: dict, files: list[Path], folder: Path) -> dict[str, str]:
    """Each tier with a Skill of its own (skill_dir) -> the digest of that folder: editing the Skill
    re-runs that tier's cells, never the other arms' (the runs without it stay valid)."""
    return {name: files_digest([f for f in files if f.is_relative_to(folder / tier.skill_dir)], folder)
            for name, tier in tiers.items() if tier.skill_dir}


def grading(markers: list, task_grading_hash: str, judge=None) -> str:
    """A result's grading digest: what graded it (its task's graders, the profile's markers, the
    model its judge names). Stored in result.json; a result whose digest differs from the current
    one was graded under an older grading, and `regrade` brings it up to date."""
    model = judge.model_dump(exclude={"name"}) if judge else None
    return hashlib.sha256(canonical({"task": task_grading_hash, "markers": [m.model_dump() for m in markers],
                                     **({"judge": model} if model else {})})).hexdigest()[:16]
