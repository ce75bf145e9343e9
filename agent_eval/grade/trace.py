"""Trace: what the agent did, read from pi's own session file (JSONL, format version 3).

Lines are split on "\\n" only (JSON may carry raw U+2028) and a torn last line — pi killed
mid-write — is ignored. Only the active branch counts: follow parentId back from the last entry.
Both supported pi versions write it; 1.x adds a first `system` message (pi's prompt, not a turn),
`usage` entries for requests pi sends on its own (cache warming: counted apart, not in tokens) and
`context_edit` entries (they change only what later requests see, so nothing here).
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path

import orjson
from pydantic import BaseModel

from agent_eval.store.records import Step, Tokens

# Commands that show a file's contents: their path arguments count as files read.
READERS = {"cat", "less", "more", "head", "tail", "sed", "nl", "bat", "view"}
# A shell command that feeds code to an interpreter (`python -c`, `python - <<EOF`, `| node`) is code.
INLINE_CODE = re.compile(r"(?:^|[\s|;&(])(?:python[\d.]*|node|ruby|perl|Rscript)\b[^\n]*?(?:\s-[ce]\b|\s-(?:\s|$)|<<)|\|\s*(?:python[\d.]*|node)\b")


class Call(BaseModel):
    """One tool call with what came back: what reads.py needs to say which files it showed."""

    tool: str
    args: dict
    turn: int  # the turn (successful model call, from 1) that made it
    output: str = ""
    error: bool = False


class Trace(BaseModel):
    cwd: str = ""  # the agent's working dir as pi saw it (the session header): relative paths start there
    model_calls: int = 0  # assistant messages, failed attempts included
    background_calls: int = 0  # requests pi made on its own (1.x `usage` entries: cache warming…); not in tokens
    turns: int = 0  # assistant messages that did not fail
    tool_calls: dict[str, int] = {}
    commands: list[str] = []
    code: list[str] = []
    files_read: list[str] = []
    answer: str = ""
    last_stop: str | None = None
    tokens: Tokens = Tokens()
    cost: float = 0.0
    errors: list[str] = []
    retries: int = 0
    steps: list[Step] = []
    calls: list[Call] = []
    model: str | None = None  # the model pi actually used (model_change)


def read_entries(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    entries = []
    for line in path.read_bytes().split(b"\n"):
        if line.strip():
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a torn line: pi was killed while writing it
    return entries


def active_branch(entries: list[dict]) -> list[dict]:
    by_id = {e["id"]: e for e in entries if "id" in e}
    if not by_id:
        return []
    branch, current = [], entries[-1] if "id" in entries[-1] else list(by_id.values())[-1]
    while current is not None:
        branch.append(current)
        current = by_id.get(current.get("parentId"))
    return branch[::-1]


def parse(path: Path, since: int = 0) -> Trace:
    """What the agent did; `since`: the entries before it (a session's earlier tasks) are left out."""
    trace = Trace()
    tools: Counter = Counter()
    results: dict[str, tuple[bool, str]] = {}
    calls: list[tuple[str, str, str, dict, int]] = []  # (id, tool, input, arguments, turn)
    entries = read_entries(path)
    trace.cwd = str(next((e.get("cwd") for e in entries if e.get("type") == "session"), "") or "")
    earlier = {e.get("id") for e in entries[:since]}
    for entry in active_branch(entries):
        if entry.get("id") in earlier:
            continue
        if entry.get("type") == "model_change":
            trace.model = f"{entry.get('provider')}/{entry.get('modelId')}"
        elif entry.get("type") == "usage":
            trace.background_calls += 1
        message = entry.get("message") or {}
        role = message.get("role")
        if role == "assistant":
            _assistant(trace, message, tools, calls)
        elif role == "toolResult":
            results[message.get("toolCallId")] = (bool(message.get("isError")), _text(message))
            if message.get("isError"):
                trace.errors.append(f"{message.get('toolName')}: {_text(message)[:200]}")
    trace.tool_calls = dict(tools)
    trace.steps = [Step(tool=tool, input=arg[:300], error=results.get(cid, (False,))[0]) for cid, tool, arg, _, _ in calls]
    trace.calls = [Call(tool=tool, args=args, turn=turn, error=results.get(cid, (False, ""))[0], output=results.get(cid, (False, ""))[1])
                   for cid, tool, _, args, turn in calls]
    return trace


def _assistant(trace: Trace, message: dict, tools: Counter, calls: list) -> None:
    trace.model_calls += 1
    stop = message.get("stopReason")
    trace.last_stop = stop
    usage = message.get("usage") or {}
    trace.tokens = trace.tokens + Tokens(new=usage.get("input", 0), cached=usage.get("cacheRead", 0), generated=usage.get("output", 0))
    trace.cost += (usage.get("cost") or {}).get("total", 0) or 0
    if stop in ("error", "aborted"):
        trace.retries += 1
        trace.errors.append(f"model call {stop}: {message.get('errorMessage', '')}"[:300])
        return
    trace.turns += 1
    trace.answer = _text(message)
    for block in message.get("content") or []:
        if block.get("type") == "toolCall":
            _tool_call(trace, block, tools, calls)


def _tool_call(trace: Trace, block: dict, tools: Counter, calls: list) -> None:
    name, args = block.get("name", "?"), block.get("arguments") or {}
    tools[name] += 1
    if name == "bash":
        command = str(args.get("command", ""))
        trace.commands.append(command)
        trace.files_read += files_in_command(command)
        if INLINE_CODE.search(command):
            trace.code.append(command)
        summary = command
    elif name == "read":
        trace.files_read.append(str(args.get("path", "")))
        summary = str(args.get("path", ""))
    elif name == "write":
        trace.code.append(str(args.get("content", "")))
        summary = str(args.get("path", ""))
    elif name == "edit":
        trace.code += [str(e.get("newText", "")) for e in args.get("edits") or [] if isinstance(e, dict)]
        summary = str(args.get("path", ""))
    else:
        summary = orjson.dumps(args).decode()
    calls.append((block.get("id", ""), name, summary, args if isinstance(args, dict) else {}, trace.turns))


def files_in_command(command: str) -> list[str]:
    found = []
    for segment in re.split(r"\|\||&&|[|;\n]", command):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        reader = Path(words[0]).name if words else ""
        if reader not in READERS:
            continue
        args, skip = [], False
        for word in words[1:]:
            if skip:
                skip = False
            elif reader in ("head", "tail") and word in ("-n", "-c"):
                skip = True  # the option's value, not a file
            elif not word.startswith("-"):
                args.append(word)
        found += args[1:] if reader == "sed" else args  # sed's first argument is its script
    return found


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if b.get("type") == "text").strip()
