"""The `agent-eval` commands that read a store: results, report, export and the Hub publishing
commands, regrade and explain (compare and plan-size: cli/compare.py). The work is in results.py,
index.py, report.py, publish.py, export.py, regrade.py and explain.py."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import StoreArg, app, fail, hub_errors, one_line, require_repo_id, require_store, user_errors


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def results(
    store: StoreArg = Path("agent-eval-results"),
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Print every result in a store, one flat row per run (the columns are listed in the README), in the
    suites' order of models, revisions and tiers.
    Reads the store's index (index.sqlite), checked against the run folders first."""
    from agent_eval.store import index
    from agent_eval.store import results as collect
    from agent_eval.store.export import ordered

    require_store(store)
    found = ordered(store, lambda line: typer.echo(line, err=True))
    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    if format == Format.json:
        sys.stdout.buffer.write(collect.as_json(found) + b"\n")
    elif format == Format.csv:
        sys.stdout.write(collect.as_csv(found))
    else:
        collect.print_table(found)


@app.command("sessions")
def sessions_cmd(
    store: StoreArg = Path("agent-eval-results"),
    format: Annotated[Format, typer.Option("--format", "-f", help="table, or json (csv: use results).")] = Format.table,
) -> None:
    """Cost by position in a session: each task's marginal cost when it runs first (the agent meets the
    library fresh) and later (it has learned it), per model, revision and tier, beside one-shot runs
    of the same cells. Medians with the runs behind them, then the change from first to later (and
    from one-shot to first) paired by task, with a 95% interval from 5 tasks on (README: Sessions)."""
    import orjson

    from agent_eval.read import sessions
    from agent_eval.store import columns, index

    require_store(store)
    rows = sessions.rows_of(columns.read(store))
    lines, savings = sessions.by_position(rows), sessions.saved(rows)
    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    if format == Format.json:
        data = {"by_position": [line.model_dump() for line in lines], "saved": [s.model_dump() for s in savings]}
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    elif format == Format.csv:
        fail("sessions prints a table or json; for csv of every run use `agent-eval results --format csv`")
    elif not lines:
        typer.echo(f"no session runs in {store}: a suite runs sessions with `sessions: {{tasks: N}}` (README: Sessions)", err=True)
    else:
        sessions.print_table(lines)
        sessions.print_savings(savings)


@app.command()
def reindex(store: StoreArg = Path("agent-eval-results")) -> None:
    """Check the store's index against every result.json, after editing or deleting them by hand.

    Readers check the index cheaply (the folders' mtimes: run folders added or removed are found);
    a result.json rewritten inside its folder by another tool is found only here."""
    import time

    from agent_eval.store import index

    require_store(store)
    started = time.perf_counter()
    db = index.verify(store)
    try:
        runs = db.execute(f"SELECT count(*) FROM runs WHERE {index.CURRENT}").fetchone()[0]
        bad = db.execute("SELECT count(*) FROM bad").fetchone()[0]
    finally:
        db.close()
    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    typer.echo(f"{store / index.NAME}: {runs} runs, {bad} unreadable (every result.json checked in {time.perf_counter() - started:.1f}s)", err=True)
    from agent_eval.read import reads

    started = time.perf_counter()
    typer.echo(f"{store / reads.NAME}: what {reads.fill(store)} runs read, derived in {time.perf_counter() - started:.1f}s (agent-eval reads)", err=True)


@app.command()
def report(
    where: Annotated[str, typer.Argument(metavar="STORE", help="The store folder, or hf://buckets/ORG/NAME (pulled into the cache first).")] = "agent-eval-results",
    out: Annotated[Optional[Path], typer.Option(help="Where to write the site; default: STORE/report.")] = None,
) -> None:
    """Build the static report: open its index.html from disk, or publish it with publish-report."""
    import time

    from agent_eval.hub.bucket import PREFIX
    from agent_eval.read import report as site
    from agent_eval.suite.cache import cache_dir

    from .jobs import hub_store, reported

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
        built = site.build(store, out, say=lambda line: typer.echo(line, err=True))
    except user_errors() as err:
        fail(str(err))
    from agent_eval.store import index

    index.warn_bad(store, lambda line: typer.echo(line, err=True))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    typer.echo(f"{built.size} runs -> {out / 'index.html'} ({size / 1e6:.1f} MB, {time.perf_counter() - started:.1f}s)", err=True)
    typer.echo((out / "index.html").resolve().as_uri())


VisibilityOpt = Annotated[Optional[bool], typer.Option(
    "--public/--private", help="Make the repository public or private. Default: a new one private, an existing one as it is.", show_default=False)]


@app.command("publish-report")
def publish_report(
    store: StoreArg = Path("agent-eval-results"),
    space: Annotated[str, typer.Option(help="The Space, ORG/NAME; created as a static Space if needed.")] = "",
    public: VisibilityOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be uploaded, upload nothing.")] = False,
    traces_dataset: Annotated[Optional[str], typer.Option(help="Link each run to its trace in this Dataset (see upload-traces).")] = None,
) -> None:
    """Build the report and push it to a Hugging Face Space in one commit (HF_TOKEN or `hf auth login`)."""
    from agent_eval.hub import publish

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
    from agent_eval.store import export as table
    from agent_eval.store import index

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
    public: VisibilityOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be committed, commit nothing.")] = False,
    report_space: Annotated[Optional[str], typer.Option(help="Link the dataset card to the report's Space, ORG/NAME.")] = None,
) -> None:
    """The results table as Parquet in a Hub Dataset, with a card, for the dataset viewer and its SQL
    console; a second publish replaces the table in one commit."""
    from agent_eval.hub import publish
    from agent_eval.store.export import ExportError

    require_repo_id(dataset, "--dataset", "my-org/agent-eval-results")
    require_store(store)
    try:
        url = publish.publish_results(store, dataset, public, dry_run, report_space, say=lambda m: typer.echo(m, err=True))
    except (ExportError, *hub_errors()) as err:
        fail(one_line(err))
    if url:
        typer.echo(url)


@app.command("upload-traces")
def upload_traces(
    store: StoreArg = Path("agent-eval-results"),
    dataset: Annotated[str, typer.Option(help="The Dataset, ORG/NAME; created if needed.")] = "",
    push: Annotated[bool, typer.Option("--push", help="Upload for real (default: a dry run that lists what would go).")] = False,
    public: VisibilityOpt = None,
) -> None:
    """Put every run's pi session (redacted) in a Dataset tagged for the Hub's agent-trace viewer."""
    from agent_eval.hub import publish

    require_repo_id(dataset, "--dataset", "my-org/agent-eval-traces")
    try:
        url = publish.upload_traces(store, dataset, public, push, say=lambda m: typer.echo(m, err=True))
    except (FileNotFoundError, *hub_errors()) as err:
        fail(one_line(err))
    if url:
        typer.echo(url)


@app.command()
def regrade(
    store: StoreArg = Path("agent-eval-results"),
    suite: Annotated[Path, typer.Option(help="The suite.yaml whose profile (markers) and tasks (expected answers) grade, as they are on disk now.")] = Path("suite.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change and write nothing.")] = False,
    rejudge: Annotated[bool, typer.Option("--rejudge", help="Ask each judge again, even where its judgement of the same content is cached.")] = False,
) -> None:
    """Grade stored runs again with the current graders: answers and markers from their traces, verifiers re-run on the stored
    working dir, judges from their cache (or asked, when the rubric, judge or content changed, or with --rejudge); the agent is never run.

    \b
    Every grading a result had is kept beside it, oldest first (gradings.jsonl; explain shows
    them); statuses, tokens and traces are never touched.
    """
    from contextlib import ExitStack

    from agent_eval.grade import regrade as grading
    from agent_eval.run import judge, serve, verifier
    from agent_eval.run.proxy import Proxy
    from agent_eval.store.records import Cell
    from agent_eval.suite.load import load_suite

    require_store(store)
    try:
        with Proxy() as proxy, ExitStack() as stack:
            # An offline judge is served only once it is asked (not for a judgement in its cache), its log where `run` keeps it.
            where = serve.OnDemand(stack, store / "suites" / load_suite(suite).name, say=lambda message: typer.echo(message, err=True))

            def judging(folder, result, task, answer, model):
                return judge.run(Cell.model_validate(result["cell"]), task, answer, folder, proxy, rejudge, model, where)

            done = grading.regrade(store, suite, dry_run, verify=verifier.again, judge=judging)
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
    from agent_eval.read import explain as why

    require_store(store)
    try:
        groups = why.runs(store, task, model, tier)
    except why.ExplainError as err:
        fail(str(err))
    why.show(groups, task)
