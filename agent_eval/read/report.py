"""Report: every result of a store as one static, client-side site — no server, works from file://.

The site is report_site/ rendered with jinja2 plus five kinds of data written with orjson:
data.js (every run as dictionary-encoded columns: small, and one pass computes any aggregate),
views.js (what only the Compare and Sessions views show, loaded when one of them first opens),
details/PPP-NNNN.js (each run's answer, errors, markers, tool timeline, what it read, its graders and
the agent's files with their text within store/index.py's caps, 1,000 runs a file, loaded only when a run is opened),
reads.js (the Where agents look view's counts) and echarts.min.js, copied from its npm package so nothing loads from a CDN at view time.
Scripts, not JSON: a page opened from file:// may not fetch() its neighbours, but it may load them.

aggregate() below is the same arithmetic the page does; the tests hold the two to each other.
"""

from __future__ import annotations

import base64
import itertools
import math
import os
import shutil
import statistics
import subprocess
import zlib
from array import array
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import numpy as np
import orjson

from agent_eval import __version__
from agent_eval.store import columns, index
from agent_eval.store.columns import Columns
from agent_eval.store.records import RETRIED
from agent_eval.store.results import flat
from agent_eval.store.store import read_plans
from agent_eval.suite.cache import cache_dir, locked
from agent_eval.suite.profiles import shipped_root

from . import arrays
from .arrays import hundredths

STATUSES = ["ok", "agent_error", "timeout", "setup_error", "silent_failure", "infra_error"]
STATUS_CODE = {s: k for k, s in enumerate(STATUSES)}
COLUMNS = ["repeat", "status", "matched", "wall", "new", "cached", "generated", "turns", "tools", "cost", "markers"]  # facts' order
ERROR_STATUSES = {"agent_error", "timeout", "setup_error", "infra_error"}
AXES = ["model", "revision", "task", "tier", "agent"]  # agent: the agent's version, an axis when a suite names several
DETAILS_PER_FILE = 1000
ECHARTS_VERSION = "6.1.0"
# The page's scripts (report_site/), in the order it loads them: app.js last, it calls the others.
SCRIPTS = ("runs.js", "charts.js", "run.js", "later_views.js", "app.js")


@dataclass
class Table:
    """Runs as columns. Dimension columns hold indexes into the dims lists (in display order).
    A dataclass, not a pydantic model: validating 100k-long columns would cost more than the build."""

    dims: dict[str, list[dict]]  # model, revision, task, tier, agent, marker
    cols: dict[str, list]
    meta: dict

    @property
    def size(self) -> int:
        return len(self.cols["status"])


# --- collect -----------------------------------------------------------------------------------


# What the page shows of each dimension value, as the plans describe them.
DIM_INFO = {
    "model": lambda m: {"id": m["id"], "name": m.get("name") or m["id"]},
    "revision": lambda r: {"name": r["name"], "sha": r["sha"], "ref": r["ref"]},
    "task": lambda t: {k: t.get(k) for k in ("id", "prompt", "expected", "match", "files")},
    "tier": lambda tier: {"name": tier},
    "agent": lambda version: {"name": f"pi {version}", "version": version},
    "marker": lambda m: {"name": m["name"], "where": m["where"], "description": m.get("description", "")},
}


def table(results: list[dict], plans: list[dict]) -> Table:
    """The table of whole result.json records (as dicts): for tests and for callers without a store."""
    tasks = {r["cell"]["task"]["id"]: DIM_INFO["task"](r["cell"]["task"]) for r in reversed(results)}
    markers = {h["name"]: DIM_INFO["marker"](h) for r in reversed(results) for h in reversed(r["markers"])}
    return tabled(Columns.from_rows([flat(r) for r in results]), tasks, markers, plans)


def tabled(cols: Columns, tasks: dict[str, dict], markers: dict[str, dict], plans: list[dict]) -> Table:
    """The page's table of these runs: each dimension coded in the suites' order, then as the runs
    first have it; `tasks` and `markers` say what each task and marker looks like, by name."""
    index: dict[str, dict[str, int]] = {axis: {} for axis in DIM_INFO}
    dims: dict[str, list[dict]] = {axis: [] for axis in DIM_INFO}

    def code(axis: str, key: str, info: dict) -> None:
        if key not in index[axis]:
            index[axis][key] = len(dims[axis])
            dims[axis].append(info)

    for plan in plans:  # the suites' own order first: revisions as listed, never sorted as strings
        for rev in plan["revisions"]:
            code("revision", rev["sha"], DIM_INFO["revision"](rev))
        for model in plan["models"]:
            code("model", model["id"], DIM_INFO["model"](model))
        for version in plan.get("agent_versions", []):
            code("agent", version, DIM_INFO["agent"](version))
        for marker in plan.get("markers", []):  # a marker that never fired still shows, at 0 %
            code("marker", marker["name"], DIM_INFO["marker"](marker))
    for axis, (column, info) in SEEN.items():
        for i in firsts(cols, column):
            code(axis, cols.values(column)[cols[column][i]], info(cols, i, tasks))
    fired = cols["markers"]
    names = cols.values("markers")
    for k in sorted((k for k in range(len(names)) if fired[:, k].any()), key=lambda k: (int(fired[:, k].argmax()), k)):
        code("marker", names[k], markers[names[k]])
    t = Table(dims=dims, cols=page_columns(cols, index), meta={})
    t.meta = {
        "suites": [p["suite"] for p in plans], "profiles": sorted({p["profile"] for p in plans}),
        "harness_version": __version__, "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": len(cols), "expected": expected_cells(plans),
    }
    return t


# Each axis: the column that keys it, and what the page shows of a value, from the first run that has it.
SEEN = {
    "model": ("model", lambda c, i, _: {"id": c.values("model")[c["model"][i]], "name": c.values("model_name")[c["model_name"][i]]}),
    "revision": ("sha", lambda c, i, _: {"name": c.values("revision")[c["revision"][i]], "sha": c.values("sha")[c["sha"][i]],
                                         "ref": c.values("ref")[c["ref"][i]]}),
    "task": ("task", lambda c, i, tasks: tasks[c.values("task")[c["task"][i]]]),
    "tier": ("tier", lambda c, i, _: {"name": c.values("tier")[c["tier"][i]]}),
    "agent": ("agent_version", lambda c, i, _: DIM_INFO["agent"](c.values("agent_version")[c["agent_version"][i]])),
}


def firsts(cols: Columns, column: str) -> list[int]:
    """The first run with each value of a text column, in the order the runs first have them."""
    return arrays.firsts(cols[column], len(cols.values(column)))[1].tolist()


def page_columns(cols: Columns, index: dict[str, dict[str, int]]) -> dict[str, list]:
    """The page's columns (AXES + COLUMNS) as lists: dimension values as their place in dims."""
    out = {}
    for axis, (column, _) in SEEN.items():
        lut = np.array([index[axis].get(v, -1) for v in cols.values(column)] + [0], dtype=np.int64)
        out[axis] = lut[cols[column]].tolist()
    out["repeat"] = whole(cols["repeat"])
    out["status"] = np.array([STATUS_CODE[s] for s in cols.values("status")] + [0], dtype=np.int64)[cols["status"]].tolist()
    out["matched"] = np.where(np.isnan(cols["matched"]), 2, np.nan_to_num(cols["matched"])).astype(np.int64).tolist()
    out["wall"] = hundredths(cols["wall_seconds"])
    for name, column in (("new", "tokens_new"), ("cached", "tokens_cached"), ("generated", "tokens_generated"),
                         ("turns", "turns"), ("tools", "tool_calls")):
        out[name] = whole(cols[column])
    out["cost"] = whole(cols["cost"], ints=False)
    names = cols.values("markers")
    bits = [index["marker"][n] for n in names]
    weight = np.array([1 << b for b in bits] + [0], dtype=np.int64 if len(index["marker"]) < 63 else object)[:len(names)]
    out["markers"] = (cols["markers"].astype(weight.dtype) @ weight).tolist() if names else [0] * len(cols)
    return {name: out[name] for name in AXES + COLUMNS}


def whole(values: np.ndarray, ints: bool = True) -> list:
    """A number column as the rows held it: None where unknown, and ints for a column of counts."""
    if not np.isnan(values).any():
        return values.astype(np.int64).tolist() if ints else values.tolist()
    return [None if v != v else int(v) if ints else v for v in values.tolist()]


def expected_cells(plans: list[dict]) -> dict[str, int]:
    """How many runs each suite asked for, per (model id, revision sha, task, tier): the coverage target."""
    expected: dict[str, int] = defaultdict(int)
    for plan in plans:
        if plan.get("sessions"):  # the report shows one-shot runs only (see collect)
            continue
        for cell in plan.get("grid", []):
            expected["|".join(cell)] += plan.get("task_repeats", {}).get(cell[2], plan["repeats"])
    return dict(expected)


# --- aggregate (what the page computes; kept here so tests can check the page) ------------------


def shared_tasks(t: Table, rows: list[int], across: list[str]) -> set[int]:
    """Tasks present for every group of each `across` axis among `rows`: like-for-like comparisons."""
    tasks = {t.cols["task"][i] for i in rows}
    for axis in across:
        groups = {t.cols[axis][i] for i in rows}
        for g in groups:
            tasks &= {t.cols["task"][i] for i in rows if t.cols[axis][i] == g}
    return tasks


def select(t: Table, filters: dict[str, set[int]] | None = None, shared: list[str] | None = None) -> list[int]:
    filters = filters or {}
    rows = [i for i in range(t.size) if all(t.cols[axis][i] in keep for axis, keep in filters.items())]
    if shared:
        keep = shared_tasks(t, rows, shared)
        rows = [i for i in rows if t.cols["task"][i] in keep]
    return rows


def aggregate(t: Table, rows: list[int], by: list[str]) -> dict[tuple, dict]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i in rows:
        groups[tuple(t.cols[axis][i] for axis in by)].append(i)
    return {key: summary(t, members) for key, members in groups.items()}


def summary(t: Table, rows: list[int]) -> dict:
    c = t.cols
    status = [STATUSES[c["status"][i]] for i in rows]
    measured = [i for i, s in zip(rows, status, strict=True) if s not in RETRIED]  # the harness or the provider failed, not the agent
    scored = [i for i, s in zip(rows, status, strict=True) if c["matched"][i] != 2 and s not in ("silent_failure", *RETRIED)]

    def median(col: str) -> float | None:
        known = [c[col][i] for i in measured if c[col][i] is not None]  # None: not reported (tokens), not zero
        return statistics.median(known) if known else None

    def pct(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    costs = [c["cost"][i] for i in measured if c["cost"][i] is not None]
    markers = {m: pct(sum(1 for i in rows if c["markers"][i] >> m & 1), len(rows)) for m in range(len(t.dims["marker"]))}
    return {
        "runs": len(rows), "match": pct(sum(c["matched"][i] == 1 for i in scored), len(scored)), "scored": len(scored),
        "wall": median("wall"), "new": median("new"), "cached": median("cached"), "generated": median("generated"),
        "turns": median("turns"), "tools": median("tools"),
        "errors": pct(sum(s in ERROR_STATUSES for s in status), len(rows)),
        "silent": pct(sum(s == "silent_failure" for s in status), len(rows)),
        "cost": round(sum(costs), 6) if costs else None, "markers": markers,
    }


# --- build ---------------------------------------------------------------------------------------


def collect(store: Path) -> tuple[Columns, Columns, dict[str, dict], dict[str, dict], list[bytes]]:
    """Every run's columns (sessions' too) and the one-shot runs', from the store's index (never
    100k result.json files), what each task and marker looks like, and each one-shot run's details."""
    with columns.snapshot(store, whole=True) as db:
        every = columns.load(db, store)
        one_shot = np.isnan(every["session_position"])  # a session's tasks are another experiment: the Sessions view reads them
        query = f"SELECT path, detail FROM runs JOIN details USING (path) WHERE {index.CURRENT}"
        details = [d for (_, d), keep in zip(index.in_folder_order(db.execute(query).fetchall()), one_shot.tolist()) if keep]
        task_info = dict(db.execute("SELECT id, info FROM tasks"))
    tasks = {every.values("task")[every["task"][i]]: orjson.loads(task_info[every.values("task_id")[every["task_id"][i]]])
             for i in firsts(every, "task")}  # each task as the first run of it says
    cols = every.take(one_shot)
    fired, names = cols["markers"], cols.values("markers")
    markers = {}
    for k in range(len(names)):
        if fired[:, k].any():  # only the first run with each marker is parsed
            hit = next(h for h in orjson.loads(zlib.decompress(details[int(fired[:, k].argmax())]))["markers"] if h["name"] == names[k])
            markers[names[k]] = DIM_INFO["marker"](hit)
    return every, cols, tasks, markers, details


def write_details(details_dir: Path, cols: Columns, details: list[bytes], reads) -> list[int]:
    """Each one-shot run's details, and what it read (reads_view.PerRun), 1,000 runs a file per
    revision folder; the first run of each folder, for the page to find a run's details file.
    The details go as the index keeps them, one zlib stream a run (base64, with where each starts):
    the page inflates the run it opens (DecompressionStream), so a build at 100k runs does not
    inflate 66 MB it would write back out (0.45 s), and the site is 40% smaller."""
    part = cols["part"]
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]]).tolist() if len(cols) else []
    for n, (first, end) in enumerate(zip(starts, [*starts[1:], len(cols)])):
        for c in range(first, end, DETAILS_PER_FILE):
            name = f"{n:03d}-{(c - first) // DETAILS_PER_FILE:04d}"
            last = min(c + DETAILS_PER_FILE, end)
            streams = details[c:last]
            packed = orjson.dumps({"z": base64.b64encode(b"".join(streams)).decode(), "at": [0, *itertools.accumulate(map(len, streams))]})
            (details_dir / f"{name}.js").write_bytes(b'window.reportDetails("' + name.encode() + b'",' + packed + b"," + reads.chunk(c, last) + b");\n")
    return starts


def site_dir() -> Path:
    """The report's templates and assets: report_site/ at the top of the repository, shipped in the wheel."""
    return shipped_root() / "report_site"


def echarts() -> Path:
    """echarts.min.js from the npm package, pinned by the lockfile we ship; installed once."""
    prefix = cache_dir() / "echarts" / ECHARTS_VERSION
    bundle = prefix / "node_modules" / "echarts" / "dist" / "echarts.min.js"
    if bundle.is_file():
        return bundle
    from agent_eval.run.agent import AgentError, npm  # only to install: it costs a build 30 ms of imports

    with locked(prefix):  # two builds at once install it once
        if not bundle.is_file():
            prefix.mkdir(parents=True, exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                (prefix / name).write_bytes((site_dir() / name).read_bytes())
            done = subprocess.run([*npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if done.returncode or not bundle.is_file():
                raise AgentError(f"npm ci failed for echarts {ECHARTS_VERSION}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return bundle


@index.bulk()  # a million objects, none in a cycle: the collector walked them 300 times (0.1 s at 100k runs)
def build(store: Path, out: Path, trace_base: str | None = None, say=lambda line: None) -> Table:
    """Write the site into `out`. Trace links point at `trace_base` + run folder (default: the store,
    relative to `out`, so a report inside the store links the real trace files; "": no links).
    `say` gets a warning line for each plan.json left out."""
    if trace_base is None:
        trace_base = _relative(store, out)
    shutil.rmtree(out / "details", ignore_errors=True)
    (out / "details").mkdir(parents=True)
    every, cols, tasks, markers, details = collect(store)
    from . import reads, reads_view  # what each run read: the run panel lists it, its own view counts it

    found = reads.of_runs(store, cols)
    starts = write_details(out / "details", cols, details, reads_view.PerRun(found, cols))
    plans = read_plans(store, say)
    t = tabled(cols, tasks, markers, plans)
    meta = {**t.meta, "expected": expected_grid(t), "trace_base": trace_base, "details_per_file": DETAILS_PER_FILE, "details_starts": starts}
    from . import sessions
    from .compare_render import for_report  # the Compare view shows compare's own numbers, the Sessions view sessions'

    flat = sessions.rows_of(every)  # a row per run only for the runs the Sessions view reads
    data = {"dims": t.dims, "cols": encode(t.cols), "meta": meta}
    (out / "data.js").write_bytes(b"window.REPORT=" + orjson.dumps(data) + b";\n")
    # What only the Compare and Sessions views show, apart: the page loads it when one of them opens,
    # so its first content never waits for it (at 100k runs it would add half a megabyte and more).
    views = {"compare": for_report(plans, cols),
             "sessions": {"lines": [line.model_dump() for line in sessions.by_position(flat)],
                          "saved": [s.model_dump() for s in sessions.saved(flat)]}}
    (out / "views.js").write_bytes(b"window.reportViews(" + orjson.dumps(views) + b");\n")
    reads_view.write(store, out, t.dims, cols, found)  # its own file, loaded when its view opens
    site = site_dir()
    shutil.copyfile(echarts(), out / "echarts.min.js")
    for asset in (*SCRIPTS, "style.css"):
        (out / asset).write_text(site.joinpath(asset).read_text())
    page = jinja2.Template(site.joinpath("index.html").read_text(), autoescape=True)
    (out / "index.html").write_text(page.render(meta=t.meta, version=__version__, scripts=SCRIPTS))
    return t


# Each column as the narrowest typed array that holds it exactly, base64: a browser reads one long
# string far faster than a million number literals, and the file is smaller.
UNSIGNED = [("B", "Uint8", 0xFF), ("H", "Uint16", 0xFFFF), ("I", "Uint32", 0xFFFFFFFF)]


def packed(values: list, floats: bool = False) -> list[str]:
    if None in values:  # unknown values (tokens a provider did not report): NaN, exact for any count
        code, js_type, values = "d", "Float64", [math.nan if v is None else v for v in values]
    elif floats:
        code, js_type = "f", "Float32"
    else:
        top = max(values, default=0)
        code, js_type, limit = next((c, t, m) for c, t, m in UNSIGNED if top <= m or m == 0xFFFFFFFF)
        if top > limit:  # beyond 32 bits: shown as the largest it can hold
            values = [min(v, limit) for v in values]
    return [js_type, base64.b64encode(array(code, values).tobytes()).decode()]


def encode(cols: dict[str, list]) -> dict[str, list[str]]:
    out = {}
    for name, values in cols.items():
        if name == "wall":
            out[name] = packed([round(v * 100) for v in values])  # centiseconds: exact; the page divides back
        elif name == "cost":
            out[name] = packed([math.nan if v is None else v for v in values], floats=True)
        else:
            out[name] = packed(values)
    return out


COVERAGE_AXES = ["model", "task", "revision", "tier"]


def expected_grid(t: Table) -> list[str]:
    """The plans' expected run counts as one dense array over (model, task, revision, tier)."""
    keys = {axis: {DIM_KEY[axis](d): i for i, d in enumerate(t.dims[axis])} for axis in COVERAGE_AXES}
    sizes = [len(t.dims[axis]) for axis in COVERAGE_AXES]
    grid = [0] * math.prod(sizes)
    models, tasks, revisions, tiers = (keys[axis] for axis in COVERAGE_AXES)
    for key, want in t.meta["expected"].items():
        model, sha, task, tier = key.split("|")
        ids = (models.get(model), tasks.get(task), revisions.get(sha), tiers.get(tier))
        if None not in ids:
            grid[((ids[0] * sizes[1] + ids[1]) * sizes[2] + ids[2]) * sizes[3] + ids[3]] = want
    return packed(grid)


DIM_KEY = {"model": lambda d: d["id"], "task": lambda d: d["id"], "revision": lambda d: d["sha"], "tier": lambda d: d["name"],
           "agent": lambda d: d["version"]}


def _relative(store: Path, out: Path) -> str:
    return os.path.relpath(store.resolve(), out.resolve()).rstrip("/") + "/"
