"""Reading pi's session file: framing, active branch, retries, what counts as code and reads."""

from __future__ import annotations

import orjson

from agent_eval.grade import trace


def session(path, *entries: dict, torn_tail: bytes = b"") -> None:
    lines = [orjson.dumps({"type": "session", "version": 3, "id": "s", "cwd": "/w"})]
    parent = None
    for i, entry in enumerate(entries):
        entry = {"id": entry.pop("id", f"e{i}"), "parentId": entry.pop("parentId", parent), **entry}
        parent = entry["id"]
        lines.append(orjson.dumps(entry))
    path.write_bytes(b"\n".join(lines) + b"\n" + torn_tail)


def assistant(*content: dict, stop="toolUse", usage=(100, 10, 50), error: str | None = None) -> dict:
    new, out, cached = usage
    message = {"role": "assistant", "content": list(content), "stopReason": stop,
               "usage": {"input": new, "output": out, "cacheRead": cached, "cost": {"total": 0.5}}}
    if error:
        message["errorMessage"] = error
    return {"type": "message", "message": message}


def call(name: str, cid: str = "", **args) -> dict:
    return {"type": "toolCall", "id": cid or f"c-{name}", "name": name, "arguments": args}


def result(name: str, text: str, error=False, cid: str = "") -> dict:
    return {"type": "message", "message": {"role": "toolResult", "toolCallId": cid or f"c-{name}", "toolName": name,
                                           "content": [{"type": "text", "text": text}], "isError": error}}


def test_a_full_session_is_summed_and_classified(tmp_path):
    path = tmp_path / "t.jsonl"
    session(
        path,
        {"type": "model_change", "provider": "agent-eval", "modelId": "m"},
        {"type": "message", "message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}},
        assistant(call("read", path="docs/SKILL.md")),
        result("read", "# skill"),
        assistant(call("bash", command="cat a.txt | head -n 3 b.txt && sed -n '1,5p' c.py")),
        result("bash", "boom", error=True),
        assistant(call("write", path="x.py", content="import lib\nprint(lib.f())")),
        result("write", "ok"),
        assistant(call("edit", path="x.py", edits=[{"oldText": "f()", "newText": "g()"}])),
        result("edit", "ok"),
        assistant(call("bash", cid="c-2", command="python - <<'PY'\nimport lib\nPY")),
        result("bash", "42", cid="c-2"),
        assistant({"type": "text", "text": "The answer\u2028is 42."}, stop="stop"),
        torn_tail=b'{"type":"message","message":{"role":"assist',
    )
    t = trace.parse(path)
    assert t.model == "agent-eval/m"
    assert t.turns == t.model_calls == 6
    assert t.tool_calls == {"read": 1, "bash": 2, "write": 1, "edit": 1}
    assert t.files_read == ["docs/SKILL.md", "a.txt", "b.txt", "c.py"]
    assert t.code == ["import lib\nprint(lib.f())", "g()", "python - <<'PY'\nimport lib\nPY"]
    assert t.answer == "The answer\u2028is 42."  # U+2028 inside JSON is not a line break
    assert (t.tokens.new, t.tokens.cached, t.tokens.generated) == (600, 300, 60)
    assert t.cost == 3.0
    assert [s.error for s in t.steps] == [False, True, False, False, False]
    assert t.errors == ["bash: boom"]


def test_failed_attempts_count_as_calls_not_turns_and_only_the_active_branch_counts(tmp_path):
    path = tmp_path / "t.jsonl"
    session(
        path,
        {"id": "u", "type": "message", "message": {"role": "user", "content": "go"}},
        {"id": "dead", "parentId": "u", **assistant({"type": "text", "text": "abandoned branch"}, stop="stop")},
        {"id": "fail", "parentId": "u", **assistant(stop="error", usage=(0, 0, 0), error="503 overloaded")},
        {"id": "ok", "parentId": "fail", **assistant({"type": "text", "text": "fine"}, stop="stop")},
    )
    t = trace.parse(path)
    assert (t.model_calls, t.turns, t.retries) == (2, 1, 1)
    assert t.answer == "fine" and t.last_stop == "stop"
    assert t.errors == ["model call error: 503 overloaded"]


def test_missing_or_empty_session_is_an_empty_trace(tmp_path):
    assert trace.parse(tmp_path / "none.jsonl").model_calls == 0
    (tmp_path / "torn.jsonl").write_bytes(b'{"type":"sess')
    assert trace.parse(tmp_path / "torn.jsonl") == trace.Trace()


def test_inline_code_detection():
    assert trace.INLINE_CODE.search("python -c 'import x'")
    assert trace.INLINE_CODE.search("cd src && python3.11 - <<EOF\nx\nEOF")
    assert trace.INLINE_CODE.search("echo 'print(1)' | python")
    assert not trace.INLINE_CODE.search("python script.py --flag")
    assert not trace.INLINE_CODE.search("pip install python-dateutil")
