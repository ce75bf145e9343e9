"""Scoring: match rules, markers and the status of a run."""

from __future__ import annotations

import pytest

from agent_eval import score
from agent_eval.agent import AgentRun
from agent_eval.config import Marker, Task
from agent_eval.trace import Trace


def task(expected, match="substring") -> Task:
    return Task(id="t", prompt="p", expected=expected, match=match)


@pytest.mark.parametrize("expected, match, answer, verdict", [
    ("Positive", "substring", "The label is POSITIVE (0.99)", True),
    ("positive", "substring", "negative", False),
    (r"\b1626\b", "regex", "checksum: 1626.", True),
    (r"^\d+$", "regex", "It is 16", False),
    ("1626", "exact", "  1626\n", True),
    ("1626", "exact", "1626.", False),
    (None, "substring", "anything", None),
    ("x", "substring", "", False),
])
def test_match_rules(expected, match, answer, verdict):
    assert score.matches(task(expected, match), answer) is verdict


def test_markers_fire_once_with_the_line_that_fired_them():
    t = Trace(commands=["ls", "pip list\nminilib checksum agent --verbose"], code=["x = 1"], files_read=["a/SKILL.md"], answer="42")
    markers = [
        Marker(name="cli", where="command", pattern=r"minilib\s+checksum"),
        Marker(name="api", where="code", pattern=r"import minilib"),
        Marker(name="skill", where="file_read", pattern=r"SKILL\.md$"),
        Marker(name="number", where="answer", pattern=r"^\d+$"),
    ]
    hits = score.fired(markers, t)
    assert [(h.name, h.excerpt) for h in hits] == [("cli", "minilib checksum agent --verbose"), ("skill", "a/SKILL.md"), ("number", "42")]


RUN = AgentRun(exit_code=0, seconds=1.0, model_not_found=False)


@pytest.mark.parametrize("run, reason, trace, generated, expected", [
    (RUN, "exited", Trace(model_calls=2, tool_calls={"bash": 1}, answer="42", last_stop="stop"), 30, ("ok", None)),
    (RUN, "max_turns", Trace(model_calls=5), 30, ("timeout", "max_turns")),
    (AgentRun(exit_code=None, seconds=9, model_not_found=False), "wall_clock", Trace(), 0, ("timeout", "wall_clock")),
    (RUN, "exited", Trace(model_calls=4, last_stop="error"), 0, ("agent_error", None)),
    (AgentRun(exit_code=1, seconds=1, model_not_found=False), "exited", Trace(model_calls=1, answer="x"), 5, ("agent_error", None)),
    (RUN, "exited", Trace(), 0, ("agent_error", None)),
    (RUN, "exited", Trace(model_calls=1, answer="", last_stop="stop"), 0, ("silent_failure", None)),
    (RUN, "exited", Trace(model_calls=1, answer="", last_stop="stop"), 12, ("silent_failure", None)),
    (RUN, "exited", Trace(model_calls=1, answer="42", last_stop="stop"), 0, ("silent_failure", None)),
    (AgentRun(exit_code=0, seconds=1, model_not_found=True), "exited", Trace(model_calls=1, answer="42"), 9, ("setup_error", None)),
])
def test_status(run, reason, trace, generated, expected):
    status, ended_by, _ = score.status(run, reason, trace, generated)
    assert (status, ended_by) == expected
