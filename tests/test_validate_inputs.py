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
