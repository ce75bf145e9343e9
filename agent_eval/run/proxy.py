"""The metering proxy: pi's only door to a model.

The agent's bash tool sees pi's environment and argv, so the real API key never goes to pi. pi
talks to this proxy on loopback with a dummy key that names its run; the proxy swaps in the real
key, relays the streamed reply untouched, and logs every request's usage, latency and status —
the ground truth for tokens, retries included. It also enforces the turn and tool-call budgets.
One proxy serves every cell of a process; each run registers a Meter.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import httpx
import orjson

from agent_eval.store.records import Tokens
from agent_eval.suite.config import Budgets, ModelSpec


HF_ROUTER = os.environ.get("AGENT_EVAL_HF_ROUTER", "https://router.huggingface.co/v1")


def upstream(model: ModelSpec) -> str:
    """Where a model's requests go (the local model's server is the caller's to give)."""
    return model.base_url or HF_ROUTER


def api_key(model: ModelSpec) -> str:
    """The real key a model's requests carry: only this process and the proxy ever hold it."""
    if model.key_env == "HF_TOKEN":
        from huggingface_hub import get_token  # HF_TOKEN, or the token `hf auth login` saved

        return get_token() or ""
    return os.environ.get(model.key_env, "") if model.key_env else ""


class Control:
    """Why a run stopped; the first reason wins. Set by pi's exit, a budget, or the scheduler."""

    def __init__(self):
        self.event = threading.Event()
        self.interrupted = threading.Event()  # set by Ctrl-C even after pi exited: grading the cell (its judge) stops too
        self.reason: str | None = None
        self.detail = ""
        self._lock = threading.Lock()

    def stop(self, reason: str, detail: str = "") -> None:
        with self._lock:
            if self.reason is None:
                self.reason, self.detail = reason, detail
        if reason == "interrupted":
            self.interrupted.set()
        self.event.set()


class Meter:
    def __init__(self, upstream: str, key: str, log: Path, budgets: Budgets, control: Control, stop_when: Callable[[], str | None] = lambda: None):
        self.stop_when = stop_when  # asked before each request: a reason to end the run there (its activation is known)
        self.upstream = upstream.rstrip("/")
        self.key = key
        self.log = log
        self.budgets = budgets
        self.control = control
        self.requests = 0
        self.tool_calls = 0
        self.tokens = Tokens()
        self.unmetered = 0  # answered requests whose reply carried no usage: tokens unknown, not zero
        self.statuses: list[int] = []  # of every request, in order
        self.problems: list[str] = []  # replies that were cut off or not JSON
        self.asked_at: float | None = None  # when the request in flight was sent, until its reply's first byte
        self._lock = threading.Lock()

    @property
    def known_tokens(self) -> Tokens | None:
        return None if self.unmetered else self.tokens

    def silent_for(self) -> float | None:
        """Seconds the provider has sent nothing for the request in flight; None when it is answering."""
        asked = self.asked_at
        return None if asked is None else time.time() - asked

    def admit(self) -> bool:
        with self._lock:
            self.requests += 1
            limit = self.budgets.max_turns
            if limit is not None and self.requests > limit:
                self.control.stop("max_turns")
                return False
            if reason := self.stop_when():
                self.control.stop(reason)
                return False
            return True

    def record(self, entry: dict) -> None:
        with self._lock:
            self.statuses.append(entry["status"])
            if entry["status"] == 200 and not entry["usage"]:
                self.unmetered += 1
            if entry["problem"]:
                self.problems.append(entry["problem"])
            self.tool_calls += entry["tool_calls"]
            self.tokens = self.tokens + Tokens(
                new=entry["prompt_tokens"] - entry["cached_tokens"], cached=entry["cached_tokens"], generated=entry["completion_tokens"]
            )
            try:
                with open(self.log, "ab") as out:
                    out.write(orjson.dumps(entry) + b"\n")
            except OSError:  # a full disk: the run is metered all the same; storing its result will say why
                pass
            limit = self.budgets.max_tool_calls
            if limit is not None and self.tool_calls > limit:
                self.control.stop("max_tool_calls")


class Usage:
    """Reads what it needs from a streamed (SSE) or plain JSON chat-completion reply as it passes."""

    def __init__(self):
        self.usage: dict = {}
        self.finish_reason: str | None = None
        self.tool_ids: set = set()
        self.malformed = 0  # payloads that were not JSON
        self._pending = b""
        self._plain = b""

    def feed(self, chunk: bytes, streamed: bool) -> None:
        if not streamed:
            self._plain += chunk
            return
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            payload = line[5:].strip() if line.startswith(b"data:") else b""
            if payload and payload != b"[DONE]":
                self._read(payload)

    def done(self) -> None:
        if self._plain:
            self._read(self._plain, plain=True)

    def _read(self, payload: bytes, plain: bool = False) -> None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.malformed += 1
            return
        if not isinstance(data, dict):
            self.malformed += 1
            return
        if data.get("usage"):
            self.usage = data["usage"]
        for choice in data.get("choices") or []:
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            part = choice.get("message" if plain else "delta") or {}
            for call in part.get("tool_calls") or []:
                self.tool_ids.add(call.get("index", call.get("id")))

    def problem(self, status: int) -> str | None:
        """Why a successful reply cannot be trusted: it was not JSON, or it was cut off."""
        if status != 200:
            return None
        if self.malformed:
            return f"the provider's reply had {self.malformed} payloads that were not JSON"
        if self.finish_reason is None:
            return "the provider's reply was cut off (it never said why it finished)"
        return None

    def entry(self) -> dict:
        details = self.usage.get("prompt_tokens_details") or {}
        # OpenAI's place for cache reads, DeepSeek's, and the top-level one some providers use (Kimi)
        cached = details.get("cached_tokens") or self.usage.get("prompt_cache_hit_tokens") or self.usage.get("cached_tokens") or 0
        return {
            "usage": bool(self.usage),
            "prompt_tokens": self.usage.get("prompt_tokens") or 0,
            "cached_tokens": cached,
            "completion_tokens": self.usage.get("completion_tokens") or 0,
            "tool_calls": len(self.tool_ids),
            "finish_reason": self.finish_reason,
        }


class Proxy:
    def __init__(self):
        self.meters: dict[str, Meter] = {}
        self.client = httpx.Client(timeout=httpx.Timeout(30.0, read=600.0))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self
        self.thread = threading.Thread(target=self.server.serve_forever, name="agent-eval-proxy", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def register(self, meter: Meter) -> str:
        dummy = f"agent-eval-run-{secrets.token_hex(12)}"
        self.meters[dummy] = meter
        return dummy

    def unregister(self, dummy: str) -> None:
        self.meters.pop(dummy, None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the proxy's own log is proxy.jsonl
        pass

    def do_POST(self) -> None:
        proxy: Proxy = self.server.proxy
        meter = proxy.meters.get(self.headers.get("Authorization", "").removeprefix("Bearer ").strip())
        if meter is None:
            return self._error(401, "agent-eval proxy: unknown run key")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        started, usage = time.time(), Usage()
        entry = {"t": round(started, 3), "path": self.path, "status": 0, "error": None, "problem": None}
        if not meter.admit():
            entry.update(status=429, error="max_turns budget reached")
            self._error(429, "agent-eval: max_turns budget reached")
        else:
            self._relay(proxy, meter, body, usage, entry)
        usage.done()
        problem = None if entry["error"] else usage.problem(entry["status"])
        entry.update(usage.entry(), problem=problem, seconds=round(time.time() - started, 3))
        meter.record(entry)

    def _relay(self, proxy: Proxy, meter: Meter, body: bytes, usage: Usage, entry: dict) -> None:
        headers = {"Content-Type": "application/json", "Accept": self.headers.get("Accept", "*/*")}
        if meter.key:
            headers["Authorization"] = f"Bearer {meter.key}"
        url = meter.upstream + self.path.removeprefix("/v1")
        sent = False
        meter.asked_at = time.time()
        try:
            with proxy.client.stream("POST", url, content=body, headers=headers) as reply:
                entry["status"] = reply.status_code
                streamed = "event-stream" in reply.headers.get("content-type", "")
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                self.end_headers()
                sent = True
                for chunk in reply.iter_bytes():  # decoded: we do not forward Content-Encoding
                    meter.asked_at = None
                    usage.feed(chunk, streamed)
                    self.wfile.write(chunk)
                    self.wfile.flush()
                if reply.status_code >= 400:
                    entry["error"] = f"upstream answered {reply.status_code}"
        except httpx.HTTPError as err:
            entry.update(status=entry["status"] or 502, error=f"upstream {type(err).__name__}: {err}"[:300])
            if not sent:
                self._error(502, f"agent-eval proxy: {entry['error']}")
        except (BrokenPipeError, ConnectionResetError):
            entry["error"] = "pi closed the connection"
        finally:
            meter.asked_at = None

    def _error(self, status: int, message: str) -> None:
        # No Content-Length, like relayed replies: the reply ends when the connection closes, which
        # is after do_POST has recorded the request, so a caller never sees a reply the log lacks.
        body = orjson.dumps({"error": {"message": message, "type": "agent_eval_proxy"}})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
