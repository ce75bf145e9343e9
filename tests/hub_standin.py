"""A local stand-in for the few Hugging Face Hub endpoints agent-eval's publishing uses, on loopback.

What it emulates, as huggingface_hub 2.4 calls it (set HF_ENDPOINT to .url before the client runs):
  GET  /api/whoami-v2                                   who the token belongs to
  POST /api/repos/create                                create a model/dataset/space repo (409 + url if it exists)
  POST /api/validate-yaml                               README front matter check (always valid)
  POST /api/{type}s/{ns}/{name}/preupload/{revision}    every file is uploaded "regular" (inline base64, no LFS/Xet)
  POST /api/{type}s/{ns}/{name}/commit/{revision}       NDJSON commit: the files are kept in memory
What it does not: LFS or Xet uploads, auth beyond comparing the bearer token, branches, history.
Every request is recorded (method, path, headers) so tests can check what was sent.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass
class Repo:
    kind: str
    id: str
    private: bool
    sdk: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class HubStandIn:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.hub = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload) -> None:
        data = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self, hub: HubStandIn) -> bool:
        if self.headers.get("Authorization") == f"Bearer {hub.token}":
            return True
        self._reply(401, {"error": "Invalid credentials in Authorization header"})
        return False

    def do_GET(self) -> None:
        hub: HubStandIn = self.server.hub
        hub.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
        if not self._authorised(hub):
            return
        if self.path.startswith("/api/whoami-v2"):
            return self._reply(200, {"type": "user", "name": "tester", "orgs": [{"name": "org"}], "auth": {"type": "access_token"}})
        self._reply(404, {"error": f"stand-in: no route GET {self.path}"})

    def do_POST(self) -> None:
        hub: HubStandIn = self.server.hub
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hub.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
        if not self._authorised(hub):
            return
        if self.path == "/api/repos/create":
            return self._create(hub, orjson.loads(body))
        if self.path == "/api/validate-yaml":
            return self._reply(200, {"errors": [], "warnings": []})
        found = re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+)/(preupload|commit)/([^/?]+).*", self.path)
        if not found:
            return self._reply(404, {"error": f"stand-in: no route POST {self.path}"})
        kind, repo_id, action, _ = found.groups()
        repo = hub.repos.get(f"{kind}:{repo_id}")
        if repo is None:
            return self._reply(404, {"error": f"Repository not found: {repo_id}"})
        if action == "preupload":
            files = orjson.loads(body)["files"]
            return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files]})
        self._commit(hub, repo, body)

    def _create(self, hub: HubStandIn, spec: dict) -> None:
        kind = spec.get("type") or "model"
        repo_id = f"{spec.get('organization') or 'tester'}/{spec['name']}"
        url = f"{hub.url}/{'' if kind == 'model' else kind + 's/'}{repo_id}"
        if f"{kind}:{repo_id}" in hub.repos:
            return self._reply(409, {"error": "You already created this repo", "url": url})
        private = spec.get("visibility", "private" if spec.get("private") else "public") != "public"  # 2.4 sends visibility
        hub.repos[f"{kind}:{repo_id}"] = Repo(kind=kind, id=repo_id, private=private, sdk=spec.get("sdk"))
        self._reply(200, {"url": url, "name": repo_id})

    def _commit(self, hub: HubStandIn, repo: Repo, body: bytes) -> None:
        summary = ""
        for line in body.splitlines():
            entry = orjson.loads(line)
            value = entry["value"]
            if entry["key"] == "header":
                summary = value.get("summary", "")
            elif entry["key"] == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
            elif entry["key"] in ("lfsFile",):
                return self._reply(400, {"error": "stand-in: LFS/Xet uploads are not emulated"})
        repo.commits.append(summary)
        oid = f"{len(repo.commits):040x}"
        self._reply(200, {"commitUrl": f"{hub.url}/{repo.kind}s/{repo.id}/commit/{oid}", "commitOid": oid})
