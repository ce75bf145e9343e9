"""Checks of the validation rules that are not a whole bad input: what they still let through, and
the helpers behind them (the bad inputs themselves are the corpus in tests/bad_inputs/)."""

from __future__ import annotations

import re

import pytest
import yaml

from agent_eval.suite.config import NAME, Install, ModelSpec
from agent_eval.suite.files import DuplicateKey, UniqueKeyLoader
from agent_eval.suite.text import visible


@pytest.mark.parametrize("model_id", ["..", ".", "-x", "._.", "a/../..", "\u00e9\u00e9", "x" * 150, "org/Model-1.5B"])
def test_a_model_slug_is_always_a_plain_name(model_id):
    assert re.fullmatch(NAME, ModelSpec(id=model_id).slug)


def test_visible_writes_control_characters_out():
    assert visible("a\x1b[2J\nFAKE: ok\u202e") == "a\\x1b[2J\\x0aFAKE: ok\\u202e"
    assert visible("plain · ünïcode") == "plain · ünïcode"


@pytest.mark.parametrize("spec", ["{source}", "minilib @ git+{repo}@{sha}", "pkg{{literal}}"])
def test_install_spec_with_known_placeholders_passes(spec):
    assert Install(spec=spec).spec == spec


def test_merge_keys_may_be_overridden_but_keys_not_repeated():
    assert yaml.load("a: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n", Loader=UniqueKeyLoader)["c"] == {"x": 2}
    with pytest.raises(DuplicateKey):
        yaml.load("a:\n  x: 1\n  x: 2\n", Loader=UniqueKeyLoader)


def test_readers_print_names_from_the_store_as_text_never_as_escapes_or_markup(tmp_path):
    """A store written by another tool (or by hand) may hold any name: the readers' tables show it
    written out, and rich markup in it prints as typed."""
    import subprocess
    import sys

    from tests import synthetic

    rev = synthetic.revision(1).model_copy(update={"name": "[bold red]v1[/]\x1b[2J\nFAKE: ok"})
    found = synthetic.result("org/model", rev, "t1", "bare").model_dump(mode="json")
    found["answer"] = "line one\nline two \x1b]0;title\x07\x1b[31mred"  # the agent's own words
    store = synthetic.write(tmp_path / "store", [found], [])
    for args in (["results", str(store)], ["explain", str(store), "--task", "t1"]):
        out = subprocess.run([sys.executable, "-m", "agent_eval", *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout, args
        assert "[bold red]v1[/]\\x1b[2J\\x0aFAKE: ok" in out.stdout.replace("\n", ""), args
        assert not any(line.startswith("FAKE") for line in out.stdout.splitlines()), args
    assert "line two \\x1b]0;title\\x07\\x1b[31mred" in out.stdout  # explain keeps the answer's own line breaks


def test_a_failed_jobs_log_is_shown_never_obeyed():
    from types import SimpleNamespace

    from agent_eval.hub.jobs import describe_failure
    from tests import synthetic

    cell = synthetic.result("org/m", synthetic.revision(1), "t1", "bare").cell
    job = SimpleNamespace(id="j1", status=SimpleNamespace(stage="ERROR", message="exit 1\x1b[2J"))
    api = SimpleNamespace(fetch_job_logs=lambda **_: ["agent says \x1b]0;pwned\x07", "FAKE: ok\rDONE"])
    shown = describe_failure(api, cell, job, "org")
    assert "\x1b" not in shown and "\r" not in shown and "\x07" not in shown
    assert shown.splitlines()[1:] == ["    | agent says \\x1b]0;pwned\\x07", "    | FAKE: ok\\x0dDONE"]
