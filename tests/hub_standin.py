"""A local stand-in for the Hugging Face Hub endpoints agent-eval uses, on loopback.

Point huggingface_hub 2.4 at it with HF_ENDPOINT=<.url> (read at import: set it before the client
starts). What it emulates, as the client calls it:
  GET  /api/whoami-v2, /api/agent-harnesses                  who the token is; no harness registry
  POST /api/repos/create                                     model/dataset/space repos (409 + url if it exists)
  POST /api/validate-yaml                                    README front matter (always valid)
  GET  /api/{type}s/{id} · /api/{type}s/{id}/tree/{rev}      repo info (visibility, files); its files, recursively
  PUT  /api/{type}s/{id}/settings                            visibility
  POST /api/{type}s/{id}/preupload|commit/{rev}              every file "regular" (inline base64), kept in memory; deletions
  POST /api/buckets/{id}                                     create a bucket (409 + url if it exists)
  GET  /api/buckets/{id}[/tree[/{prefix}]]                   info; listing with Link pagination
  POST /api/buckets/{id}/paths-info | batch                  file info; NDJSON addFile/deleteFile
  GET  /api/buckets/{id}/xet-read-token | xet-write-token    casUrl "local://<dir>" in the body AND X-Xet-* headers
  HEAD /buckets/{id}/resolve/{path}                          X-Xet-Hash, refresh route, size
  GET  /api/jobs/hardware                                    three CPU flavors with their prices
  POST /api/jobs/{ns} · GET /api/jobs/{ns}[/{id}]            create, list (label=k=v, stage=, pagination), inspect
  POST /api/jobs/{ns}/{id}/cancel · GET …/{id}/logs          cancel; logs as SSE
How: file bytes go through the real hf_xet client, whose local:// CAS works offline. A bucket's
files live in a real folder, so a Job's volume is that folder (or the sub-folder its `path`
names): the Job's command runs as a local process, with each mount path rewritten to its folder in
the arguments and environment (we cannot mount at /store without root). Read-only volumes are
not enforced, and the process could reach the rest of the bucket's folder: tests check the
volumes a Job asks for, and which files it wrote. What a Job writes there is hashed into the CAS when listed. The
"image" is this machine: the process gets its environment (network settings, caches) without
PYTHONPATH, HF_* or anything secret, plus the Job's environment and secrets; so the Job runs the
agent-eval it installs, and sees only the secrets it was given.
The local CAS is one database that one process at a time may open; the stand-in waits its turn.
What it does not: real auth scopes, billing, scheduling delays, LFS, branches, history.
Faults for tests: `refuse_creates` answers the next N Job creations with 429; `lose_replies`
creates the next N Jobs but answers 502; `drop_replies` creates the next N Jobs and closes the
connection without a reply; `kill(id)` ends a Job as a lost node would.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import hf_xet
import orjson

HARDWARE = [  # prices as the Hub lists them: USD per minute
    {"name": "cpu-basic", "prettyName": "CPU Basic", "cpu": "2 vCPU", "ram": "16 GB", "unitCostUSD": 0.01 / 60, "unitLabel": "minute"},
    {"name": "cpu-upgrade", "prettyName": "CPU Upgrade", "cpu": "8 vCPU", "ram": "32 GB", "unitCostUSD": 0.03 / 60, "unitLabel": "minute"},
    {"name": "cpu-xl", "prettyName": "CPU XL", "cpu": "16 vCPU", "ram": "124 GB", "unitCostUSD": 1.0 / 60, "unitLabel": "minute"},
]
# The "image" is this machine: its environment (network settings, caches) minus the test run's
# code path and anything secret, which a Job only gets through its own env and secrets.
NOT_FROM_HOST = re.compile(r"PYTHONPATH|VIRTUAL_ENV|^HF_|TOKEN|KEY|SECRET|PASSWORD", re.I)
TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")


def stamp(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(at or time.time(), timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Repo:
    kind: str
    id: str
    private: bool
    sdk: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


@dataclass
class Bucket:
    id: str
    private: bool
    root: Path
    pending: dict[str, str] = field(default_factory=dict)  # added by batch, bytes not yet fetched from the CAS
    hashes: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # path -> (size, mtime_ns, xet hash)


@dataclass
class Job:
    id: str
    namespace: str
    spec: dict
    created: float
    stage: str = "SCHEDULING"
    message: str | None = None
    started: float | None = None
    finished: float | None = None
    process: subprocess.Popen | None = None
    log: list[tuple[str, str]] = field(default_factory=list)

    def info(self) -> dict:
        spec = self.spec
        return {
            "id": self.id, "createdAt": stamp(self.created), "startedAt": self.started and stamp(self.started),
            "finishedAt": self.finished and stamp(self.finished), "dockerImage": spec.get("dockerImage"),
            "command": spec["command"], "arguments": spec.get("arguments", []), "environment": spec.get("environment", {}),
            "secrets": {name: None for name in spec.get("secrets", {})}, "flavor": spec.get("flavor", "cpu-basic"),
            "labels": spec.get("labels", {}), "volumes": spec.get("volumes", []),
            "status": {"stage": self.stage, "message": self.message},
            "owner": {"id": "0" * 24, "name": self.namespace, "type": "user"},
        }


class HubStandIn:
    page_size = 500

    def __init__(self, token: str, execute: bool = True):
        self.token = token
        self.execute = execute  # False: Jobs stay RUNNING until finish() (benchmarks, live-Job tests)
        self.root = Path(tempfile.mkdtemp(prefix="hub-standin-"))
        self.cas = self.root / "cas"
        self.repos: dict[str, Repo] = {}
        self.buckets: dict[str, Bucket] = {}
        self.jobs: dict[str, Job] = {}
        self.requests: list[dict] = []
        self.refuse_creates = 0
        self.lose_replies = 0
        self.drop_replies = 0
        self.lock = threading.RLock()
        self.xet_lock = threading.Lock()
        self.materializing = threading.Lock()
        self.ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.server.hub = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        for job in list(self.jobs.values()):
            if job.process and job.process.poll() is None:
                os.killpg(job.process.pid, signal.SIGKILL)
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ── buckets ──────────────────────────────────────────────────────────────────────────────
    def bucket(self, bucket_id: str) -> Bucket:
        with self.lock:
            if bucket_id not in self.buckets:
                root = self.root / "buckets" / bucket_id
                root.mkdir(parents=True)
                self.buckets[bucket_id] = Bucket(id=bucket_id, private=True, root=root)
            return self.buckets[bucket_id]

    def files(self, bucket: Bucket, prefix: str = "") -> list[dict]:
        """Every file under prefix, hashed into the CAS when first seen or changed."""
        self.materialize(bucket)
        found = []
        base = bucket.root / prefix if prefix else bucket.root
        for path in sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []:
            found.append(self.entry(bucket, path.relative_to(bucket.root).as_posix()))
        return found

    def entry(self, bucket: Bucket, relative: str) -> dict:
        path = bucket.root / relative
        stat = path.stat()
        known = bucket.hashes.get(relative)
        if not known or known[:2] != (stat.st_size, stat.st_mtime_ns):
            known = (stat.st_size, stat.st_mtime_ns, self._xet(lambda: self._upload(path)))
            bucket.hashes[relative] = known
        when = stamp(stat.st_mtime)
        return {"type": "file", "path": relative, "size": known[0], "xetHash": known[2], "mtime": when, "uploadedAt": when}

    def materialize(self, bucket: Bucket) -> None:
        """Write the bytes of files added by batch into the bucket's folder (the Job's volume). One
        at a time: a Job that starts while another's materializing is under way waits for its files."""
        with self.materializing:
            with self.lock:
                pending, bucket.pending = bucket.pending, {}
            for relative, xet_hash in pending.items():
                target = bucket.root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self._xet(lambda: self._download(xet_hash, target))
                stat = target.stat()
                bucket.hashes[relative] = (stat.st_size, stat.st_mtime_ns, xet_hash)

    def _xet(self, operation):
        # A client process holds the CAS database while it uploads or downloads: wait for it.
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.xet_lock:
                    return operation()
            except RuntimeError as err:
                if "already open" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _cas(self) -> dict:
        return {"endpoint": f"local://{self.cas}", "token": "standin", "token_expiry_unix_secs": int(time.time()) + 3600}

    def _upload(self, path: Path) -> str:
        with hf_xet.XetSession().new_upload_commit(**self._cas()) as commit:
            handle = commit.start_upload_file(str(path), sha256=hf_xet.SKIP_SHA256)
        return handle.result().xet_info.hash

    def _download(self, xet_hash: str, target: Path) -> None:
        with hf_xet.XetSession().new_file_download_group(**self._cas()) as group:
            group.start_download_file(hf_xet.XetFileInfo(xet_hash), str(target))

    # ── jobs ─────────────────────────────────────────────────────────────────────────────────
    def create_job(self, namespace: str, spec: dict) -> Job:
        job = Job(id=f"{next(self.ids):024x}", namespace=namespace, spec=spec, created=time.time())
        with self.lock:
            self.jobs[job.id] = job
        if self.execute:
            threading.Thread(target=self._run, args=(job,), daemon=True).start()
        else:
            job.stage, job.started = "RUNNING", time.time()
        return job

    def finish(self, job_id: str, stage: str = "COMPLETED", message: str | None = None) -> None:
        job = self.jobs[job_id]
        job.stage, job.message, job.finished = stage, message, time.time()

    def kill(self, job_id: str) -> None:
        """End a Job the way a lost node would: the process dies, the Job is an ERROR."""
        job = self.jobs[job_id]
        self.finish(job_id, "ERROR", "Job was killed: node lost")
        if job.process and job.process.poll() is None:
            os.killpg(job.process.pid, signal.SIGKILL)

    def _run(self, job: Job) -> None:
        spec = job.spec
        mounts = []
        for volume in spec.get("volumes", []):
            bucket = self.bucket(volume["source"])
            self.materialize(bucket)
            mounts.append((volume["mountPath"].rstrip("/"), str(bucket.root / volume.get("path", "")).rstrip("/")))
        mounts.sort(key=lambda mount: -len(mount[0]))  # the most specific mount wins

        def mapped(text: str) -> str:
            for mount, folder in mounts:
                text = re.sub(re.escape(mount) + r"(?=/|$|\s|[\"';])", folder, text)
            return text

        env = {k: v for k, v in os.environ.items() if not NOT_FROM_HOST.search(k)}
        env |= {k: mapped(v) for k, v in spec.get("environment", {}).items()} | spec.get("secrets", {})
        env |= {"JOB_ID": job.id, "ACCELERATOR": "none", "CPU_CORES": "2", "MEMORY": "16Gi"}
        workdir = self.root / "jobs" / job.id
        workdir.mkdir(parents=True)
        if job.stage == "CANCELED":
            return
        job.process = subprocess.Popen(
            [mapped(a) for a in spec["command"] + spec.get("arguments", [])], cwd=workdir, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        job.stage, job.started = "RUNNING", time.time()
        timer = threading.Timer(spec.get("timeoutSeconds") or 1800, self._timeout, args=(job,))
        timer.start()
        for line in job.process.stdout:
            job.log.append((stamp(), line.decode(errors="replace").rstrip("\n")))
        code = job.process.wait()
        timer.cancel()
        if job.stage == "RUNNING":
            self.finish(job.id, "COMPLETED" if code == 0 else "ERROR", None if code == 0 else f"Job failed with exit code: {code}")

    def _timeout(self, job: Job) -> None:
        if job.stage == "RUNNING":
            self.finish(job.id, "ERROR", "Job timeout")
            os.killpg(job.process.pid, signal.SIGKILL)

    def cancel(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if job.stage in TERMINAL:
            return
        self.finish(job_id, "CANCELED")
        if job.process and job.process.poll() is None:
            os.killpg(job.process.pid, signal.SIGTERM)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    @property
    def hub(self) -> HubStandIn:
        return self.server.hub

    def _reply(self, status: int, payload, headers: dict | None = None) -> None:
        data = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _missing(self, what: str) -> None:
        self._reply(404, {"error": f"{what} not found"}, {"X-Error-Code": "RepoNotFound", "X-Error-Message": f"{what} not found"})

    def _begin(self, method: str) -> tuple[str, dict, bytes] | None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method in ("POST", "PUT") else b""
        self.hub.requests.append({"method": method, "path": self.path, "headers": dict(self.headers), "body": body})
        if parts.path != "/api/agent-harnesses" and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return None
        return parts.path, parse_qsl(parts.query), body

    def do_HEAD(self) -> None:
        begun = self._begin("HEAD")
        if not begun:
            return
        found = re.fullmatch(r"/buckets/([^/]+/[^/]+)/resolve/(.+)", begun[0])
        bucket = found and self.hub.buckets.get(found[1])
        relative = found and unquote(found[2])
        if not bucket or not (bucket.root / relative).is_file() and relative not in bucket.pending:
            return self._missing(f"file {relative}")
        self.hub.materialize(bucket)
        entry = self.hub.entry(bucket, relative)
        self.send_response(200)
        self.send_header("X-Xet-Hash", entry["xetHash"])
        self.send_header("X-Xet-Refresh-Route", f"{self.hub.url}/api/buckets/{bucket.id}/xet-read-token")
        self.send_header("X-Linked-Size", str(entry["size"]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        begun = self._begin("GET")
        if not begun:
            return
        path, query, _ = begun
        if path == "/api/whoami-v2":
            return self._reply(200, {"type": "user", "name": "tester", "orgs": [{"name": "org"}], "auth": {"type": "access_token"}})
        if path == "/api/agent-harnesses":
            return self._reply(200, {"standardEnvVars": [], "harnesses": {}})
        if path == "/api/jobs/hardware":
            return self._reply(200, [{"ephemeralStorage": "50 GB", "accelerator": None, "unitCostMicroUSD": round(h["unitCostUSD"] * 1e6), **h} for h in HARDWARE])
        if found := re.fullmatch(r"/api/jobs/([^/]+)", path):
            return self._list_jobs(found[1], query)
        if found := re.fullmatch(r"/api/jobs/([^/]+)/([0-9a-f]+)(/logs)?", path):
            job = self.hub.jobs.get(found[2])
            if not job or job.namespace != found[1]:
                return self._reply(404, {"error": "Job not found"})
            return self._logs(job, query) if found[3] else self._reply(200, job.info())
        if found := re.fullmatch(r"/api/buckets/([^/]+/[^/]+)(?:/(tree|xet-read-token|xet-write-token)(/.*)?)?", path):
            return self._bucket_get(found[1], found[2], unquote((found[3] or "/")[1:]), query)
        if found := re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+)(?:/revision/[^/]+|/tree/[^/]+(/.*)?)?", path):
            return self._repo_get(found[1], found[2], "/tree/" in path, unquote((found[3] or "/")[1:]), query)
        self._reply(404, {"error": f"stand-in: no route GET {path}"})

    def do_PUT(self) -> None:
        begun = self._begin("PUT")
        if not begun:
            return
        found = re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+)/settings", begun[0])
        repo = found and self.hub.repos.get(f"{found[1]}:{found[2]}")
        if not repo:
            return self._missing(f"Repository {found[2] if found else begun[0]}")
        visibility = orjson.loads(begun[2]).get("visibility")
        if visibility:
            repo.private = visibility != "public"
        self._reply(200, {})

    def do_POST(self) -> None:
        begun = self._begin("POST")
        if not begun:
            return
        path, _, body = begun
        if path == "/api/repos/create":
            return self._create_repo(orjson.loads(body))
        if path == "/api/validate-yaml":
            return self._reply(200, {"errors": [], "warnings": []})
        if found := re.fullmatch(r"/api/jobs/([^/]+)", path):
            return self._create_job(found[1], orjson.loads(body))
        if found := re.fullmatch(r"/api/jobs/([^/]+)/([0-9a-f]+)/cancel", path):
            if found[2] not in self.hub.jobs:
                return self._reply(404, {"error": "Job not found"})
            self.hub.cancel(found[2])
            return self._reply(200, {})
        if found := re.fullmatch(r"/api/buckets/([^/]+/[^/]+)(?:/(paths-info|batch))?", path):
            return self._bucket_post(found[1], found[2], body)
        if found := re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+)/(preupload|commit)/([^/?]+)", path):
            return self._repo_upload(*found.groups()[:3], body)
        self._reply(404, {"error": f"stand-in: no route POST {path}"})

    # ── jobs ─────────────────────────────────────────────────────────────────────────────────
    def _create_job(self, namespace: str, spec: dict) -> None:
        hub = self.hub
        refuse = lose = drop = False
        with hub.lock:
            if hub.refuse_creates:
                hub.refuse_creates, refuse = hub.refuse_creates - 1, True
            elif hub.lose_replies:
                hub.lose_replies, lose = hub.lose_replies - 1, True
            elif hub.drop_replies:
                hub.drop_replies, drop = hub.drop_replies - 1, True
        if refuse:
            return self._reply(429, {"error": "Too many requests"}, {"Retry-After": "1"})
        bad = [f"{k}={v}" for k, v in spec.get("labels", {}).items() if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", k) or not re.fullmatch(r"[A-Za-z0-9_-]{0,100}", v)]
        if bad:
            return self._reply(400, {"error": f"Invalid labels: {', '.join(bad)}"})
        job = hub.create_job(namespace, spec)
        if drop:  # the connection ends with no reply: the client sees the server disconnect
            self.close_connection = True
            return
        if lose:
            return self._reply(502, {"error": "Bad gateway"})
        self._reply(200, job.info())

    def _list_jobs(self, namespace: str, query: list[tuple[str, str]]) -> None:
        wanted = [tuple(v.split("=", 1)) for k, v in query if k == "label"]
        stages = {v for k, v in query if k == "stage"}
        jobs = [
            j for j in list(self.hub.jobs.values())
            if j.namespace == namespace and (not stages or j.stage in stages)
            and all(j.spec.get("labels", {}).get(k) == v for k, v in wanted)
        ]
        self._page([j.info() for j in jobs], query)

    def _page(self, items: list, query: list[tuple[str, str]]) -> None:
        start = int(dict(query).get("cursor", 0))
        end = start + self.hub.page_size
        headers = {}
        if end < len(items):
            rest = [(k, v) for k, v in query if k != "cursor"] + [("cursor", str(end))]
            headers["Link"] = f'<{self.hub.url}{urlsplit(self.path).path}?{"&".join(f"{k}={quote(v)}" for k, v in rest)}>; rel="next"'
        self._reply(200, items[start:end], headers)

    def _logs(self, job: Job, query: list[tuple[str, str]]) -> None:
        lines = list(job.log)
        tail = dict(query).get("tail")
        if tail:
            lines = lines[-int(tail):]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for when, text in [(stamp(job.created), "===== Job started ====="), *lines]:
            self.wfile.write(b"data: " + orjson.dumps({"timestamp": when, "data": text}) + b"\n\n")
        self.close_connection = True

    # ── buckets ──────────────────────────────────────────────────────────────────────────────
    def _bucket_get(self, bucket_id: str, action: str | None, prefix: str, query) -> None:
        hub = self.hub
        bucket = hub.buckets.get(bucket_id)
        if bucket is None:
            return self._missing(f"Bucket {bucket_id}")
        if action is None:
            files = hub.files(bucket)
            return self._reply(200, {"id": bucket.id, "private": bucket.private, "createdAt": stamp(), "size": sum(f["size"] for f in files), "totalFiles": len(files)})
        if action == "tree":
            recursive = dict(query).get("recursive") in ("true", "True", "1")
            files = hub.files(bucket, prefix)
            if not recursive:
                depth = prefix.count("/") + (1 if prefix else 0)
                folders = sorted({"/".join(f["path"].split("/")[: depth + 1]) for f in files if f["path"].count("/") > depth})
                files = [{"type": "directory", "path": d, "uploadedAt": stamp()} for d in folders] + [f for f in files if f["path"].count("/") == depth]
            return self._page(files, query)
        cas = f"local://{hub.cas}"
        expires = int(time.time()) + 3600
        headers = {"X-Xet-Cas-Url": cas, "X-Xet-Access-Token": "standin", "X-Xet-Token-Expiration": str(expires)}
        self._reply(200, {"accessToken": "standin", "exp": expires, "casUrl": cas}, headers)

    def _bucket_post(self, bucket_id: str, action: str | None, body: bytes) -> None:
        hub = self.hub
        if action is None:
            url = f"{hub.url}/buckets/{bucket_id}"
            if bucket_id in hub.buckets:
                return self._reply(409, {"error": "You already created this bucket", "url": url})
            hub.bucket(bucket_id).private = (orjson.loads(body or b"{}").get("visibility") or "private") != "public"
            return self._reply(200, {"url": url, "name": bucket_id, "id": bucket_id})
        bucket = hub.buckets.get(bucket_id)
        if bucket is None:
            return self._missing(f"Bucket {bucket_id}")
        if action == "paths-info":
            wanted = orjson.loads(body)["paths"]
            hub.materialize(bucket)
            return self._reply(200, [hub.entry(bucket, p) for p in wanted if (bucket.root / p).is_file()])
        operations = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        with hub.lock:
            for op in operations:
                if op["type"] == "addFile":
                    bucket.pending[op["path"]] = op["xetHash"]
                elif op["type"] == "deleteFile":
                    bucket.pending.pop(op["path"], None)
                    (bucket.root / op["path"]).unlink(missing_ok=True)
        self._reply(200, {"success": True, "processed": len(operations), "succeeded": len(operations), "failed": []})

    # ── repos (Spaces, Datasets) ─────────────────────────────────────────────────────────────
    def _create_repo(self, spec: dict) -> None:
        hub = self.hub
        kind = spec.get("type") or "model"
        repo_id = f"{spec.get('organization') or 'tester'}/{spec['name']}"
        url = f"{hub.url}/{'' if kind == 'model' else kind + 's/'}{repo_id}"
        if f"{kind}:{repo_id}" in hub.repos:
            return self._reply(409, {"error": "You already created this repo", "url": url})
        private = spec.get("visibility", "private" if spec.get("private") else "public") != "public"  # 2.4 sends visibility
        hub.repos[f"{kind}:{repo_id}"] = Repo(kind=kind, id=repo_id, private=private, sdk=spec.get("sdk"))
        self._reply(200, {"url": url, "name": repo_id})

    def _repo_get(self, kind: str, repo_id: str, tree: bool, prefix: str, query) -> None:
        repo = self.hub.repos.get(f"{kind}:{repo_id}")
        if repo is None:
            return self._missing(f"Repository {repo_id}")
        if tree:
            files = sorted(p for p in repo.files if p.startswith(prefix))
            return self._page([{"type": "file", "path": p, "size": len(repo.files[p]), "oid": f"{hash(repo.files[p]) & (2**160 - 1):040x}"} for p in files], query)
        sha = f"{len(repo.commits):040x}"
        info = {"id": repo_id, "private": repo.private, "sha": sha, "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
        self._reply(200, info | ({"sdk": repo.sdk} if repo.sdk else {}))

    def _repo_upload(self, kind: str, repo_id: str, action: str, body: bytes) -> None:
        repo = self.hub.repos.get(f"{kind}:{repo_id}")
        if repo is None:
            return self._reply(404, {"error": f"Repository not found: {repo_id}"})
        if action == "preupload":
            files = orjson.loads(body)["files"]
            return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files]})
        summary = ""
        for line in body.splitlines():
            entry = orjson.loads(line)
            value = entry["value"]
            if entry["key"] == "header":
                summary = value.get("summary", "")
            elif entry["key"] == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
            elif entry["key"] == "deletedFile":
                repo.files.pop(value["path"], None)
            elif entry["key"] == "deletedFolder":
                repo.files = {p: b for p, b in repo.files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            elif entry["key"] == "lfsFile":
                return self._reply(400, {"error": "stand-in: LFS/Xet uploads to repos are not emulated"})
        repo.commits.append(summary)
        oid = f"{len(repo.commits):040x}"
        self._reply(200, {"commitUrl": f"{self.hub.url}/{repo.kind}s/{repo.id}/commit/{oid}", "commitOid": oid})
