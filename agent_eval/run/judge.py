"""Judge: a model scores the agent's work against a task's rubric — through the metering proxy, at
temperature 0, in a fixed JSON shape ({"score": 0..1, "reason": "…"}) — or gives a verdict with
evidence on each of the task's expectations ({"expectations": [{"text", "passed", "evidence"}]}, one
per expectation in order; the score is the share met, each verdict one of the grader's checks). Its tokens are the judge's
(the grader's `tokens`, its requests in the run folder's judge.jsonl), never the agent's. A reply
that is not that shape, or a request that fails, is a grading error, never the agent's miss.

Each judgement is kept in the run folder (judgements.jsonl) under its key — the judge model, the
rubric, and the digest of what the judge is shown — so `regrade` reproduces it without a call
unless asked to ask again (`--rejudge`)."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Callable

import httpx
import orjson

from agent_eval.store import kept
from agent_eval.store.records import Cell, Check, Grader
from agent_eval.store.redact import redact
from agent_eval.suite.config import Budgets, ModelSpec
from agent_eval.suite.task import Task
from agent_eval.suite.identity import canonical

from .proxy import Control, Meter, Proxy, api_key, upstream

CACHE = "judgements.jsonl"
SYSTEM = ("You grade a coding agent's work against a rubric. Reply with exactly one JSON object on one line, "
          '{"score": <a number from 0 to 1>, "reason": "<one sentence>"}, and nothing else.')
# Evidence before the verdict: a model writes its fields in order, and a verdict written after the
# evidence agrees with it (a small judge otherwise passes "the answer is 10, not 255").
EXPECTATIONS = ("You check a coding agent's work against a list of expectations, one by one. Reply with exactly one JSON "
                'object, {"expectations": [{"text": "<the expectation>", "evidence": "<what in the work shows whether it holds, '
                'quoted or named>", "passed": true or false}, …]}, one entry per expectation in the order given, and nothing else.')
MAX_FILE_CHARS = 8000  # of each file shown to the judge


def run(cell: Cell, task: Task, answer: str, folder: Path, proxy: Proxy, rejudge: bool = False, model: ModelSpec | None = None,
        where: Callable[[ModelSpec], str] = upstream, stop: threading.Event | None = None) -> Grader | None:
    """`where`: the URL the judge's requests go to (an offline judge's server), asked only when the judge is.
    None: `stop` was set (Ctrl-C) while the judge was answering; nothing is kept."""
    model = model or cell.judge
    shown = _shown(task, answer, folder)
    key = hashlib.sha256(canonical({"model": model.model_dump(exclude={"name"}), "rubric": task.judge.rubric or "", "shown": shown})).hexdigest()
    cached = None if rejudge else _cached(folder, key)
    if cached is None:
        cached = _ask(model, task, shown, folder, proxy, key, where, stop or threading.Event())
        if cached is not None and cached.status != "error":
            with open(folder / CACHE, "ab") as out:
                out.write(orjson.dumps({"key": key, **cached.model_dump(mode="json")}) + b"\n")
    return cached


def _shown(task: Task, answer: str, folder: Path) -> str:
    listed = "\n".join(f"{n}. {e}" for n, e in enumerate(task.judge.expectations, 1))
    parts = [f"## Rubric\n{task.judge.rubric}" if task.judge.rubric else f"## Expectations\n{listed}",
             f"## The task the agent was given\n{task.prompt}", f"## The agent's final answer\n{answer or '(none)'}"]
    if task.judge.files:
        for path, text in kept.texts(folder, MAX_FILE_CHARS):
            parts.append(f"## File the agent left: {path}\n```\n{text}\n```")
    return "\n\n".join(parts)


def _cached(folder: Path, key: str) -> Grader | None:
    path = folder / CACHE
    for line in (path.read_bytes().splitlines() if path.is_file() else [])[::-1]:
        entry = orjson.loads(line)
        if entry.pop("key") == key:
            return Grader.model_validate(entry)
    return None


def _ask(model: ModelSpec, task: Task, shown: str, folder: Path, proxy: Proxy, key: str, where: Callable[[ModelSpec], str],
         stop: threading.Event) -> Grader | None:
    secret = api_key(model)
    meter = Meter(where(model), secret, folder / "judge.jsonl", budgets=Budgets(), control=Control())
    dummy = proxy.register(meter)
    started = time.perf_counter()
    body = {"model": model.id, "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": 512 + 160 * len(task.judge.expectations),
            "messages": [{"role": "system", "content": EXPECTATIONS if task.judge.expectations else SYSTEM}, {"role": "user", "content": shown}]}
    try:
        reply = _post(f"{proxy.url}/chat/completions", body, dummy, stop)
        if reply is None:
            return None
        text = _content(reply)
    except (httpx.HTTPError, ValueError) as err:
        return _error(f"the judge could not answer: {redact(str(err).encode(), [secret]).decode()[:300]}", started, meter)
    finally:
        proxy.unregister(dummy)
    try:
        checks = _checks(text, task.judge.expectations) if task.judge.expectations else []
        score, reason = (sum(c.passed for c in checks) / len(checks), "") if checks else _verdict(text)
    except ValueError as err:
        return _error(f"the judge's reply {err}: {text[:300]!r}", started, meter)
    return Grader(kind="judge", status="passed" if score >= task.judge.threshold else "failed", score=round(score, 4), output=reason,
                  checks=checks, seconds=round(time.perf_counter() - started, 3), tokens=meter.known_tokens)


def _post(url: str, body: dict, dummy: str, stop: threading.Event) -> httpx.Response | None:
    """The judge's reply, or None as soon as `stop` is set: a provider that stalls must not hold Ctrl-C
    for the read timeout, so the request runs in a thread of its own, left behind when stopped."""
    done: dict = {}

    def ask() -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(30.0, read=300.0)) as client:
                done["reply"] = client.post(url, json=body, headers={"Authorization": f"Bearer {dummy}"})
        except httpx.HTTPError as err:
            done["error"] = err

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    while thread.is_alive():
        if stop.wait(0.2):
            return None
    if "error" in done:
        raise done["error"]
    return done["reply"]


def _content(reply: httpx.Response) -> str:
    if reply.status_code != 200:
        raise ValueError(f"HTTP {reply.status_code}")
    text = []
    for line in reply.text.splitlines():
        payload = line[5:].strip() if line.startswith("data:") else ""
        if payload and payload != "[DONE]":
            for choice in orjson.loads(payload).get("choices") or []:
                text.append((choice.get("delta") or choice.get("message") or {}).get("content") or "")
    if not text and reply.text.lstrip().startswith("{"):  # an endpoint that does not stream
        text = [c["message"].get("content") or "" for c in orjson.loads(reply.text).get("choices") or []]
    return "".join(text).strip()


def _json(text: str):
    body = text.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("is not one JSON object") from None


def _checks(text: str, expectations: list[str]) -> list[Check]:
    """One verdict per expectation, in order; the expectation's own words name it, whatever the judge echoed."""
    found = _json(text)
    items = found.get("expectations") if isinstance(found, dict) else None
    if not isinstance(items, list) or len(items) != len(expectations):
        raise ValueError(f"does not give {len(expectations)} expectations")
    if not all(isinstance(i, dict) and isinstance(i.get("passed"), bool) for i in items):
        raise ValueError("has an expectation without passed: true or false")
    return [Check(name=e, passed=i["passed"], evidence=str(i.get("evidence") or "")[:500]) for e, i in zip(expectations, items)]


def _verdict(text: str) -> tuple[float, str]:
    found = _json(text)
    score = found.get("score") if isinstance(found, dict) else None
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
        raise ValueError("has no score from 0 to 1")
    reason = found.get("reason")
    return float(score), reason if isinstance(reason, str) else ""


def _error(why: str, started: float, meter: Meter) -> Grader:
    return Grader(kind="judge", status="error", output=why, seconds=round(time.perf_counter() - started, 3), tokens=meter.known_tokens)
