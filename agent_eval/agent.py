"""The agent: pi, installed at a pinned version, run once per cell with nothing of ours it could leak.

pi gets a fresh HOME and agent dir, a models.json pointing at the metering proxy with a dummy key,
the prompt on stdin (then EOF: an open stdin hangs pi), and no context files, extensions, prompt
templates or auto-discovered skills. A hard wall-clock timeout ends the whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from importlib import resources
from pathlib import Path

import orjson
from pydantic import BaseModel

from . import cache_dir
from .config import ModelSpec

PI_VERSION = "0.73.1"
CUSTOM_PROVIDER = "agent-eval"
MODEL_NOT_FOUND = "not found for provider"  # pi's warning before it silently falls back


class AgentError(Exception):
    """pi is missing or cannot be installed."""


def pi_prefix() -> Path:
    return cache_dir() / "pi" / PI_VERSION


def pi_bin() -> Path:
    return pi_prefix() / "node_modules" / ".bin" / "pi"


def ensure_pi(say=print) -> Path:
    """pi at the pinned version, installed with `npm ci` from the lockfile we ship (once)."""
    if pi_bin().is_file():
        return pi_bin()
    npm = shutil.which("npm")
    if npm is None:
        raise AgentError("npm not found: install Node.js 20+ (e.g. `apt-get install nodejs npm`), then run again")
    prefix = pi_prefix()
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        (prefix / name).write_bytes(resources.files("agent_eval.pi").joinpath(name).read_bytes())
    say(f"installing pi {PI_VERSION} with npm into {prefix} (once)…")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode or not pi_bin().is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise AgentError(f"npm ci failed for pi {PI_VERSION}: {last}")
    return pi_bin()


def models_json(model: ModelSpec, proxy_url: str, dummy_key: str) -> dict:
    compat = {"supportsDeveloperRole": False, "supportsReasoningEffort": False, "supportsStore": False}
    if model.is_hub:
        # Hub model: keep pi's built-in metadata (context, cost), only reroute it through the proxy.
        return {"providers": {"huggingface": {"baseUrl": proxy_url, "apiKey": dummy_key}}}
    entry = {"id": model.id, "name": model.display, "contextWindow": model.context_window, "maxTokens": model.max_tokens}
    return {"providers": {CUSTOM_PROVIDER: {
        "baseUrl": proxy_url, "api": "openai-completions", "apiKey": dummy_key, "compat": compat, "models": [entry],
    }}}


class AgentRun(BaseModel):
    exit_code: int | None  # None: killed by us
    seconds: float
    model_not_found: bool


def command(model: ModelSpec, thinking: str, session: Path, skill: Path | None) -> list[str]:
    provider = "huggingface" if model.is_hub else CUSTOM_PROVIDER
    cmd = [
        str(pi_bin()), "-p", "--provider", provider, "--model", model.id, "--thinking", thinking,
        "--session", str(session), "--no-context-files", "--no-extensions", "--no-prompt-templates",
        "--no-themes", "--no-skills", "--offline",
    ]
    return cmd + (["--skill", str(skill)] if skill else [])


def environment(home: Path, env_bin: Path) -> dict[str, str]:
    # Built from nothing, not from os.environ: whatever secrets the harness holds stay with it.
    return {
        "PATH": f"{env_bin}:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(env_bin.parent),
        "HOME": str(home),
        "PI_CODING_AGENT_DIR": str(home / ".pi" / "agent"),
        "PI_OFFLINE": "1",
        "PI_SKIP_VERSION_CHECK": "1",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "TMPDIR": str(home),
    }


def run(cmd: list[str], prompt: str, cwd: Path, env: dict[str, str], log: Path, timeout: float, control) -> AgentRun:
    """Run pi to the end, or until `control` is stopped (budget, Ctrl-C) or `timeout` passes."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        threading.Thread(target=_feed_and_wait, args=(proc, prompt, control), daemon=True).start()
        if not control.event.wait(timeout):
            control.stop("wall_clock")
        if control.reason != "exited":
            _terminate(proc)
    seconds = time.perf_counter() - started
    model_not_found = MODEL_NOT_FOUND in log.read_text(errors="replace")
    return AgentRun(exit_code=proc.returncode if control.reason == "exited" else None, seconds=seconds, model_not_found=model_not_found)


def _feed_and_wait(proc: subprocess.Popen, prompt: str, control) -> None:
    try:
        proc.stdin.write(prompt.encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    proc.wait()
    control.stop("exited")


def _terminate(proc: subprocess.Popen) -> None:
    # SIGTERM first: pi kills its tool subprocesses on SIGTERM, not on SIGKILL.
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def write_config(home: Path, model: ModelSpec, proxy_url: str, dummy_key: str) -> None:
    agent_dir = home / ".pi" / "agent"
    (agent_dir / "models.json").write_bytes(orjson.dumps(models_json(model, proxy_url, dummy_key)))
    # Compaction calls are invisible in the session file; retries we meter at the proxy.
    (agent_dir / "settings.json").write_bytes(orjson.dumps({"compaction": {"enabled": False}, "quietStartup": True}))
