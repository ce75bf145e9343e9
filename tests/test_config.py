"""What validate says about a good suite: the plan's arithmetic, collapsed entries, resolved SHAs.
(Bad input is the corpus in tests/bad_inputs/, run by test_bad_inputs.py.)"""

from __future__ import annotations

from typer.testing import CliRunner

from agent_eval.cli.main import app
from conftest import MODEL_KEY, Project


def validate(project: Project):
    return CliRunner().invoke(app, ["validate", str(project.root / "suite.yaml")], env={"FAKE_MODEL_KEY": MODEL_KEY})


def test_validate_reports_the_plan_and_resolved_shas(bare_project):
    result = validate(bare_project)
    assert result.exit_code == 0, result.output
    assert "1 models × 3 revisions × 1 tasks × 3 tiers × 1 repeats = 9 − 2 not applicable = 7 cells" in result.output
    assert "revision API only: v0.1 -> " in result.output and result.output.strip().endswith("ok")


def test_entries_that_name_one_cell_collapse_and_the_plan_says_so(bare_project):
    model = {"id": "fake-coder", "name": "Fake", "base_url": bare_project.model_url, "api_key_env": "FAKE_MODEL_KEY"}
    bare_project.suite(models=[model, {**model, "name": "Fake again"}], revisions=["v0.3", "main", "v0.2"], tiers=["bare", "bare"])
    result = validate(bare_project)
    assert result.exit_code == 0, result.output
    assert "1 models × 2 revisions × 1 tasks × 1 tiers × 1 repeats = 2 cells" in result.output
    assert "collapsed: model 'Fake again' is the same model as 'Fake': planned once" in result.output
    assert "collapsed: revision 'main' is the same commit as 'v0.3'" in result.output
    assert "collapsed: tier 'bare' is listed 2 times: planned once" in result.output
