"""A scripted OpenAI-compatible chat-completions server (streaming SSE, tool calls, usage).

Rules pick a script by what the request contains — the latest user message, which in a session
of several tasks is the current task's prompt; the reply is the script's step for this turn (the
number of assistant messages since that prompt; the last step repeats). A final
text can quote what the last tool printed ({last_tool_output}), so the scripted "model" answers
right only when the library really worked in that tier and revision. It can also fail on
purpose: HTTP errors for the first N attempts, an empty reply, a slow reply.

Run alone for manual experiments: python tests/fake_model.py --port 8765
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass
class Reply:
    text: str = ""
    tool: str | None = None
    args: dict = field(default_factory=dict)
    prompt_tokens: int = 1000
    cached_tokens: int = 0
    completion_tokens: int = 20
    status: int = 200  # an HTTP error status, for the first `fail_times` attempts (0 = always)
    fail_times: int = 0
    empty: bool = False  # a stream with no content and no usage
    no_usage: bool = False  # a provider that never streams a usage chunk
    cut: bool = False  # the stream stops after the first half of the text: no finish_reason, no [DONE]
    garbage: bool = False  # one data line that is not JSON
    delay: float = 0.0  # seconds before anything is sent: a provider that says nothing
    stall: float = 0.0  # seconds after the first half of the text: a provider that answers, slowly


@dataclass
class Rule:
    contains: str  # a substring of the latest user message (the task's prompt)
    replies: list[Reply]
    system_contains: str = ""


class FakeModel:
    def __init__(self, rules: list[Rule], api_key: str | None = None, port: int = 0):
        self.rules = rules
        self.api_key = api_key
        self.requests: list[dict] = []  # what was asked and what was answered, for assertions
        self.bodies: list[bytes] = []  # every request body as received: all the agent ever sent out
        self.attempts: dict[tuple[int, int], int] = {}
        self.extra_delay = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.fake = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def pick(self, body: dict) -> tuple[int, int, Reply, dict]:
        messages = body.get("messages", [])
        system = " ".join(_text(m) for m in messages if m.get("role") in ("system", "developer"))
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"] or [0]
        prompt = _text(messages[users[-1]]) if messages else ""
        turn = sum(1 for m in messages[users[-1]:] if m.get("role") == "assistant")
        for index, rule in enumerate(self.rules):
            if rule.contains in prompt and rule.system_contains in system:
                reply = rule.replies[min(turn, len(rule.replies) - 1)]
                tools = [m for m in messages if m.get("role") == "tool"]
                location = re.search(r"<location>(.*?)</location>", system)
                fill = {"last_tool_output": _text(tools[-1]).strip() if tools else "", "skill_location": location.group(1) if location else ""}
                return index, turn, reply, fill
        raise LookupError(f"no rule for prompt {prompt[:80]!r}")

    def usage_total(self, key: str) -> int:
        return sum(r["usage"][key] for r in self.requests if r["usage"])


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        fake: FakeModel = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake.bodies.append(raw)
        body = orjson.loads(raw)
        # Every user message the request carries: a session's later task sees the earlier prompts.
        self.users = [_text(m) for m in body.get("messages", []) if m.get("role") == "user"]
        auth = self.headers.get("Authorization", "")
        if fake.api_key is not None and auth != f"Bearer {fake.api_key}":
            return self._plain(401, {"error": {"message": "bad key"}}, None, "unauthorised")
        try:
            index, turn, reply, fill = fake.pick(body)
        except LookupError as err:
            return self._plain(400, {"error": {"message": str(err)}}, None, "no rule")
        with fake.lock:
            attempt = fake.attempts[index, turn] = fake.attempts.get((index, turn), 0) + 1
        time.sleep(reply.delay + fake.extra_delay)
        failing = reply.status != 200 and (reply.fail_times == 0 or attempt <= reply.fail_times)
        if failing:
            return self._plain(reply.status, {"error": {"message": f"scripted {reply.status}"}}, None, f"rule {index} turn {turn}")
        self._stream(body, reply, fill, f"rule {index} turn {turn}")

    def _plain(self, status: int, payload: dict, usage: dict | None, note: str) -> None:
        data = orjson.dumps(payload)
        self._record(status, usage, note)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict, reply: Reply, fill: dict, note: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        model = body.get("model", "fake")
        usage = None
        if not reply.empty:
            text = reply.text.format(**fill)
            if text:
                self._chunk(model, {"role": "assistant", "content": text[: len(text) // 2]})
                time.sleep(reply.stall)
                if reply.cut:
                    self._write(b"")
                    self._record(200, None, note)
                    return
                if reply.garbage:
                    self._write(b"data: {this is not json\n\n")
                self._chunk(model, {"content": text[len(text) // 2 :]})
            if reply.tool:
                args = orjson.dumps({k: v.format(**fill) if isinstance(v, str) else v for k, v in reply.args.items()}).decode()
                call = {"index": 0, "id": f"call_{len(self.server.fake.requests)}", "type": "function", "function": {"name": reply.tool, "arguments": args[:5]}}
                self._chunk(model, {"tool_calls": [call]})
                self._chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[5:]}}]})
            usage = {
                "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            }
        finish = "tool_calls" if reply.tool and not reply.empty else "stop"
        self._chunk(model, {}, finish)
        if reply.no_usage:
            usage = None
        if usage:
            self._send({"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage})
        self._write(b"data: [DONE]\n\n")
        self._write(b"")
        self._record(200, usage, note)

    def _record(self, status: int, usage: dict | None, note: str) -> None:
        self.server.fake.requests.append({"status": status, "usage": usage, "note": note, "users": self.users})

    def _chunk(self, model: str, delta: dict, finish: str | None = None) -> None:
        self._send({"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def _send(self, payload: dict) -> None:
        self._write(b"data: " + orjson.dumps(payload) + b"\n\n")

    def _write(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    fake = FakeModel([Rule("", [Reply(tool="bash", args={"command": "echo hello"}), Reply(text="done: {last_tool_output}")])], port=options.port)
    print(f"serving on {fake.url}")
    threading.Event().wait()
