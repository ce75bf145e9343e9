"""The `agent-eval` commands that run a suite on Hugging Face Jobs and read its Storage Bucket:
fanout, status, cancel, retry and pull. They register on cli.app; the work is in jobs.py and bucket.py."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent_eval.suite.text import visible

from .common import StoreArg, app, fail, hub_errors, one_line, print_plan, user_errors

BucketOpt = Annotated[str, typer.Option(
    "--bucket", envvar="AGENT_EVAL_BUCKET", help="The Storage Bucket holding the store, ORG/NAME (or hf://buckets/ORG/NAME).")]
NamespaceOpt = Annotated[Optional[str], typer.Option(help="Who runs and pays for the Jobs (user or org); default: the token's user.")]
PollOpt = Annotated[float, typer.Option(help="Seconds between looks at the Jobs while waiting.", min=0.1)]
FlavorOpt = Annotated[str, typer.Option(help="Job hardware (see `hf jobs hardware`).")]
ImageOpt = Annotated[Optional[str], typer.Option(help="Docker image with Python 3.10+ (with pip or uv) and git; no Node needed. [default: python:3.12]")]
TimeoutOpt = Annotated[Optional[str], typer.Option(help="Per Job, e.g. 45m. Default: the suite's slowest task + 15m of setup.")]
MaxParallelOpt = Annotated[int, typer.Option(min=1, help="At most this many of the suite's Jobs live at once.")]
WatchOpt = Annotated[bool, typer.Option("--watch", help="Follow the Jobs to the end; print the log tail of each failed one.")]


@contextmanager
def reported():
    """Hub and configuration failures end the command with one line, never a traceback."""
    from agent_eval.hub.bucket import BucketError
    from agent_eval.hub.jobs import JobsError

    try:
        yield
    except (*user_errors(), *hub_errors(), JobsError, BucketError) as err:
        fail(one_line(err))


def hub_store(bucket: str):
    from huggingface_hub.utils import disable_progress_bars

    from agent_eval.hub.bucket import BucketStore

    if not bucket:
        fail("--bucket is required as ORG/NAME, e.g. --bucket my-org/agent-eval (or set AGENT_EVAL_BUCKET)")
    disable_progress_bars()
    return BucketStore(bucket)


def hub_session(bucket: str, namespace: str | None):
    """The bucket, and the namespace the Jobs run in (asked once: every job call names it)."""
    store = hub_store(bucket)
    return store, namespace or store.api.whoami()["name"]


def bucket_plan(suite: Path, store, namespace: str, rerun: bool = False, need_keys: bool = True):
    """The suite's cells, those done set aside as `status` counts them: a result in the bucket that
    its unit's Job does not disown (a Job that ended in ERROR stored a setup_error or infra_error,
    which is run again, as `run` does locally). Also the bucket's done folders and each unit's Job."""
    from huggingface_hub.errors import BucketNotFoundError

    from agent_eval.hub import jobs
    from agent_eval.run import plan
    from agent_eval.suite.load import load_suite

    try:
        in_bucket = store.done()
        # The suite's last plan in the bucket: its resolution time holds for every later fan-out.
        before = plan.parse_previous(store.read(f"suites/{load_suite(suite).name}/plan.json"))
    except BucketNotFoundError:
        in_bucket, before = set(), {}
    made = plan.make(suite, rerun=True, done=set(), need_keys=need_keys, before=before)
    newest = jobs.jobs_of(store.api, made.suite.name, namespace)
    if not rerun:
        done = {c.key for unit in made.units() if all(jobs.state(c, in_bucket, newest.get(c.unit)) == "done" for c in unit) for c in unit}
        made = made.model_copy(update={"done": [c for c in made.todo if c.key in done], "todo": [c for c in made.todo if c.key not in done], "rerun": False})
    return made, in_bucket, newest


def job_options(made, namespace: str, flavor: str, image: Optional[str], timeout: Optional[str], max_parallel: int, poll: float):
    from agent_eval.hub import jobs

    seconds = jobs.duration(timeout) if timeout else jobs.default_timeout(made)
    return jobs.Options(namespace=namespace, flavor=flavor, image=image or jobs.IMAGE, timeout=seconds, max_parallel=max_parallel, poll=poll)


@app.command()
def fanout(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml to run.")],
    on_jobs: Annotated[bool, typer.Option("--jobs", help="Run each cell as its own Hugging Face Job (required: the only fan-out backend).")] = False,
    bucket: BucketOpt = "",
    flavor: FlavorOpt = "cpu-basic",
    image: ImageOpt = None,
    timeout: TimeoutOpt = None,
    max_parallel: MaxParallelOpt = 100,
    namespace: NamespaceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be submitted, one Job spec and the cost ceiling; submit nothing.")] = False,
    watch: WatchOpt = False,
    rerun: Annotated[bool, typer.Option("--rerun", help="Submit every cell again, even those done in the bucket.")] = False,
    poll: PollOpt = 15.0,
    until_decided: Annotated[bool, typer.Option("--until-decided", help="In rounds (with --watch): submit one round, pull it into the "
                                                "suite's store, look, and stop once its primary metrics are decided (as `run --until-decided`).")] = False,
) -> None:
    """Run a suite on Hugging Face Jobs: one Job per cell, results and traces in a Storage Bucket.

    \b
    Resumes by default: cells whose result is in the bucket, and cells with a live Job, are skipped.
    HF_TOKEN (or `hf auth login`) submits the Jobs; a model's API key goes to its Jobs as a secret.
    Then: agent-eval status SUITE --bucket ... · agent-eval pull --bucket ... · agent-eval report"""
    from agent_eval.hub import jobs

    if not on_jobs:
        fail("fanout needs --jobs (one Hugging Face Job per cell); to run on this machine use `agent-eval run`")
    if until_decided and (rerun or not watch):
        fail("--until-decided looks after every round, so it needs --watch, and resumes from the runs stored, so not --rerun")
    with reported():
        store, ns = hub_session(bucket, namespace)
        made, _, _ = bucket_plan(suite, store, ns, rerun)
        if until_decided:
            from agent_eval.read import rounds

            rounds.sides(made)
        options = job_options(made, ns, flavor, image, timeout, max_parallel, poll)
        price = jobs.hourly_price(store.api, flavor)
        print_plan(made, every_cell=False)
        if dry_run:
            return print_fanout(made, store, options, price)
        if until_decided:
            return _in_rounds(made, store, options)
        if not made.todo:
            return
        store.ensure()
        submitted = jobs.launch(made, made.todo, store, options, say=lambda m: typer.echo(m, err=True))
        if watch:
            follow(made, made.todo, store, options, suite)
        else:
            what = f"submitted {submitted} Jobs" if submitted else "nothing submitted (every cell to run has a live Job)"
            typer.echo(f"{what}; see where they are with: agent-eval status {suite} --bucket {store.id}", err=True)


def _in_rounds(made, store, options) -> None:
    from agent_eval.hub import rounds

    ended = rounds.fanout(made, store, options, say=lambda m: typer.echo(visible(m), err=True))
    typer.echo(f"{ended.line()}. Results in {store.uri}, pulled into {made.suite.store_path}", err=True)
    if ended.stop in ("incomplete", "interrupted"):
        raise typer.Exit(1 if ended.stop == "incomplete" else 130)


def print_fanout(made, store, options, price: float) -> None:
    import orjson

    from agent_eval.hub import jobs

    live = {k for k, j in jobs.jobs_of(store.api, made.suite.name, options.namespace).items() if j.status.stage in jobs.LIVE}
    submit = [u for u in made.units() if u[0].unit not in live]
    typer.echo(f"{len(made.done)} cells done in {store.uri}; {len(made.todo) - sum(map(len, submit))} have a live Job; {len(submit)} Jobs to submit", err=True)
    if submit:
        spec = jobs.job_spec(submit[0], "wheels/<version>-<source hash>/agent_eval.whl", f"{jobs.SNAPSHOTS}/<snapshot hash>", store.id, options)
        shown = {**spec, "volumes": [v.to_dict() for v in spec["volumes"]], "secrets": sorted(jobs.secrets(submit[0]))}
        what = f"a session of {len(submit[0])} tasks" if submit[0][0].session else "one cell"
        typer.echo(f"the Job of {what} (secret values are never shown):\n" + orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    ceiling = len(submit) * options.timeout / 3600 * price
    typer.echo(f"cost ceiling: ${ceiling:.2f} = {len(submit)} Jobs × {options.timeout / 60:.0f} min × ${price:.2f}/h on {options.flavor} (Jobs that finish early cost less)", err=True)


def follow(made, cells, store, options, suite: Path) -> None:
    from agent_eval.hub import jobs

    jobs.watch(made, cells, store, options, say=lambda m: typer.echo(m, err=True))
    done = store.done()
    missing = [c for c in cells if c.folder not in done]
    typer.echo(f"{len(cells) - len(missing)}/{len(cells)} results in {store.uri}" + (f"; {len(missing)} missing: agent-eval retry {suite} --failed --bucket {store.id}" if missing else ""), err=True)
    if missing:
        raise typer.Exit(1)


@app.command()
def status(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml.")],
    bucket: BucketOpt = "",
    namespace: NamespaceOpt = None,
) -> None:
    """What is where: cells done in the bucket, running as Jobs, failed, or missing (never submitted).
    It reads the bucket and the Jobs and calls no model: the models' keys are not needed."""
    from agent_eval.hub import jobs

    with reported():
        store, ns = hub_session(bucket, namespace)
        made, done, newest = bucket_plan(suite, store, ns, rerun=True, need_keys=False)
        cells = made.todo
        states = {c.key: jobs.state(c, done, newest.get(c.unit)) for c in cells}
        counts = Counter(states.values())
        typer.echo(f"suite {made.suite.name}: {len(cells)} cells · " + " · ".join(f"{counts[s]} {s}" for s in ("done", "running", "failed", "missing")))
        for cell in cells:
            if states[cell.key] == "failed":
                job = newest.get(cell.unit)
                why = f"Job {job.id} {job.status.stage}" + (f" ({job.status.message})" if job.status.message else "") if job else "no Job"
                typer.echo(visible(f"  failed  {cell.model.display} · {cell.revision.name} · {cell.tier} · {cell.task.id} · r{cell.repeat}: {why}"))
        if counts["failed"] or counts["missing"]:
            typer.echo(f"resubmit them with: agent-eval retry {suite} --failed --bucket {store.id}", err=True)


@app.command()
def cancel(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml.")],
    bucket: BucketOpt = "",
    namespace: NamespaceOpt = None,
) -> None:
    """Cancel every live Job of the suite (results already in the bucket stay)."""
    from agent_eval.hub import jobs
    from agent_eval.suite.load import load_suite

    with reported():
        name = load_suite(suite).name
        store, ns = hub_session(bucket, namespace)
        typer.echo(f"canceled {jobs.cancel(store.api, name, ns)} live Jobs of suite {name}", err=True)


@app.command()
def retry(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml.")],
    failed: Annotated[bool, typer.Option("--failed", help="Resubmit the cells whose Job failed, and those never submitted.")] = False,
    bucket: BucketOpt = "",
    flavor: FlavorOpt = "cpu-basic",
    image: ImageOpt = None,
    timeout: TimeoutOpt = None,
    max_parallel: MaxParallelOpt = 100,
    namespace: NamespaceOpt = None,
    watch: WatchOpt = False,
    poll: PollOpt = 15.0,
) -> None:
    """Resubmit the failed or missing cells of a suite, including harness failures (setup_error)."""
    from agent_eval.hub import jobs

    if not failed:
        fail("say which cells to retry: --failed (cells whose Job failed, and cells never submitted)")
    with reported():
        store, ns = hub_session(bucket, namespace)
        made, done, newest = bucket_plan(suite, store, ns, rerun=True)
        options = job_options(made, ns, flavor, image, timeout, max_parallel, poll)
        cells = [c for c in made.todo if jobs.state(c, done, newest.get(c.unit)) in ("failed", "missing")]
        typer.echo(f"{len(cells)} of {len(made.todo)} cells failed or missing", err=True)
        if not cells:
            return
        jobs.launch(made, cells, store, options, say=lambda m: typer.echo(m, err=True))
        if watch:
            follow(made, cells, store, options, suite)


@app.command()
def pull(
    store: StoreArg = Path("agent-eval-results"),
    bucket: BucketOpt = "",
) -> None:
    """Bring a bucket's results and traces down to a local store (incremental: only what changed)."""
    with reported():
        remote = hub_store(bucket)
        files, results = remote.pull(store, say=lambda line: typer.echo(line, err=True))
    from agent_eval.store import index

    index.verify(store).close()  # a pull may rewrite result.json files in place (regraded remotely): every one is checked
    typer.echo(f"{files} files fetched ({results} results) from {remote.uri} into {store}", err=True)
