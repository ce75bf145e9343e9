"""Outcome: what status a run gets. A status says whose fault a bad run was: the agent's
(agent_error, timeout, silent_failure), the harness's (setup_error) or the provider's and the
machine's (infra_error). A run that produced nothing (no generated tokens, or neither a tool call
nor an answer) is a silent failure, never an honest miss; when the provider reported no usage,
tokens are unknown and only the trace decides.
"""

from __future__ import annotations

from agent_eval.grade.trace import Trace
from agent_eval.store.records import Status

from .agent import AgentRun
from .proxy import Meter


def status(run: AgentRun, stop_reason: str, trace: Trace, meter: Meter) -> tuple[Status, str | None, list[str]]:
    """(status, which budget ended the run, extra errors). The rules, in order, are the README's."""
    if run.model_not_found:
        return "setup_error", None, ["pi did not know the model and fell back to a guess; check the model id"]
    silent = meter.silent_for()
    if stop_reason == "wall_clock" and silent is not None:  # the provider's failure, not the agent's slowness
        return "infra_error", None, [f"the provider sent nothing for {silent:.0f}s, until the time budget ended; the next run tries again"]
    if stop_reason == "activated":  # --until-activated: what the run was for is known
        return "ok", "activated", []
    if stop_reason in ("wall_clock", "max_turns", "max_tool_calls"):
        return "timeout", stop_reason, []
    if stop_reason == "server_died":
        return "infra_error", None, []  # the reason is in the control's detail
    if run.exit_code is not None and (run.exit_code < 0 or run.exit_code > 128):
        signal = -run.exit_code if run.exit_code < 0 else run.exit_code - 128
        return "infra_error", None, [f"pi was killed by signal {signal} (out of memory, or killed from outside)"]
    if meter.problems:
        return "infra_error", None, meter.problems[-1:]
    if trace.last_stop in ("error", "aborted"):
        return _failed_call(meter.statuses[-1] if meter.statuses else 0)
    if run.exit_code not in (0, None):
        return "agent_error", None, [f"pi exited with code {run.exit_code}"]
    if trace.model_calls == 0:
        return "agent_error", None, ["pi wrote no session: the model never answered"]
    tokens = meter.known_tokens
    if (tokens is not None and tokens.generated == 0) or (not trace.tool_calls and not trace.answer):
        return "silent_failure", None, []
    return "ok", None, []


def _failed_call(last: int) -> tuple[Status, str | None, list[str]]:
    """pi's last model call failed after its retries: whose fault, by what the provider answered."""
    if last in (401, 403):
        return "setup_error", None, [f"the provider refused the key ({last}); check the key variable the suite names"]
    if last == 429 or last >= 500 or last == 0:
        return "infra_error", None, [f"the provider failed ({last or 'no answer'}) after pi's retries"]
    return "agent_error", None, []
