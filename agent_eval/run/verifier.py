"""Verifier: a task's own check of what the agent left, run after pi exits (and by regrade, on the
working dir rebuilt from the stored archive). Its files are copied only then, to a scratch folder
pi never had in its mount view, and run in a sandbox with no network and their own timeout
(sandbox.verifier). grade/graders.py reads how it ended."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from agent_eval.grade import graders
from agent_eval.store.records import Cell, FileChange, Grader
from agent_eval.suite import profiles
from agent_eval.suite.config import Profile
from agent_eval.suite.task import Task

from . import envs, prepare, sandbox, scratch, workfiles
from .prepare import Env, Workspace


def run(ws: Workspace, env: Env, task: Task) -> Grader:
    checks = scratch.make("verify")
    try:
        shutil.copytree(task.verify_dir, checks, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        script = checks / task.verify.script
        program = [str(env.bin / "python")] if script.suffix == ".py" else ["sh"] if script.suffix == ".sh" else []
        cmd, names = sandbox.verifier(ws, env, checks, [*program, str(script), *task.verify.args])
        return _run(cmd, names, ws.workdir, task.verify.timeout, script.suffix == ".py")
    finally:
        scratch.remove(checks)


def _run(cmd: list[str], names: dict[str, str], cwd: Path, timeout: float, python: bool) -> Grader:
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=names, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as err:
        return graders.verdict(None, "", "", 0.0, python, why=f"it could not start ({err.strerror})")
    try:
        out, err = proc.communicate(timeout=timeout)
        why = ""
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        why = f"it ran past its timeout of {timeout:g} s"
    text = lambda data: data[-64_000:].decode(errors="replace")  # noqa: E731
    return graders.verdict(proc.returncode, text(out), text(err), time.perf_counter() - started, python, why)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def again(folder: Path, result: dict, profile: Profile, tasks: dict[str, Task]) -> Grader:
    """A stored run's verifier run again (regrade): its working dir rebuilt as the tier prepared it,
    with the inputs of the session's tasks so far, and the agent's kept files on top."""
    cell = Cell.model_validate(result["cell"])
    task = tasks[cell.task.id]
    if "files" not in result:
        return Grader(kind="verify", status="error", output="stored before the agent's files were kept: nothing to verify")
    if result.get("files_cut"):
        return Grader(kind="verify", status="error", output=f"the stored working dir is incomplete: {result['files_cut']}")
    url = profiles.repo_url(profile)
    env = envs.environment(profile, url, cell.revision.sha, cell.revision.release, cell.resolve_at)
    ws = prepare.workspace(cell, profile, task, url)
    try:
        for earlier in (cell.session.tasks[: cell.session.position - 1] if cell.session else []):
            if earlier in tasks:
                prepare.add_inputs(tasks[earlier], ws.workdir)
        workfiles.restore(folder, [FileChange.model_validate(f) for f in result["files"]], ws.workdir)
        return run(ws, env, task)
    finally:
        scratch.remove(ws.scratch)
