"""A Skill author's eval files read into small models: the Agent Skills guide's `evals/evals.json`
and a trigger query set, in the guide's shape and the variants real files take (`assertions` for
`expectations`, check objects, a bare list of cases, string ids, queries wrapped or spelled
otherwise). What is not understood is said in one line per file; what is wrong is one ConfigError
line naming the file, the item and the field. Nothing is written here (skill_tasks.py writes).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .config import NAME, NAME_RULE, ConfigError
from .task import Assertion, Verify
from .files import MAX_YAML_BYTES, confined
from .text import visible

EVALS = Path("evals") / "evals.json"
CASE_LISTS = ("evals", "cases", "tests", "test_cases")  # the guide's name first; cases of every one present are read
PROMPT = ("prompt", "input", "query")
EXPECTED = ("expected_output", "expected")
GRADING = ("expectations", "assertions", "checks", "criteria", "success_criteria")
QUERY_LISTS = ("queries", "cases", "train", "validation", "evals")
QUERY_TEXT = ("query", "prompt")
QUERY_FLAG = ("should_trigger", "should_fire")
# Typed checks agent-eval grades deterministically: the author's type -> (Assertion field, keys holding its value).
CHECKS = {
    "content_contains": ("contains", ("value", "contains")), "contains": ("contains", ("value", "contains")),
    "output_contains": ("contains", ("value", "contains")),
    "regex": ("regex", ("pattern", "value", "regex")), "matches": ("regex", ("pattern", "value", "regex")),
    "tool_use": ("tool", ("tool", "value", "name")), "tool_called": ("tool", ("tool", "value", "name")),
}
SCRIPT_KEYS = ("script", "path", "file")
TEXT_KEYS = ("text", "description")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvalCase(Frozen):
    id: str  # as the author wrote it, as text (a number too)
    prompt: str
    expected_output: str | None = None
    files: list[str] = []  # regular files, relative to the Skill folder (a listed folder: the files in it)
    expectations: list[str] = []  # free-text statements, for a judge
    assertions: list[Assertion] = []  # typed checks agent-eval runs itself
    verify: Verify | None = None  # a script check: `dir` is the script's folder in the Skill, relative to it


class TriggerQuery(Frozen):
    text: str
    should_trigger: bool


class SkillEvals(Frozen):
    folder: Path
    name: str  # SKILL.md's frontmatter name, or the folder's name
    description: str = ""
    cases: list[EvalCase] = []
    queries: list[TriggerQuery] = []
    unread: list[str] = []  # one line per file: what of it agent-eval does not use


def read_skill(folder: Path, queries: Path | None = None) -> SkillEvals:
    """The Skill at `folder`: its SKILL.md's name and description, its evals/evals.json (if any) and
    the trigger query set `queries` (if given)."""
    folder = Path(folder)
    name, description = skill_meta(folder)
    cases, unread = read_cases(folder) if (folder / EVALS).exists() else ([], [])
    found: list[TriggerQuery] = []
    if queries is not None:
        found, more = read_queries(Path(queries))
        unread += more
    if not cases and not found:
        raise ConfigError(f"{folder / EVALS}: no cases, and no trigger queries given; write cases in evals/evals.json "
                          "({\"evals\": [{\"id\": 1, \"prompt\": ...}]}) or give a query set")
    return SkillEvals(folder=folder, name=name, description=description, cases=cases, queries=found, unread=unread)


def skill_meta(folder: Path) -> tuple[str, str]:
    """SKILL.md's frontmatter name (default: the folder's name) and description."""
    path = folder / "SKILL.md"
    if not path.is_file():
        raise ConfigError(f"{path}: not found; give the Skill's folder, the one holding SKILL.md")
    text = path.read_bytes()[:MAX_YAML_BYTES].decode("utf-8", errors="replace")
    head = re.match(r"\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", text, re.S)
    fields: dict = {}
    if head:
        try:
            data = yaml.safe_load(head[1])
            fields = data if isinstance(data, dict) else {}
        except yaml.YAMLError:  # agents read frontmatter leniently (an unquoted colon): so do we, line by line
            fields = {k: v.strip().strip("\"'") for k, v in re.findall(r"^(name|description):(.*)$", head[1], re.M)}
    name = str(fields.get("name") or folder.resolve().name).strip()
    if not re.fullmatch(NAME, name) or len(name) > 100:
        raise ConfigError(f"{path}: field 'name': '{visible(name[:40])}' must be a plain name ({NAME_RULE}; the spec "
                          "says lowercase letters, digits and hyphens); rename the Skill")
    return name, str(fields.get("description") or "").strip()


def read_cases(folder: Path) -> tuple[list[EvalCase], list[str]]:
    path = folder / EVALS
    lists, unread = named_lists(path, CASE_LISTS, ("skill_name",),
                                missing="field 'evals': not found; put the cases in a list under \"evals\" (the guide's shape)",
                                shape="an object with \"evals\": [cases] (or a list of cases)")
    cases: list[EvalCase] = []
    seen: dict[str, str] = {}
    for key, items in lists:
        if not isinstance(items, list):
            raise ConfigError(f"{path}: field '{key}': not a list; give the cases as a list of objects")
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            case, more = read_case(folder, path, item, where, len(cases) + 1)
            if case.id in seen:
                numbered = "" if item.get("id") is not None else " (a case without an id is numbered by its place, from 1)"
                raise ConfigError(f"{path}: {where}: field 'id': {visible(case.id)} is also the id of {seen[case.id]}{numbered}; "
                                  "give each case its own id")
            seen[case.id] = where
            cases.append(case)
            unread += more
    return cases, [unread_line(path, unread)] if unread else []


def read_case(folder: Path, path: Path, item: Any, where: str, number: int) -> tuple[EvalCase, list[str]]:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: {where}: not an object; write each case as {{\"id\": ..., \"prompt\": ...}}")
    case_id = case_id_of(path, where, item.get("id"), number)
    prompt = next((item[k] for k in PROMPT if k in item), None)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError(f"{path}: {where}: field 'prompt': {'missing' if prompt is None else 'empty or not text'}; "
                          "write the request the agent is given, as text")
    expected = next((item[k] for k in EXPECTED if k in item), None)
    if expected is not None and not isinstance(expected, str):
        expected = json.dumps(expected, ensure_ascii=False)  # a number or an object: the judge reads it as text
    unread = [f"field '{where}.{k}'" for k in item if k not in ("id", "files", *PROMPT, *EXPECTED, *GRADING)]
    files, more = inputs(folder, path, item.get("files"), where)
    expectations: list[str] = []
    assertions: list[Assertion] = []
    scripts: list[Verify] = []
    for key in (k for k in GRADING if k in item):
        checks = item[key] if isinstance(item[key], list) else [item[key]]
        for index, check in enumerate(checks):
            found = read_check(folder, path, check, f"{where}.{key}[{index}]", more)
            target = {str: expectations, Assertion: assertions, Verify: scripts}.get(type(found))
            if target is not None:
                target.append(found)
    for extra in scripts[1:]:
        more.append(f"{where} script check {visible(extra.script)} (a case runs one script: the first)")
    case = EvalCase(id=case_id, prompt=prompt.strip(), expected_output=expected.strip() if expected else None, files=files,
                    expectations=expectations, assertions=assertions, verify=scripts[0] if scripts else None)
    return case, unread + more


def case_id_of(path: Path, where: str, value: Any, number: int) -> str:
    """The id as text; a case without one is numbered by its place in the file, from 1."""
    if value is None:
        return str(number)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise ConfigError(f"{path}: {where}: field 'id': {visible(json.dumps(value)[:40])} is not an id; give a number or text")
    return str(value).strip()


def read_check(folder: Path, path: Path, check: Any, where: str, unread: list[str]) -> str | Assertion | Verify | None:
    """One item of a case's grading list: a statement (str), a check agent-eval runs (Assertion), a
    script (Verify), or None (said in `unread`)."""
    if isinstance(check, str):
        if not check.strip():
            unread.append(f"{where} (empty)")
        return check.strip() or None
    if not isinstance(check, dict):
        unread.append(f"{where} {visible(json.dumps(check)[:40])} (neither a statement nor an object)")
        return None
    kind = check.get("type")
    text = next((check[k] for k in TEXT_KEYS if isinstance(check.get(k), str) and check[k].strip()), None)
    if kind is None:
        if text is None:
            unread.append(f"{where} (no text)")
            return None
        unread += [f"field '{where}.{k}'" for k in check if k not in ("id", *TEXT_KEYS)]
        return text.strip()
    if kind == "script":
        return read_script(folder, path, check, where, unread)
    if kind not in CHECKS:
        unread.append(f"{where} {{type: {visible(str(kind)[:40])}}} (not a check agent-eval runs)")
        return None
    field, keys = CHECKS[kind]
    value = next((check[k] for k in keys if isinstance(check.get(k), str) and check[k]), None)
    if value is None:
        unread.append(f"{where} {{type: {kind}}} (no {keys[0]} to check)")
        return None
    unread += [f"field '{where}.{k}'" for k in check if k not in ("id", "type", *TEXT_KEYS, *keys)]
    value = value.lower() if field == "tool" else value  # Claude Code's Bash, Read, Write are pi's bash, read, write
    statement = " ".join((text or f"{field} {value!r}").split())  # the check's name in a result: one line
    try:
        return Assertion(text=visible(statement), **{field: value})
    except ValidationError as err:
        raise ConfigError(f"{path}: {where}: field '{keys[0]}': {err.errors()[0]['msg'].removeprefix('Value error, ')}; "
                          "fix the pattern (escape ( [ . with \\)") from None


def read_script(folder: Path, path: Path, check: dict, where: str, unread: list[str]) -> Verify | None:
    key = next((k for k in SCRIPT_KEYS if k in check), None)
    if key is None:
        unread.append(f"{where} {{type: script}} (no script file: name it in 'script')")
        return None
    name = check[key]
    source = confined(folder, str(name), path, f"{where}.{key}")
    if not isinstance(name, str) or not source.is_file():
        raise ConfigError(f"{path}: {where}: field '{key}': {visible(str(name)[:80])} is not a file in the Skill folder "
                          f"{folder}; fix the path (relative to the Skill folder) or add the script")
    args, timeout = check.get("args", []), check.get("timeout", 60.0)
    unread += [f"field '{where}.{k}'" for k in check if k not in ("id", "type", "args", "timeout", key, *TEXT_KEYS)]
    relative = PurePosixPath(os.path.normpath(name))
    try:
        return Verify(script=relative.name, dir=str(relative.parent), args=args, timeout=timeout)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(f"{path}: {where}: field '{first['loc'][0]}': {first['msg'].removeprefix('Value error, ')}; "
                          "give args as a list of text and timeout in seconds") from None


def inputs(folder: Path, path: Path, given: Any, where: str) -> tuple[list[str], list[str]]:
    """A case's files, relative to the Skill folder; a listed folder gives the files in it. A SKILL.md
    is left out: copied into every arm's working dir, it would give the Skill to the arm without it."""
    if given is None:
        return [], []
    found: list[str] = []
    unread: list[str] = []
    for index, name in enumerate(given if isinstance(given, list) else [given]):
        field = f"{where}.files[{index}]"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}: {where}: field 'files[{index}]': {visible(json.dumps(name)[:40])} is not a path; "
                              "give paths relative to the Skill folder")
        source = confined(folder, name, path, field)
        if source.is_dir():
            files = [p for p in sorted(source.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
            for file in files:
                confined(folder, str(file.relative_to(folder)), path, field)  # a symlink in it may lead out
        elif source.is_file():
            files = [source]
        else:
            raise ConfigError(f"{path}: {where}: field 'files[{index}]': {visible(name)} not found in the Skill folder "
                              f"{folder}; add it or fix the path (relative to the Skill folder)")
        for file in files:
            relative = PurePosixPath(os.path.normpath(file.relative_to(folder))).as_posix()
            if file.name.lower() == "skill.md":
                unread.append(f"{field} {visible(relative)} (a SKILL.md: every arm would see the Skill)")
            elif "/" not in relative and relative.endswith(".yaml"):
                raise ConfigError(f"{path}: {where}: field 'files[{index}]': {visible(relative)} would sit beside the task files "
                                  "and be read as a task; move it into a folder of the Skill (e.g. evals/files/)")
            elif relative not in found:
                found.append(relative)
    return found, unread


def named_lists(path: Path, names: tuple[str, ...], known: tuple[str, ...], missing: str, shape: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """A JSON file's items: the file itself when it is a list, else every list under one of `names`
    (each with its name, for errors); and its other fields (but `known`), as left unread."""
    data = read_json(path)
    if isinstance(data, list):
        return [("", data)], []
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected {shape}, got {type(data).__name__}")
    lists = [(key, data[key]) for key in names if key in data]
    if not lists:
        raise ConfigError(f"{path}: {missing}")
    return lists, [f"field '{k}'" for k in data if k not in names and k not in known]


def read_queries(path: Path) -> tuple[list[TriggerQuery], list[str]]:
    """A trigger query set: a list of {query, should_trigger}, bare or under queries / cases /
    train + validation; `prompt` and `should_fire` are read as query and should_trigger."""
    lists, unread = named_lists(path, QUERY_LISTS, (),
                                missing="field 'queries': not found; give a list of {\"query\", \"should_trigger\"} (bare, or under \"queries\")",
                                shape="a list of {\"query\", \"should_trigger\"}")
    queries = []
    for key, items in lists:
        if not isinstance(items, list):
            raise ConfigError(f"{path}: field '{key}': not a list; give the queries as a list of objects")
        for index, item in enumerate(items):
            queries.append(read_query(path, item, f"{key}[{index}]", unread))
    return queries, [unread_line(path, unread)] if unread else []


def read_query(path: Path, item: Any, where: str, unread: list[str]) -> TriggerQuery:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: {where}: not an object; write each query as {{\"query\": ..., \"should_trigger\": true}}")
    text = next((item[k] for k in QUERY_TEXT if k in item), None)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{path}: {where}: field 'query': {'missing' if text is None else 'empty or not text'}; "
                          "write what the user asks, as text")
    flag_key = next((k for k in QUERY_FLAG if k in item), QUERY_FLAG[0])
    flag = item.get(flag_key)
    if not isinstance(flag, bool):
        got = "missing" if flag is None else f"{visible(json.dumps(flag)[:40])} is not a boolean"
        raise ConfigError(f"{path}: {where}: field '{flag_key}': {got}; write true (the Skill should be read) or false")
    unread += [f"field '{where}.{k}'" for k in item if k not in (*QUERY_TEXT, *QUERY_FLAG)]
    return TriggerQuery(text=text.strip(), should_trigger=flag)


def read_json(path: Path) -> Any:
    """A JSON file (a .yaml or .yml one read as YAML), checked for size and encoding first."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found; give the path of the file")
    if (size := path.stat().st_size) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: the file is {size:,} bytes, more than the {MAX_YAML_BYTES:,} it may be; keep it short")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # an editor's byte-order mark is not an error
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason}); save it as UTF-8") from None
    try:
        return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); fix the syntax") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({getattr(err, 'problem', err)}); fix the syntax") from None


def unread_line(path: Path, items: list[str]) -> str:
    return visible(f"{path}: left unread: {', '.join(items)}")
