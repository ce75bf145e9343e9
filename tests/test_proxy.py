"""The metering proxy on its own: key swap, usage from streamed and plain replies, failures, budgets."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import orjson
import pytest

from agent_eval.suite.config import Budgets
from agent_eval.run.proxy import Control, Meter, Proxy
from conftest import MODEL_KEY
from fake_model import FakeModel, Reply, Rule

ASK = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def upstream():
    server = FakeModel([Rule("hello", [Reply(tool="bash", args={"command": "ls"}, prompt_tokens=700, cached_tokens=200, completion_tokens=33)])], api_key=MODEL_KEY)
    yield server
    server.close()


@pytest.fixture
def proxy():
    with Proxy() as running:
        yield running


def meter(tmp_path, url: str, key: str = MODEL_KEY, **budgets) -> Meter:
    return Meter(url, key, tmp_path / "proxy.jsonl", Budgets(**budgets), Control())


def log(tmp_path) -> list[dict]:
    return [orjson.loads(line) for line in (tmp_path / "proxy.jsonl").read_bytes().splitlines()]


def test_streams_through_with_the_real_key_and_meters_usage(tmp_path, upstream, proxy):
    m = meter(tmp_path, upstream.url)
    dummy = proxy.register(m)
    reply = httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"})
    assert reply.status_code == 200 and b"data: [DONE]" in reply.content
    assert (m.requests, m.tool_calls) == (1, 1)
    assert (m.tokens.new, m.tokens.cached, m.tokens.generated) == (500, 200, 33)
    (entry,) = log(tmp_path)
    assert entry["status"] == 200 and entry["finish_reason"] == "tool_calls" and entry["error"] is None
    assert MODEL_KEY.encode() not in (tmp_path / "proxy.jsonl").read_bytes()


def test_unknown_run_key_is_refused(proxy):
    reply = httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": "Bearer guess"})
    assert reply.status_code == 401


def test_upstream_errors_are_relayed_and_logged(tmp_path, upstream, proxy):
    dummy = proxy.register(meter(tmp_path, upstream.url, key="wrong-key"))
    assert httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"}).status_code == 401
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    dummy = proxy.register(meter(tmp_path, dead))
    reply = httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"})
    assert reply.status_code == 502 and "ConnectError" in reply.json()["error"]["message"]
    assert [(e["status"], e["error"] is not None) for e in log(tmp_path)] == [(401, True), (502, True)]


def test_plain_json_replies_are_metered_too(tmp_path, proxy):
    body = {"choices": [{"message": {"content": "hi", "tool_calls": [{"id": "a"}, {"id": "b"}]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 7, "prompt_cache_hit_tokens": 10}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    proxy.client = httpx.Client(transport=transport)
    m = meter(tmp_path, "http://upstream.invalid/v1")
    dummy = proxy.register(m)
    httpx.post(f"{proxy.url}/chat/completions", json={**ASK, "stream": False}, headers={"Authorization": f"Bearer {dummy}"})
    assert (m.tokens.new, m.tokens.cached, m.tokens.generated, m.tool_calls) == (40, 10, 7, 2)


def test_budgets_stop_the_run(tmp_path, upstream, proxy):
    turns = meter(tmp_path, upstream.url, max_turns=1)
    dummy = proxy.register(turns)
    headers = {"Authorization": f"Bearer {dummy}"}
    assert httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers=headers).status_code == 200
    assert not turns.control.event.is_set()
    assert httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers=headers).status_code == 429
    assert turns.control.reason == "max_turns"

    tools = meter(tmp_path, upstream.url, max_tool_calls=1)
    dummy = proxy.register(tools)
    httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"})
    assert not tools.control.event.is_set()
    httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"})
    assert tools.control.reason == "max_tool_calls"


@pytest.mark.parametrize("fault, problem", [
    ("no_usage", None),
    ("cut", "the provider's reply was cut off (it never said why it finished)"),
    ("garbage", "the provider's reply had 1 payloads that were not JSON"),
])
def test_replies_without_usage_cut_off_or_not_json_are_told_apart(tmp_path, proxy, fault, problem):
    server = FakeModel([Rule("hello", [Reply(text="an answer", **{fault: True})])], api_key=MODEL_KEY)
    try:
        m = meter(tmp_path, server.url)
        dummy = proxy.register(m)
        reply = httpx.post(f"{proxy.url}/chat/completions", json=ASK, headers={"Authorization": f"Bearer {dummy}"})
    finally:
        server.close()
    assert reply.status_code == 200
    (entry,) = log(tmp_path)
    assert entry["problem"] == problem and m.problems == ([problem] if problem else [])
    if fault == "no_usage":
        assert entry["usage"] is False and m.known_tokens is None  # unknown, not zero


def test_cache_reads_reported_at_the_top_level_count_as_cached(tmp_path, proxy):
    usage = {"prompt_tokens": 500, "completion_tokens": 9, "cached_tokens": 300}  # where Kimi reports them
    reply = orjson.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": usage})

    class Upstream(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        m = meter(tmp_path, f"http://127.0.0.1:{server.server_address[1]}/v1")
        dummy = proxy.register(m)
        httpx.post(f"{proxy.url}/chat/completions", json={**ASK, "stream": False}, headers={"Authorization": f"Bearer {dummy}"})
    finally:
        server.shutdown()
    assert (m.tokens.new, m.tokens.cached, m.tokens.generated) == (200, 300, 9)
