"""The importer of a Skill author's eval files (suite/skill_evals.py) and the tasks it writes
(suite/skill_tasks.py): the guide's shape, the variants real files take, bad input as one line, what
is left unread, and tasks the project's own loader reads back, byte for byte the same each time.
Every Skill here is written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agent_eval.suite.config import ConfigError
from agent_eval.suite.load import load, load_task, load_tasks
from agent_eval.suite.skill_evals import read_skill
from agent_eval.suite.skill_tasks import task_name, write_tasks

SKILL_MD = "---\nname: csv-tools\ndescription: Clean and summarise CSV files. Use when a user hands you a CSV.\n---\n# CSV tools\n"


def skill(tmp_path: Path, evals=None, files: dict[str, str] | None = None, skill_md: str = SKILL_MD, name: str = "csv-tools") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(skill_md)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    if evals is not None:
        (folder / "evals").mkdir(exist_ok=True)
        (folder / "evals" / "evals.json").write_text(evals if isinstance(evals, str) else json.dumps(evals, ensure_ascii=False, indent=2))
    return folder


def queries(tmp_path: Path, data, name: str = "eval_queries.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def project(tmp_path: Path) -> Path:
    """A profile and a suite with a judge named `grader`, tasks in tasks/skilled/: what `load` reads."""
    (tmp_path / "profiles" / "skilled").mkdir(parents=True)
    (tmp_path / "profiles" / "skilled" / "profile.yaml").write_text("name: skilled\n")
    endpoint = {"id": "m", "base_url": "http://127.0.0.1:9/v1"}
    suite = {"name": "s", "profile": "skilled", "models": [endpoint], "revisions": ["main"], "judges": {"grader": endpoint}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path / "tasks" / "skilled"


GUIDE = {
    "skill_name": "csv-tools",
    "evals": [
        {"id": 1, "prompt": "Summarise evals/files/sales.csv: total per region.", "expected_output": "A table of regions and totals.",
         "files": ["evals/files/sales.csv"], "expectations": ["Names every region", "The totals add up to 600"]},
        {"id": 2, "prompt": "Drop the empty rows of evals/files/sales.csv.", "expected_output": "The CSV without empty rows.",
         "files": [], "expectations": ["No empty row is left"]},
    ],
}
SALES = "region,amount\nnorth,100\n\nsouth,500\n"


def test_the_guides_shape_becomes_judged_tasks_that_load(tmp_path):
    folder = skill(tmp_path, GUIDE, {"evals/files/sales.csv": SALES})
    found = read_skill(folder)
    assert (found.name, found.description) == ("csv-tools", "Clean and summarise CSV files. Use when a user hands you a CSV.")
    assert [c.id for c in found.cases] == ["1", "2"] and found.unread == [] and found.queries == []
    assert found.cases[0].files == ["evals/files/sales.csv"] and found.cases[0].expected_output == "A table of regions and totals."

    tasks_dir = project(tmp_path)
    assert write_tasks(found, tasks_dir, judge="grader") == ["eval-1", "eval-2"]
    assert (tasks_dir / "evals/files/sales.csv").read_text() == SALES
    suite, _, tasks = load(tmp_path / "suite.yaml")
    first, second = tasks
    assert (first.id, first.prompt, first.files) == ("eval-1", GUIDE["evals"][0]["prompt"], ["evals/files/sales.csv"])
    assert first.tags == ["eval", "eval:1"] and first.trigger is None and first.repeats is None
    assert first.judge.model == "grader" and first.judge.expectations == ["Names every region", "The totals add up to 600"]
    assert (first.judge.files, first.judge.threshold, first.judge.rubric) == (True, 1.0, None)
    assert second.files == [] and second.judge.expectations == ["No empty row is left"]


def test_older_spellings_and_check_objects(tmp_path):
    evals = {"evals": [
        {"id": "strings", "prompt": "p1", "assertions": ["Says hello", "  "]},
        {"id": "objects", "prompt": "p2", "assertions": [{"text": "Uses pandas"}, {"id": "a2", "text": "Writes out.csv"}]},
        {"id": "typed", "prompt": "p3", "assertions": [
            {"type": "content_contains", "value": "region", "text": "Mentions the region column"},
            {"type": "regex", "pattern": r"total:\s*\d+"},
            {"type": "tool_use", "tool": "Bash"},
            {"type": "matches", "value": "^ok$", "text": "Says\nok"},
            {"type": "tool_called", "name": "read"},
            "Explains the result"]},
        {"id": "criteria", "prompt": "p4", "criteria": ["Is short"], "checks": [{"type": "output_contains", "contains": "done"}]},
    ]}
    found = read_skill(skill(tmp_path, evals))
    strings, objects, typed, criteria = found.cases
    assert strings.expectations == ["Says hello"] and objects.expectations == ["Uses pandas", "Writes out.csv"]
    assert typed.expectations == ["Explains the result"]
    assert [a.model_dump(exclude_none=True) for a in typed.assertions] == [
        {"text": "Mentions the region column", "contains": "region"}, {"text": r"regex 'total:\\s*\\d+'", "regex": r"total:\s*\d+"},
        {"text": "tool 'bash'", "tool": "bash"}, {"text": "Says ok", "regex": "^ok$"}, {"text": "tool 'read'", "tool": "read"}]
    assert criteria.expectations == ["Is short"] and criteria.assertions[0].contains == "done"
    assert found.unread == [f"{found.folder / 'evals/evals.json'}: left unread: evals[0].assertions[1] (empty)"]

    tasks_dir = project(tmp_path)
    write_tasks(found, tasks_dir, judge="grader")
    loaded = {t.id: t for t in load(tmp_path / "suite.yaml")[2]}
    assert loaded["eval-typed"].assertions == typed.assertions and loaded["eval-typed"].judge.expectations == ["Explains the result"]
    assert loaded["eval-criteria"].assertions[0].contains == "done"


def test_bare_lists_string_ids_folders_and_other_languages(tmp_path):
    evals = [
        {"prompt": "Résume le fichier data/ventes.csv en français.", "files": ["data"]},
        {"prompt": "把 CSV 文件按地区汇总。", "id": "汇总 地区"},
        {"prompt": "no id, no files, no grading"},
    ]
    folder = skill(tmp_path, evals, {"data/ventes.csv": "a\n1\n", "data/sub/notes.txt": "n\n", "data/SKILL.md": "x"},
                   skill_md="# no frontmatter\n", name="my-skill")
    found = read_skill(folder)
    assert found.name == "my-skill" and found.description == ""
    assert [c.id for c in found.cases] == ["1", "汇总 地区", "3"]
    assert found.cases[0].files == ["data/sub/notes.txt", "data/ventes.csv"]  # the folder's files, not its SKILL.md
    chinese = task_name("汇总 地区")
    assert chinese.startswith("eval-") and len(chinese) == len("eval-") + 6 and task_name("a b/c").startswith("eval-a-b-c-")
    assert task_name("x" * 95) == "eval-" + "x" * 95 and len(task_name("x" * 96)) == len("eval-") + 80 + 7

    tasks_dir = project(tmp_path)
    assert write_tasks(found, tasks_dir, judge="grader") == ["eval-1", chinese, "eval-3"]
    loaded = {t.id: t for t in load(tmp_path / "suite.yaml")[2]}
    assert loaded[chinese].prompt == "把 CSV 文件按地区汇总。" and loaded[chinese].tags == ["eval", "eval:汇总 地区"]
    assert "把 CSV 文件按地区汇总。" in (tasks_dir / f"{chinese}.yaml").read_text(encoding="utf-8")  # written as text, not escapes
    assert loaded["eval-1"].prompt.startswith("Résume") and (tasks_dir / "data/sub/notes.txt").read_text() == "n\n"
    assert not (tasks_dir / "data/SKILL.md").exists()
    assert loaded["eval-3"].judge is None and loaded["eval-3"].assertions == [] and loaded["eval-3"].verify is None


def test_expected_output_alone_is_judged_on_a_rubric(tmp_path):
    found = read_skill(skill(tmp_path, {"evals": [{"id": 7, "prompt": "p", "expected_output": "A chart of sales by month."}]}))
    write_tasks(found, project(tmp_path), judge="grader")
    task = load(tmp_path / "suite.yaml")[2][0]
    assert task.judge.expectations == [] and task.judge.files is True and task.judge.threshold == 0.5
    assert "A chart of sales by month." in task.judge.rubric


def test_without_a_judge_only_the_deterministic_checks_grade(tmp_path):
    evals = {"evals": [{"id": 1, "prompt": "p", "expected_output": "e", "expectations": ["x"], "assertions": [{"type": "tool_use", "tool": "bash"}]}]}
    write_tasks(read_skill(skill(tmp_path, evals)), tmp_path / "tasks", judge=None)
    task = load_tasks(tmp_path / "tasks", ["*"], tmp_path)[0]
    assert task.judge is None and [a.tool for a in task.assertions] == ["bash"]


def test_a_script_check_becomes_the_verifier(tmp_path):
    evals = {"evals": [{"id": "s1", "prompt": "p", "expectations": [
        {"type": "script", "script": "evals/checks/check.py", "args": ["--strict"], "timeout": 30, "text": "out.csv exists"},
        {"type": "script", "path": "evals/checks/other.sh"}]}]}
    folder = skill(tmp_path, evals, {"evals/checks/check.py": "import sys\nsys.exit(0)\n", "evals/checks/other.sh": "exit 0\n"})
    found = read_skill(folder)
    assert found.cases[0].verify.script == "check.py" and found.cases[0].verify.dir == "evals/checks"
    assert "evals[0] script check other.sh (a case runs one script: the first)" in found.unread[0]
    tasks_dir = project(tmp_path)
    write_tasks(found, tasks_dir, judge="grader")
    task = load(tmp_path / "suite.yaml")[2][0]
    assert (task.verify.script, task.verify.args, task.verify.timeout, task.verify.dir) == ("check.py", ["--strict"], 30.0, None)
    assert (task.verify_dir / "check.py").read_text() == "import sys\nsys.exit(0)\n"
    assert task.verify_dir == tasks_dir / "eval-s1" / "verify"


@pytest.mark.parametrize("data", [
    [{"query": "sum this csv by region", "should_trigger": True}, {"query": "write a haiku", "should_trigger": False}],
    {"queries": [{"query": "sum this csv by region", "should_trigger": True}, {"query": "write a haiku", "should_trigger": False}]},
    {"cases": [{"prompt": "sum this csv by region", "should_fire": True}, {"prompt": "write a haiku", "should_fire": False}]},
    {"train": [{"query": "sum this csv by region", "should_trigger": True}], "validation": [{"query": "write a haiku", "should_trigger": False}]},
])
def test_query_sets_in_each_shape_become_trigger_tasks(tmp_path, data):
    found = read_skill(skill(tmp_path), queries(tmp_path, data))
    assert [(q.text, q.should_trigger) for q in found.queries] == [("sum this csv by region", True), ("write a haiku", False)]
    assert found.cases == [] and found.unread == []
    tasks_dir = project(tmp_path)
    assert write_tasks(found, tasks_dir, judge="grader", query_repeats=5) == ["query-01", "query-02"]
    first, second = load(tmp_path / "suite.yaml")[2]
    assert (first.prompt, first.trigger, first.tags, first.repeats) == ("sum this csv by region", True, ["query", "should-trigger"], 5)
    assert (second.trigger, second.tags, second.judge) == (False, ["query", "should-not-trigger"], None)


def test_cases_and_queries_together_and_the_width_of_query_numbers(tmp_path):
    many = [{"query": f"q{n}", "should_trigger": n % 2 == 0} for n in range(100)]
    found = read_skill(skill(tmp_path, GUIDE, {"evals/files/sales.csv": SALES}), queries(tmp_path, many))
    names = write_tasks(found, project(tmp_path), judge="grader")
    assert names[:3] == ["eval-1", "eval-2", "query-001"] and names[-1] == "query-100"
    assert len(load(tmp_path / "suite.yaml")[2]) == 102


def test_what_is_left_unread_is_one_line_per_file(tmp_path):
    evals = {"skill_name": "csv-tools", "metadata": {"v": 1}, "cases": [
        {"id": 1, "prompt": "p", "notes": "x", "assertions": ["ok", {"type": "llm_rubric", "value": "is nice"}]},
        {"id": 2, "prompt": "p", "files": ["SKILL.md"], "assertions": [
            {"type": "content_contains", "value": "a", "case_sensitive": True}, {"type": "regex"}, {"text": "t", "weight": 2}, 42]},
    ]}
    query_set = {"queries": [{"id": 1, "query": "q", "should_trigger": True}], "version": 2}
    folder = skill(tmp_path, evals)
    found = read_skill(folder, queries(tmp_path, query_set))
    assert found.unread == [
        f"{folder / 'evals/evals.json'}: left unread: field 'metadata', field 'cases[0].notes', "
        "cases[0].assertions[1] {type: llm_rubric} (not a check agent-eval runs), cases[1].files[0] SKILL.md "
        "(a SKILL.md: every arm would see the Skill), field 'cases[1].assertions[0].case_sensitive', "
        "cases[1].assertions[1] {type: regex} (no pattern to check), field 'cases[1].assertions[2].weight', "
        "cases[1].assertions[3] 42 (neither a statement nor an object)",
        f"{tmp_path / 'eval_queries.json'}: left unread: field 'version', field 'queries[0].id'",
    ]
    assert found.cases[1].files == [] and found.cases[1].expectations == ["t"]


def test_skill_md_frontmatter_is_read_leniently(tmp_path):
    lenient = "---\nname: csv-tools\ndescription: Use for CSV: cleaning, summing\n---\nbody\n"
    assert read_skill(skill(tmp_path, GUIDE | {"evals": [{"id": 1, "prompt": "p"}]}, skill_md=lenient)).description == \
        "Use for CSV: cleaning, summing"
    with pytest.raises(ConfigError, match=r"SKILL.md: field 'name': '\.\./up' must be a plain name"):
        read_skill(skill(tmp_path, [{"prompt": "p"}], skill_md="---\nname: ../up\n---\n", name="other"))


def bad(tmp_path: Path, case: str) -> tuple[Path, Path | None]:
    """A Skill folder (and a query set) with one mistake."""
    files = {"evals/files/a.csv": "a\n"}
    if case == "no SKILL.md":
        folder = skill(tmp_path, GUIDE, files)
        (folder / "SKILL.md").unlink()
        return folder, None
    if case == "query flag":
        return skill(tmp_path), queries(tmp_path, [{"query": "a", "should_trigger": True}, {"query": "b", "should_trigger": "yes"}])
    if case == "symlink out of a listed folder":
        folder = skill(tmp_path, {"evals": [{"id": 1, "prompt": "p", "files": ["evals/files"]}]}, files)
        (tmp_path / "secret.txt").write_text("secret\n")
        (folder / "evals/files/link.txt").symlink_to(tmp_path / "secret.txt")
        return folder, None
    if case == "query missing":
        return skill(tmp_path), queries(tmp_path, {"queries": [{"should_trigger": True}]})
    evals = {
        "does not parse": '{"evals": [{"id": 1, "prompt": "p",}]}',
        "no prompt": {"evals": [{"id": 1, "prompt": "p"}, {"id": 2, "expectations": ["x"]}]},
        "duplicate ids": {"evals": [{"id": 1, "prompt": "p"}, {"id": "1", "prompt": "q"}]},
        "duplicate numbered": {"evals": [{"id": 2, "prompt": "p"}, {"prompt": "q"}]},
        "missing file": {"evals": [{"id": 1, "prompt": "p", "files": ["evals/files/a.csv", "evals/files/gone.csv"]}]},
        "escaping file": {"evals": [{"id": 1, "prompt": "p", "files": ["../outside.txt"]}]},
        "bad regex": {"evals": [{"id": 1, "prompt": "p", "assertions": [{"type": "regex", "pattern": "(unclosed"}]}]},
        "missing script": {"evals": [{"id": 1, "prompt": "p", "assertions": [{"type": "script", "script": "evals/nope.py"}]}]},
        "yaml input at the top": {"evals": [{"id": 1, "prompt": "p", "files": ["config.yaml"]}]},
    }[case]
    (tmp_path / "outside.txt").write_text("secret\n")
    return skill(tmp_path, evals, {**files, "config.yaml": "a: 1\n"}), None


@pytest.mark.parametrize("case, where, message", [
    ("does not parse", "evals.json: line 1 column 36", "not valid JSON"),
    ("no prompt", "evals.json: evals[1]: field 'prompt'", "missing; write the request"),
    ("duplicate ids", "evals.json: evals[1]: field 'id': 1 is", "also the id of evals[0]; give each case its own id"),
    ("duplicate numbered", "evals.json: evals[1]: field 'id': 2 is", "also the id of evals[0] (a case without an id is numbered"),
    ("missing file", "evals.json: evals[0]: field 'files[1]'", "evals/files/gone.csv not found in the Skill folder"),
    ("escaping file", "evals.json: field 'evals[0].files[0]'", "../outside.txt leads outside"),
    ("symlink out of a listed folder", "evals.json: field 'evals[0].files[0]'", "evals/files/link.txt leads outside"),
    ("bad regex", "evals.json: evals[0].assertions[0]: field 'pattern'", "regex is not valid"),
    ("missing script", "evals.json: evals[0].assertions[0]: field 'script'", "evals/nope.py is not a file in the Skill folder"),
    ("yaml input at the top", "evals.json: evals[0]: field 'files[0]'", "read as a task; move it into a folder"),
    ("query flag", "eval_queries.json: [1]: field 'should_trigger'", '"yes" is not a boolean; write true'),
    ("query missing", "eval_queries.json: queries[0]: field 'query'", "missing; write what the user asks"),
    ("no SKILL.md", "csv-tools/SKILL.md: not found", "give the Skill's folder, the one holding SKILL.md"),
])
def test_bad_input_is_one_line_naming_file_item_and_field(tmp_path, case, where, message):
    folder, query_set = bad(tmp_path, case)
    with pytest.raises(ConfigError) as caught:
        read_skill(folder, query_set)
    text = str(caught.value)
    assert "\n" not in text and where in text and message in text, text
    assert text.startswith(str(tmp_path)), text  # the full path of the file at fault


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_files_write_the_same_bytes_and_run_keys(tmp_path):
    evals = {"evals": [*GUIDE["evals"], {"id": "zwnj\u200cid", "prompt": "p", "assertions": [{"type": "content_contains", "value": "x"}]}]}
    folder = skill(tmp_path, evals, {"evals/files/sales.csv": SALES})
    query_set = queries(tmp_path, [{"query": "sum it", "should_trigger": True}])
    write_tasks(read_skill(folder, query_set), tmp_path / "one", judge="grader")
    write_tasks(read_skill(folder, query_set), tmp_path / "two", judge="grader")
    assert tree(tmp_path / "one") == tree(tmp_path / "two") and len(tree(tmp_path / "one")) == 5
    keys = [[(t.id, t.content_hash, t.action_hash, t.grading_hash) for t in load_tasks(tmp_path / d, ["*"], tmp_path)] for d in ("one", "two")]
    assert keys[0] == keys[1]
    write_tasks(read_skill(folder, query_set), tmp_path / "one", judge="grader")  # over itself: the same, nothing left over
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv-tools", "eval_queries.json", "one", "two"]
    assert load_task(tmp_path / "one" / "eval-2.yaml").grading_hash != keys[0][0][3]  # keys differ between tasks: not vacuous


def test_a_failure_while_writing_leaves_the_old_folder_whole(tmp_path):
    folder = skill(tmp_path, GUIDE, {"evals/files/sales.csv": SALES})
    found = read_skill(folder)
    target = tmp_path / "tasks"
    write_tasks(found, target, judge="grader")
    before = tree(target)
    (folder / "evals/files/sales.csv").unlink()  # gone between reading and writing
    with pytest.raises(FileNotFoundError):
        write_tasks(found, target, judge="grader")
    assert tree(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["csv-tools", "tasks"]
    with pytest.raises(ConfigError, match="query repeats: 0 is not a whole number"):
        write_tasks(found, target, judge="grader", query_repeats=0)
    assert tree(target) == before


def test_multi_line_text_reads_back_as_written(tmp_path):
    prompt = "First line\n  indented: with a colon\ntrailing spaces   \n\n# not a comment\nlast"
    statement = "Keeps\n  the layout"
    found = read_skill(skill(tmp_path, {"evals": [{"id": 1, "prompt": prompt, "expectations": [statement]}]}))
    write_tasks(found, tmp_path / "tasks", judge="grader")
    task = load_tasks(tmp_path / "tasks", ["*"], tmp_path)[0]
    assert task.prompt == prompt and task.judge.expectations == [statement]
