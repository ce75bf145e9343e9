"""Scoring: match rules, markers and the status of a run."""

from __future__ import annotations

import time

import pytest

from agent_eval.grade import score
from agent_eval.run import outcome
from agent_eval.run.agent import AgentRun
from agent_eval.suite.config import Budgets, Marker
from agent_eval.suite.task import Task
from agent_eval.run.proxy import Control, Meter
from agent_eval.grade.trace import Trace


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


def meter(tmp_path, *statuses: int, generated: int = 30, usage: bool = True, problem: str | None = None) -> Meter:
    """A real meter, fed the log entries the proxy would have written for these replies."""
    m = Meter("http://127.0.0.1:9/v1", "", tmp_path / "proxy.jsonl", Budgets(), Control())
    for k, status in enumerate(statuses or (200,)):
        last = k == len(statuses or (200,)) - 1
        m.record({"status": status, "usage": usage and status == 200, "problem": problem if last else None, "tool_calls": 0,
                  "prompt_tokens": 100, "cached_tokens": 0, "completion_tokens": generated if last else 0})
    return m


@pytest.mark.parametrize("run, reason, trace, replies, expected", [
    (RUN, "exited", Trace(model_calls=2, tool_calls={"bash": 1}, answer="42", last_stop="stop"), {}, ("ok", None)),
    (RUN, "max_turns", Trace(model_calls=5), {}, ("timeout", "max_turns")),
    (AgentRun(exit_code=None, seconds=9, model_not_found=False), "wall_clock", Trace(), {"generated": 0}, ("timeout", "wall_clock")),
    (RUN, "exited", Trace(model_calls=4, last_stop="error"), {"statuses": (400,)}, ("agent_error", None)),
    (AgentRun(exit_code=1, seconds=1, model_not_found=False), "exited", Trace(model_calls=1, answer="x"), {}, ("agent_error", None)),
    (RUN, "exited", Trace(), {"statuses": ()}, ("agent_error", None)),
    (RUN, "exited", Trace(model_calls=1, answer="", last_stop="stop"), {"generated": 0}, ("silent_failure", None)),
    (RUN, "exited", Trace(model_calls=1, answer="", last_stop="stop"), {"generated": 12}, ("silent_failure", None)),
    (RUN, "exited", Trace(model_calls=1, answer="42", last_stop="stop"), {"generated": 0}, ("silent_failure", None)),
    (AgentRun(exit_code=0, seconds=1, model_not_found=True), "exited", Trace(model_calls=1, answer="42"), {}, ("setup_error", None)),
    # Unknown is not zero: no usage reported, but an answer in the trace — an honest run.
    (RUN, "exited", Trace(model_calls=1, answer="42", last_stop="stop"), {"generated": 0, "usage": False}, ("ok", None)),
    (RUN, "exited", Trace(model_calls=1, answer="", last_stop="stop"), {"generated": 0, "usage": False}, ("silent_failure", None)),
    # Infrastructure is not the agent: provider failures after pi's retries, signals, cut-off replies, a dead server.
    (RUN, "exited", Trace(model_calls=4, last_stop="error"), {"statuses": (503, 503, 503, 503)}, ("infra_error", None)),
    (RUN, "exited", Trace(model_calls=4, last_stop="error"), {"statuses": (429, 429)}, ("infra_error", None)),
    (RUN, "exited", Trace(model_calls=1, last_stop="error"), {"statuses": (401,)}, ("setup_error", None)),
    (AgentRun(exit_code=-9, seconds=1, model_not_found=False), "exited", Trace(model_calls=1), {}, ("infra_error", None)),
    (AgentRun(exit_code=137, seconds=1, model_not_found=False), "exited", Trace(model_calls=1), {}, ("infra_error", None)),
    (RUN, "exited", Trace(model_calls=1, answer="4", last_stop="stop"), {"problem": "the provider's reply was cut off"}, ("infra_error", None)),
    (RUN, "server_died", Trace(model_calls=1), {}, ("infra_error", None)),
])
def test_status(tmp_path, run, reason, trace, replies, expected):
    status, ended_by, _ = outcome.status(run, reason, trace, meter(tmp_path, *replies.pop("statuses", (200,)), **replies))
    assert (status, ended_by) == expected


def test_a_time_budget_that_ends_while_the_provider_says_nothing_is_the_providers_failure(tmp_path):
    answering, silent = meter(tmp_path), meter(tmp_path)
    silent.asked_at = time.time() - 7  # a request sent 7 s ago, no byte of its reply yet
    killed = AgentRun(exit_code=None, seconds=10.0, model_not_found=False)
    assert outcome.status(killed, "wall_clock", Trace(model_calls=1), answering)[:2] == ("timeout", "wall_clock")
    status, ended_by, errors = outcome.status(killed, "wall_clock", Trace(model_calls=1), silent)
    assert (status, ended_by) == ("infra_error", None) and errors[0].startswith("the provider sent nothing for 7s")
    # Another budget is the agent's, whatever the provider is doing.
    assert outcome.status(killed, "max_turns", Trace(model_calls=5), silent)[:2] == ("timeout", "max_turns")
