"""Bad input: every loader answers with one line naming the file, the field and the fix — exit 2,
no traceback — and nothing is stored."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from agent_eval.cli import app
from conftest import Project


@pytest.fixture
def bare_project(tmp_path, minilib_repo) -> Project:
    project = Project(tmp_path, minilib_repo, "http://127.0.0.1:9/v1")
    project.profile()
    project.task("checksum", prompt="What is the checksum of 'a'?", expected="97")
    project.suite()
    return project


def edit(project: Project, relative: str, change) -> None:
    path = project.root / relative
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


CASES = {
    "unknown suite field": ("suite.yaml", lambda d: d.update(modles=["x"]), "suite.yaml: unknown field 'modles'; allowed here: name, profile, models"),
    "missing models": ("suite.yaml", lambda d: d.pop("models"), "suite.yaml: field 'models' is required; add it"),
    "repeats below 1": ("suite.yaml", lambda d: d.update(repeats=0), "suite.yaml: field 'repeats': Input should be greater than or equal to 1"),
    "unknown tier": ("suite.yaml", lambda d: d.update(tiers=["bare", "docs"]), "suite.yaml: field 'tiers': unknown tier 'docs'; profile minilib has bare, clone, skill"),
    "unknown task": ("suite.yaml", lambda d: d.update(tasks=["chcksum"]), "suite.yaml: field 'tasks': no task matches 'chcksum' in"),
    "unknown profile": ("suite.yaml", lambda d: d.update(profile="nolib"), "suite.yaml: field 'profile': no profile 'nolib'"),
    "unknown revision": ("suite.yaml", lambda d: d.update(revisions=["v0.4"]), "suite.yaml: field 'revisions': unknown revision 'v0.4'; did you mean: v0.3, v0.2, v0.1"),
    "unknown model field": ("suite.yaml", lambda d: d["models"][0].update(key="sk-123"), "suite.yaml: unknown field 'models.0.key'; allowed here: id, name, base_url, api_key_env"),
    "bad marker regex": ("profiles/minilib/profile.yaml", lambda d: d["markers"][0].update(pattern="minilib (checksum"), "profile.yaml: field 'markers.0.pattern': not a valid regex (missing ), unterminated subpattern"),
    "bad marker place": ("profiles/minilib/profile.yaml", lambda d: d["markers"][0].update(where="stdout"), "profile.yaml: field 'markers.0.where': Input should be 'command', 'code', 'file_read' or 'answer'"),
    "unknown tier field": ("profiles/minilib/profile.yaml", lambda d: d.update(tiers={"bare": {"chekout": True}}), "profile.yaml: unknown field 'tiers.bare.chekout'; allowed here: checkout, skill, files"),
    "skill tier without skill": ("profiles/minilib/profile.yaml", lambda d: (d.pop("skill"), d.update(tiers={"skill": {"skill": True}})), "profile.yaml: field '(top level)': tier 'skill' uses a skill but the profile has no 'skill:' section"),
    "unreachable repo": ("profiles/minilib/profile.yaml", lambda d: d.update(repo="/nonexistent/repo.git"), "profile.yaml: field 'repo': cannot fetch /nonexistent/repo.git"),
    "task without prompt": ("tasks/minilib/checksum.yaml", lambda d: d.pop("prompt"), "checksum.yaml: field 'prompt' is required; add it"),
    "bad task regex": ("tasks/minilib/checksum.yaml", lambda d: d.update(match="regex", expected="[0-9"), "checksum.yaml: field '(top level)': expected is not a valid regex"),
    "unknown match mode": ("tasks/minilib/checksum.yaml", lambda d: d.update(match="fuzzy"), "checksum.yaml: field 'match': Input should be 'substring', 'regex' or 'exact'"),
    "missing input file": ("tasks/minilib/checksum.yaml", lambda d: d.update(files=["data.csv"]), "checksum.yaml: field 'files': data.csv not found beside the task; add it or remove it"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(bare_project, case):
    relative, change, expected = CASES[case]
    edit(bare_project, relative, change)
    for command in (["validate", "suite.yaml"], ["run", "suite.yaml"]):
        result = CliRunner().invoke(app, [*command[:1], str(bare_project.root / command[1])])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert expected in lines[0]
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not bare_project.store.exists()


def test_bad_yaml_and_missing_files(bare_project):
    (bare_project.root / "suite.yaml").write_text("name: [unclosed\n")
    result = CliRunner().invoke(app, ["validate", str(bare_project.root / "suite.yaml")])
    assert result.exit_code == 2 and "suite.yaml: line 2 not valid YAML" in result.output
    result = CliRunner().invoke(app, ["validate", str(bare_project.root / "nope.yaml")])
    assert result.exit_code == 2 and result.output.strip() == f"error: {bare_project.root / 'nope.yaml'}: file not found"


def test_a_bad_suite_leaves_the_existing_store_untouched(bare_project):
    result_file = bare_project.store / "runs/x/result.json"
    result_file.parent.mkdir(parents=True)
    result_file.write_text('{"status": "ok"}')
    edit(bare_project, "suite.yaml", lambda d: d.update(tiers=["nope"]))
    assert CliRunner().invoke(app, ["run", str(bare_project.root / "suite.yaml")]).exit_code == 2
    assert [p.name for p in bare_project.store.rglob("*") if p.is_file()] == ["result.json"]
    assert result_file.read_text() == '{"status": "ok"}'


def test_validate_reports_the_plan_and_resolved_shas(bare_project):
    result = CliRunner().invoke(app, ["validate", str(bare_project.root / "suite.yaml")])
    assert result.exit_code == 0, result.output
    assert "1 models × 3 revisions × 1 tasks × 3 tiers × 1 repeats = 7 cells" in result.output
    assert "revision API only: v0.1 -> " in result.output and result.output.strip().endswith("ok")
