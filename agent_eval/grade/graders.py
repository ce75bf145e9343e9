"""Graders: the answer, a verifier, a judge — each an outcome of its own (passed, failed, or error
when it could not grade), and one rule for the result: **matched when every declared grader
passed**; a grader in error leaves matched unknown (None, kept out of match % like an infra error);
`score` is the graders' mean partial credit. A task with no grader is behaviour-only (None, None).

How a verifier's run reads: exit 0 passed, exit 1 failed; a JSON object on its last stdout line,
{"score": 0..1, "checks": [{"name", "passed"}]}, gives partial credit and named checks (without
one, the score is 1 or 0). Anything else is an error: another exit code, a signal, a timeout, a
malformed JSON line, or a Python verifier that died of an exception other than AssertionError
(Python exits 1 on any uncaught exception: a bug in the verifier is not the agent's failure).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import orjson

from agent_eval.store import kept
from agent_eval.store.records import RETRIED, Check, Grader
from agent_eval.suite.task import Assertion, Task

from . import activation
from . import score as scoring
from .trace import Trace

TAIL = 2000  # characters of a grader's output kept in result.json
ASSERTED_CHARS = 200_000  # of each file the agent left, looked through by assertions
CRASH = re.compile(r"^(?!AssertionError\b)[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", re.MULTILINE)


def every(task: Task, trace: Trace, status: str, folder: Path, verify: Callable[[], Grader],
          judge: Callable[[], Grader | None]) -> list[Grader] | None:
    """Every grader the task declares, in one order — the answer, assertions, the verifier, the judge,
    a trigger query's activation — so a run and a regrade grade alike. `verify` and `judge` run them
    (the run stage's doing, or a stored outcome); a judge's None (Ctrl-C while it answered) is None:
    nothing graded. A run the harness or the provider failed is graded on its answer alone."""
    verdicts = [g for g in [answer(task, trace.answer)] if g]
    if status in RETRIED:
        return verdicts
    if task.assertions:
        verdicts.append(assertions(task, trace.answer, kept.texts(folder, ASSERTED_CHARS), trace.tool_calls))
    if task.verify:
        verdicts.append(verify())
    if task.judge:
        if (judged := judge()) is None:
            return None
        verdicts.append(judged)
    return verdicts + [g for g in [trigger(task, activation.first_read(trace))] if g]


def answer(task: Task, text: str) -> Grader | None:
    matched = scoring.matches(task, text)
    if matched is None:
        return None
    return Grader(kind="answer", status="passed" if matched else "failed", score=float(matched))


def assertions(task: Task, text: str, files: list[tuple[str, str]], tools: dict[str, int]) -> Grader | None:
    """The task's deterministic checks: each passes or fails, with where it looked; the score is the share that passed."""
    if not task.assertions:
        return None
    checks = [Check(name=a.text, passed=passed, evidence=evidence) for a in task.assertions for passed, evidence in [_holds(a, text, files, tools)]]
    share = sum(c.passed for c in checks) / len(checks)
    return Grader(kind="assertions", status="passed" if share == 1 else "failed", score=round(share, 4), checks=checks)


def _holds(check: Assertion, text: str, files: list[tuple[str, str]], tools: dict[str, int]) -> tuple[bool, str]:
    if check.tool is not None:
        calls = tools.get(check.tool, 0)
        return calls > 0, f"{check.tool}: {calls} call{'s' * (calls != 1)}" if calls else f"{check.tool} never called (called: {', '.join(sorted(tools)) or 'no tool'})"
    found = lambda body: check.contains.casefold() in body.casefold() if check.contains is not None else re.search(check.regex, body, re.MULTILINE)  # noqa: E731
    where = [name for name, body in [("the answer", text), *files] if found(body)]
    return bool(where), f"found in {', '.join(where[:3])}" if where else f"not in the answer nor in the {len(files)} text files left"


def trigger(task: Task, activated_at: int | None) -> Grader | None:
    """A trigger query's outcome: the agent read the Skill exactly when the query should make it."""
    if task.trigger is None:
        return None
    passed = (activated_at is not None) == task.trigger
    return Grader(kind="trigger", status="passed" if passed else "failed", score=float(passed),
                  output=f"read SKILL.md at turn {activated_at}" if activated_at is not None else "never read SKILL.md")


def verdict(exit_code: int | None, stdout: str, stderr: str, seconds: float, python: bool, why: str = "") -> Grader:
    """A verifier's outcome from how it ended and what it printed; `why`: it never ended on its own (timeout)."""
    output = tail(stdout, stderr)
    seconds = round(seconds, 3)
    if why or exit_code not in (0, 1):
        reason = why or (f"killed by signal {-exit_code}" if exit_code is not None and exit_code < 0 else f"exit code {exit_code}")
        return Grader(kind="verify", status="error", seconds=seconds, output=f"the verifier could not grade: {reason}\n{output}".strip())
    last = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    if exit_code == 1 and python and last and "Traceback" in stderr and CRASH.match(last[0]):
        return Grader(kind="verify", status="error", seconds=seconds, output=f"the verifier crashed: {last[0][:200]}\n{output}".strip())
    try:
        score, checks = partial(stdout)
    except ValueError as err:
        return Grader(kind="verify", status="error", seconds=seconds, output=f"the verifier's last line {err}\n{output}".strip())
    passed = exit_code == 0
    return Grader(kind="verify", status="passed" if passed else "failed", score=float(passed) if score is None else score,
                  seconds=seconds, output=output, checks=checks)


def partial(stdout: str) -> tuple[float | None, list[Check]]:
    """The score and checks of a JSON object on the last stdout line; (None, []) when that line is no JSON object."""
    lines = stdout.strip().splitlines()
    if not lines or not lines[-1].lstrip().startswith("{"):
        return None, []
    try:
        found = orjson.loads(lines[-1])
    except orjson.JSONDecodeError:
        raise ValueError("starts like JSON but is not (give {\"score\": 0.5, \"checks\": [...]} on one line)") from None
    score = found.get("score")
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
        raise ValueError(f"has score {score!r}: give a number from 0 to 1")
    checks = found.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("passed"), bool) for c in checks):
        raise ValueError("has checks that are not [{\"name\": text, \"passed\": true|false}, …]")
    return float(score), [Check(name=c["name"], passed=c["passed"]) for c in checks]


def combine(graders: list[Grader]) -> tuple[bool | None, float | None]:
    """matched and score: every grader passed; the mean partial credit. Unknown when one could not grade.
    A trigger query's outcome counts in matched (the query passed) but not in score: score is the
    credit for the work, and a Skill's pass rate must not mix in whether it was read."""
    if not graders or any(g.status == "error" for g in graders):
        return None, None
    credit = [g.score for g in graders if g.kind != "trigger"]
    return all(g.status == "passed" for g in graders), round(sum(credit) / len(credit), 4) if credit else None


def tail(stdout: str, stderr: str) -> str:
    text = (stdout.rstrip() + ("\n" + stderr.rstrip() if stderr.strip() else "")).strip()
    return text if len(text) <= TAIL else "…" + text[-TAIL:]
