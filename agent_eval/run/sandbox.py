"""Sandbox: pi and everything it starts run inside bubblewrap, out of sight of the harness.

bwrap gives the agent its own PID, IPC and UTS namespaces (and user namespace where the kernel
allows) and a mount view built from nothing: the system (/usr, /etc…) and what pi needs to run
(its install, the revision's venv and the Python it was made from, the git objects a clone tier's
checkout borrows) read-only; the cell's scratch folder (working dir, HOME, TMPDIR) read-write; a
private in-memory /tmp; no capabilities. The store, the harness's processes and their /proc/<pid>/environ (where the real
keys are), other cells' folders and the user's home are simply not there. `--die-with-parent`
plus the PID namespace mean that when the harness dies, even by SIGKILL, the kernel kills pi and
every child it started.

The network is the host's by default (the agent reaches the metering proxy and whatever the task
downloads). With `network: none` the sandbox gets a network namespace of its own with only
loopback, and a relay (relay.py) inside it passes the proxy's port through a unix socket to the
proxy outside: the proxy and nothing else.

Where bwrap is missing or cannot create namespaces (macOS, a container without user namespaces)
or `AGENT_EVAL_SANDBOX=off`, pi runs unsandboxed, as before; `doctor` and the plan say so, and
every result records its `isolation`.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from agent_eval.suite.config import ConfigError

from . import agent, relay, scratch
from .prepare import Env, SetupError, Workspace

SWITCH = "AGENT_EVAL_SANDBOX"  # "off" runs pi unsandboxed (to compare, or where bwrap misbehaves)
OFF = ("off", "0", "no", "none", "false")
ON = ("", "on", "1", "yes", "auto", "true", "bwrap")  # the default: bwrap where it works
INSIDE = Path("/run/agent-eval")  # the relay and the proxy's socket, inside a network-less sandbox
# Where the cell's scratch folder (working dir, HOME, session file, Skill) is inside the sandbox: the
# same for every cell, so pi's system prompt, which names the working dir, is the same too, and a
# model server's prefix cache (or a provider's prompt cache) reuses it from cell to cell.
CELL = Path("/cell")
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
Network = Literal["host", "none"]


class Isolation(BaseModel):
    name: Literal["bwrap", "none"]
    detail: str  # one line for doctor and the plan header


def switch() -> bool:
    """Whether AGENT_EVAL_SANDBOX lets the sandbox on; a value we do not know is an error, not "on":
    someone who wrote one meant something."""
    value = os.environ.get(SWITCH, "").strip().lower()
    if value not in OFF + ON:
        raise ConfigError(f"{SWITCH}: '{value[:40]}' is not a setting; set it to off ({', '.join(OFF[1:])}) to run pi "
                          f"unsandboxed, or unset it (or on, {', '.join(ON[2:])}) for the sandbox where it works")
    return value not in OFF


@functools.cache
def isolation() -> Isolation:
    """What this machine gives: bwrap if it is installed and can make its namespaces here."""
    if not switch():
        return Isolation(name="none", detail=f"turned off by {SWITCH}=off: the agent runs as you, with no sandbox")
    if not sys.platform.startswith("linux"):
        return Isolation(name="none", detail=f"no sandbox on {sys.platform} (bubblewrap needs Linux): the agent runs as you")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation(name="none", detail="bubblewrap not installed (apt-get install bubblewrap, or agent-eval doctor --fix): the agent runs as you, with no sandbox")
    trial = subprocess.run(
        [bwrap, *_namespaces("none"), *_system(), "--", "/bin/true"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
    )
    if trial.returncode:
        why = (trial.stderr.strip().splitlines() or [f"exit {trial.returncode}"])[-1]
        return Isolation(name="none", detail=f"bwrap cannot create its namespaces here ({why}): the agent runs as you, with no sandbox")
    return Isolation(name="bwrap", detail=f"bwrap ({bwrap}): own PID/mount namespaces; store, harness and home out of sight")


def network_of(profile, task) -> Network:
    """`none` if the profile or the task says so: a task cannot loosen its profile."""
    return "none" if "none" in (profile.network, task.network) else "host"


def require(network: Network) -> None:
    """A cell that must have no network cannot run without the sandbox that takes it away."""
    if network == "none" and isolation().name == "none":
        raise SetupError(f"this task declares network: none, which needs the sandbox, and there is none: {isolation().detail}")


class Box:
    """One cell's sandbox: `wrap` turns pi's command into the sandboxed one. Use as a context
    manager: with `network: none` it holds the unix socket that leads to the proxy."""

    def __init__(self, ws: Workspace, env: Env, network: Network, proxy_url: str):
        self.ws, self.env, self.network, self.proxy = ws, env, network, urlsplit(proxy_url)
        self.name = isolation().name
        self.bridge: Bridge | None = None

    def __enter__(self) -> Box:
        if self.name == "bwrap" and self.network == "none":
            self.bridge = Bridge((self.proxy.hostname, self.proxy.port))
        return self

    def __exit__(self, *exc) -> None:
        if self.bridge:
            self.bridge.close()

    def inside(self, text: str) -> str:
        """A path (or an argument holding one) as the sandboxed agent sees it: under CELL for the scratch folder."""
        scratch = str(self.ws.scratch)
        if self.name == "none" or not (text == scratch or text.startswith(scratch + "/")):
            return text
        return str(CELL) + text[len(scratch):]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """pi's environment as the sandbox sees it: paths under CELL, and only the PATH entries it can see
        (one under the home or /tmp would be an empty folder: `awk: command not found` with no clue why)."""
        env = {name: self.inside(value) for name, value in env.items()}
        if self.name == "bwrap":
            hidden = set(unseen_path(env["PATH"], self.env))
            env["PATH"] = ":".join(entry for entry in env["PATH"].split(":") if entry not in hidden)
        return env

    def wrap(self, cmd: list[str]) -> list[str]:
        if self.name == "none":
            return cmd
        args = [shutil.which("bwrap"), *_namespaces(self.network), *_system(), *self._mounts(cmd[0])]
        cmd = [self.inside(arg) for arg in cmd]
        if self.bridge:
            args += ["--ro-bind", str(self.bridge.folder), str(INSIDE)]
            cmd = [str(self.env.bin / "python"), "-I", "-S", str(INSIDE / "relay.py"), str(self.proxy.port), str(INSIDE / "proxy.sock"), "--", *cmd]
        return [*args, "--remount-ro", "/", "--chdir", self.inside(str(self.ws.workdir)), "--", *cmd]

    def _mounts(self, program: str) -> list[str]:
        homes = [*_python_home(self.env), *_node_home(program), *_borrowed_objects(self.ws.workdir)]
        ro = [agent.pi_prefix().parent, self.env.path, *homes]  # every installed pi version: a suite may name several
        args = []
        for path in dict.fromkeys(p.resolve() for p in ro):
            args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(self.ws.scratch), str(CELL)]
        if self.ws.skill:  # the Skill is read, never rewritten for the cells after
            args += ["--ro-bind", str(self.ws.skill), self.inside(str(self.ws.skill))]
        return args


VERIFIER = Path("/verify")  # where a verifier's own files are, inside its sandbox


def verifier(ws: Workspace, env: Env, checks: Path, cmd: list[str]) -> tuple[list[str], dict[str, str]]:
    """A verifier's command and environment: after the agent, in a sandbox like the agent's but with
    no network at all, the working dir as the agent left it, and the verifier's files (a copy the
    agent never saw) read-only at VERIFIER. Unsandboxed where pi was unsandboxed too."""
    names = {"WORKSPACE": str(ws.workdir), "VERIFY_DIR": str(checks), "HOME": str(ws.home), "TMPDIR": str(ws.home),
             "PATH": f"{env.bin}:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(env.path), "LANG": "C.UTF-8", "TERM": "dumb"}
    if isolation().name == "none":
        return cmd, names
    box = Box(ws, env, "none", "http://127.0.0.1:9")
    ro = [env.path, *_python_home(env), *_borrowed_objects(ws.workdir)]
    args = [shutil.which("bwrap"), *_namespaces("none"), *_system()]
    for path in dict.fromkeys(p.resolve() for p in ro):
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(ws.scratch), str(CELL), "--ro-bind", str(checks), str(VERIFIER)]
    inside = [str(VERIFIER / Path(arg).relative_to(checks)) if Path(arg).is_relative_to(checks) else box.inside(arg) for arg in cmd]
    names = {**{k: box.inside(v) for k, v in names.items()}, "VERIFY_DIR": str(VERIFIER)}
    return [*args, "--remount-ro", "/", "--chdir", box.inside(str(ws.workdir)), "--", *inside], names


def unseen_path(path: str, env: Env | None = None) -> list[str]:
    """The entries of a PATH the sandbox does not show: not under the system, pi's or Node's install,
    the revision's venv or its Python (`env`; without it, the Python agent-eval runs on)."""
    roots = [Path(top) for top in SYSTEM] + [agent.pi_prefix().parent, *_node_home("")]
    roots += [env.path, *_python_home(env)] if env else [Path(sys.prefix), Path(sys.base_prefix)]
    return [entry for entry in dict.fromkeys(path.split(":"))
            if entry and not any(Path(entry).resolve().is_relative_to(root.resolve()) for root in roots)]


def install_command(cmd: list[str], env: Env, readable: list[Path], staged: dict[Path, Path], cache: Path) -> list[str]:
    """`uv pip install` inside bwrap: installing a revision runs its build scripts (setup.py, build
    hooks), code under test. They get the network (the package index), the venv and uv's cache to
    write, a throwaway copy of each local folder they build (`staged`: original -> copy, seen at the
    original's path, so the build writes its build/ and egg-info there and the original stays as it
    was), and read-only what the install reads; the home, the store and the harness are not there."""
    ro = [Path(cmd[0]).parent, *_python_home(env), *readable]
    args = [shutil.which("bwrap"), *_namespaces("host"), *_system()]
    for path in dict.fromkeys(p.resolve() for p in ro):
        args += ["--ro-bind", str(path), str(path)]
    for path in (env.path, cache):
        args += ["--bind", str(path), str(path)]
    for original, copy in staged.items():
        args += ["--bind", str(copy), str(original)]
    return [*args, "--dir", str(BUILD_HOME), "--remount-ro", "/", "--chdir", "/tmp", "--", *cmd]


BUILD_HOME = Path("/tmp/home")  # an install's HOME inside the sandbox: empty, in the sandbox's own /tmp


def failed_to_start(exit_code: int | None, log: Path) -> str | None:
    """bwrap's own error (a mount it could not make), which pi never reached: the harness's fault."""
    head = log.read_bytes()[:2000].decode(errors="replace") if log.is_file() else ""
    if exit_code == 1 and head.startswith("bwrap: "):
        return f"the sandbox could not start: {head.splitlines()[0]}"
    return None


def _namespaces(network: Network) -> list[str]:
    # --unshare-all: user (where allowed), ipc, pid, net, uts, cgroup. No --new-session: pi has no
    # terminal (the harness starts it in a session of its own), and the harness's SIGTERM to the
    # process group must still reach pi, which stops its tool children on SIGTERM.
    share = [] if network == "none" else ["--share-net"]
    # --cap-drop ALL: run as root, bwrap would leave pi every capability inside its namespaces.
    return ["--unshare-all", *share, "--die-with-parent", "--cap-drop", "ALL", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]


def _system() -> list[str]:
    args = []
    for top in SYSTEM:
        path = Path(top)
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    resolv = Path("/etc/resolv.conf")
    if resolv.is_symlink() and not resolv.resolve().is_relative_to("/etc"):  # e.g. systemd-resolved's, under /run
        args += ["--ro-bind-try", str(resolv.resolve()), str(resolv.resolve())]
    return args


def _python_home(env: Env) -> list[Path]:
    """The installation the venv's python links to (pyenv, uv's pythons: often under the home)."""
    cfg = env.path / "pyvenv.cfg"
    if not cfg.is_file():
        return []
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            home = Path(value.strip()).resolve()
            return [] if _under_system(home) else [home.parent]
    return []


def _node_home(program: str) -> list[Path]:
    """Node's installation: the one on PATH, or the program itself when it is a node binary."""
    nodes = [Path(n).resolve() for n in (shutil.which("node"), program) if n and Path(n).name == "node"]
    return [n.parent.parent for n in nodes if not _under_system(n) and not n.is_relative_to(agent.pi_prefix().parent)]


def _borrowed_objects(workdir: Path) -> list[Path]:
    """A shared clone's objects live in the mirror it was cloned from (git alternates)."""
    found = []
    for alternates in [*workdir.glob(".git/objects/info/alternates"), *workdir.glob("*/.git/objects/info/alternates")]:
        found += [Path(line) for line in alternates.read_text().splitlines() if line.strip() and Path(line).is_dir()]
    return found


def _under_system(path: Path) -> bool:
    return any(path.is_relative_to(top) for top in SYSTEM)


class Bridge:
    """Outside the sandbox: a unix socket in a private folder, each connection passed to the proxy.
    The folder (with a copy of relay.py) is what the sandbox sees at /run/agent-eval, read-only."""

    def __init__(self, proxy: tuple[str, int]):
        self.folder = scratch.make("bridge")
        shutil.copy(relay.__file__, self.folder / "relay.py")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.folder / "proxy.sock"))
        self.listener.listen(64)
        threading.Thread(target=relay.serve, args=(self.listener, lambda: socket.create_connection(proxy)), daemon=True).start()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        except OSError:
            pass
        self.listener.close()
        scratch.remove(self.folder)


def install(say=print) -> None:
    """Install bubblewrap with the system's package manager (Debian/Ubuntu: apt-get), if we can."""
    if shutil.which("bwrap") or not sys.platform.startswith("linux"):
        return
    apt = shutil.which("apt-get")
    sudo = [] if os.geteuid() == 0 else [shutil.which("sudo")] if shutil.which("sudo") else None
    if apt is None or sudo is None:
        say("cannot install bubblewrap here (needs apt-get, and root or sudo): install it with your package manager")
        return
    say("installing bubblewrap with apt-get…")
    quiet = {"stdin": subprocess.DEVNULL, "capture_output": True, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    subprocess.run([*sudo, apt, "update", "-qq"], **quiet)
    done = subprocess.run([*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", "bubblewrap"], text=True, **quiet)
    if done.returncode:
        say(f"apt-get could not install bubblewrap: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    isolation.cache_clear()
