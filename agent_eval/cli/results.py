"""The `agent-eval` commands that read a store: results, report, export and the Hub publishing
commands, compare, regrade and explain. The work is in results.py, index.py, report.py, publish.py,
export.py, compare.py, regrade.py and explain.py."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent_eval.suite.text import visible

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
    from agent_eval.store import index

    require_store(store)
    rows = index.rows(store)
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


class CompareFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


class Axis(str, Enum):
    revision = "revision"
    model = "model"
    tier = "tier"
    agent = "agent"


@app.command("compare")
def compare_cmd(
    store: StoreArg = Path("agent-eval-results"),
    base: Annotated[str, typer.Option(help="The base: a revision's SHA (prefix), or any name or ref it is stored under (a model or tier with --axis).")] = ...,
    head: Annotated[str, typer.Option(help="The head, named like --base.")] = ...,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Only this model (id or name); repeatable.")] = None,
    tier: Annotated[Optional[list[str]], typer.Option("--tier", help="Only this tier; repeatable.")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", help="Only tasks matching this glob; repeatable.")] = None,
    axis: Annotated[Axis, typer.Option(help="What base and head name; the other axes are held fixed and paired.")] = Axis.revision,
    format: Annotated[CompareFormat, typer.Option("--format", "-f", help="table (terminal), markdown (a PR comment) or json.")] = CompareFormat.table,
    fail_on: Annotated[Optional[list[str]], typer.Option("--fail-on", metavar="METRIC:THRESHOLD",
        help="Exit 1 when METRIC got worse than THRESHOLD, significantly: match:-5 (points), tokens_new:+20% (percent). The rules "
             "are Holm-corrected together: measured on 3,000 simulated PRs with no true change, the examples/ci rules failed 1.5% "
             "(95% CI 1.1-2.0%) of them: rarely, not never (README).")] = None,
    report_url: Annotated[Optional[str], typer.Option(help="Link the published report from the markdown.")] = None,
) -> None:
    """Did head do better than base? Every metric with its change, 95% interval (clustered by task) and verdict.

    \b
    Runs are paired within (model, task, tier, agent version), repeats averaged, and the interval is a t interval
    over per-task differences. Only the suite's primary metrics (decision: in suite.yaml; default match and
    tokens_new) are called better or worse, Holm-corrected across metrics and models: with no true change the
    headline claimed something in 4.2% (95% CI 3.6-5.0%) of 3,000 simulated comparisons, 1 and 3 models
    (README). --base/--head: a SHA (prefix), or any name or ref the revision is stored under.
    Exit 0, or 1 when a --fail-on rule fires, or 2 on bad input.
    """
    import orjson

    from agent_eval.read import compare as cmp
    from agent_eval.read import compare_envs, decide, sequential_verdict
    from agent_eval.read import compare_render as render
    from agent_eval.store.store import read_plans

    require_store(store)
    try:
        rows = cmp.load_rows(store, axis.value, base, head)
        plans = read_plans(store, lambda line: typer.echo(line, err=True))
        result, by_model = decide.verdict(rows, base, head, axis.value, models=model or [], tiers=tier or [], tasks=task or [],
                                          directions=cmp.directions_in(plans), decision=cmp.decision_in(plans))
        in_rounds = None if (model or tier or task) else sequential_verdict.matching(plans, rows, axis.value, base, head)
        if in_rounds:  # the suite stopped early: only the sequential intervals hold (per model: not part of its design)
            result, by_model = sequential_verdict.apply(result, in_rounds, rows, cmp.directions_in(plans), cmp.decision_in(plans)), {}
        rules = [render.parse_rule(r, [m.metric for m in result.metrics]) for r in fail_on or []]
        environment_notes = compare_envs.notes(store, rows, base, head, axis.value)
        from agent_eval.read import reads_table

        result.reading = reads_table.compare_context(store, rows, axis.value, base, head, model or [], tier or [], task or [])
    except cmp.CompareError as err:
        fail(str(err))
    if format == CompareFormat.json:
        sys.stdout.buffer.write(orjson.dumps({**orjson.loads(render.as_json(result)), "environments": environment_notes}, option=orjson.OPT_INDENT_2) + b"\n")
    elif format == CompareFormat.markdown:
        sys.stdout.write(render.markdown(result, report_url, by_model) + "".join(f"\n> ⚠️ {line}\n" for line in environment_notes))
    else:
        render.table(result, by_model)
        for line in environment_notes:
            typer.secho(visible(f"note: {line}"), fg="yellow")
    broken, unchecked = render.fired(result, rules)
    for line in unchecked + broken:
        typer.echo(line, err=True)
    if broken:
        raise typer.Exit(1)


@app.command("plan-size")
def plan_size_cmd(
    store: StoreArg = Path("agent-eval-results"),
    base: Annotated[Optional[str], typer.Option(help="The base, as compare takes it; default: the store's two revisions (or the sides it ran in rounds).")] = None,
    head: Annotated[Optional[str], typer.Option(help="The head, named like --base.")] = None,
    axis: Annotated[Axis, typer.Option(help="What base and head name.")] = Axis.revision,
) -> None:
    """From a pilot store: how many tasks × repeats detect each primary metric's min_effect at 80% power.

    \b
    Splits the spread of the per-task difference compare's interval rests on into its between-task and
    within-task (repeat) parts: repeats shrink only the second (README: Deciding in rounds)."""
    from agent_eval.read import compare as cmp
    from agent_eval.read.plan_size import plan_size
    from agent_eval.store.store import read_plans

    require_store(store)
    plans = read_plans(store, lambda line: typer.echo(line, err=True))
    if (base is None) != (head is None):
        fail("--base and --head: give both, or neither (the store's two revisions)")
    if base is None:
        base, head, axis = _pilot_sides(plans, axis)
    try:
        rows = cmp.load_rows(store, axis.value, base, head)
        sizes = plan_size(rows, base, head, axis.value, cmp.decision_in(plans), cmp.directions_in(plans))
    except cmp.CompareError as err:
        fail(str(err))
    if not sizes:
        fail(f"{store}: base and head share fewer than 2 tasks with data on a primary metric; run more tasks on both sides first")
    for size in sizes:
        typer.echo(visible(size.line()))


def _pilot_sides(plans: list[dict], axis):
    """The sides a store was run in rounds with, else its two revisions."""
    for plan in plans:
        if isinstance(seq := plan.get("sequential"), dict) and seq.get("base"):
            return seq["base"], seq["head"], Axis(seq["axis"])
    shas = list(dict.fromkeys(r["sha"] for p in plans for r in p["revisions"]))
    if len(shas) != 2 or axis != Axis.revision:
        fail(f"the store's suites name {len(shas)} revisions: give --base and --head" + (f" (along --axis {axis.value})" if axis != Axis.revision else ""))
    return shas[0], shas[1], axis


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
