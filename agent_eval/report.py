"""Report: every result of a store as one static, client-side site — no server, works from file://.

The site is report_site/ rendered with jinja2 plus three kinds of data written with orjson:
data.js (every run as dictionary-encoded columns: small, and one pass computes any aggregate),
details/NNNN.js (answers, errors and tool timelines, 1,000 runs a file, loaded only when a run is
opened) and echarts.min.js, copied from its npm package so nothing loads from a CDN at view time.
Scripts, not JSON: a page opened from file:// may not fetch() its neighbours, but it may load them.

aggregate() below is the same arithmetic the page does; the tests hold the two to each other.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
from collections import defaultdict
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jinja2
import orjson
from pydantic import BaseModel

from . import __version__, cache_dir
from .agent import AgentError
from .config import ModelSpec
from .store import run_folder

STATUSES = ["ok", "agent_error", "timeout", "setup_error", "silent_failure"]
STATUS_CODE = {s: k for k, s in enumerate(STATUSES)}
COLUMNS = ["repeat", "status", "matched", "wall", "new", "cached", "generated", "turns", "tools", "cost", "markers"]
ERROR_STATUSES = {"agent_error", "timeout", "setup_error"}
AXES = ["model", "revision", "task", "tier"]
DETAILS_PER_FILE = 1000
ECHARTS_VERSION = "6.1.0"


class Table(BaseModel):
    """Runs as columns. Dimension columns hold indexes into the dims lists (in display order)."""

    dims: dict[str, list[dict]]  # model, revision, task, tier, marker
    cols: dict[str, list]
    meta: dict

    @property
    def size(self) -> int:
        return len(self.cols["status"])


# --- collect -----------------------------------------------------------------------------------


def read_results(store: Path) -> list[dict]:
    """Every result.json as a plain dict: the store holds our own validated output, and skipping
    pydantic here is what keeps a 100k-run build within seconds."""
    return [orjson.loads(p.read_bytes()) for p in sorted(store.glob("runs/*/*/*/*/*/result.json"))]


def suite_plans(store: Path) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in sorted(store.glob("suites/*/plan.json"))]


# What the page shows of each dimension value, from the record it first appears in.
DIM_INFO = {
    "model": lambda m: {"id": m["id"], "name": m.get("name") or m["id"]},
    "revision": lambda r: {"name": r["name"], "sha": r["sha"], "ref": r["ref"]},
    "task": lambda t: {k: t.get(k) for k in ("id", "prompt", "expected", "match", "files")},
    "tier": lambda tier: {"name": tier},
    "marker": lambda m: {"name": m["name"], "where": m["where"], "description": m.get("description", "")},
}


def table(results: list[dict], plans: list[dict]) -> Table:
    index: dict[str, dict[str, int]] = {axis: {} for axis in DIM_INFO}
    dims: dict[str, list[dict]] = {axis: [] for axis in DIM_INFO}

    def code(axis: str, key: str, source) -> int:
        found = index[axis].get(key)
        if found is None:
            found = index[axis][key] = len(dims[axis])
            dims[axis].append(DIM_INFO[axis](source))
        return found

    for plan in plans:  # the suites' own order first: revisions as listed, never sorted as strings
        for rev in plan["revisions"]:
            code("revision", rev["sha"], rev)
        for model in plan["models"]:
            code("model", model["id"], model)
        for marker in plan.get("markers", []):  # a marker that never fired still shows, at 0 %
            code("marker", marker["name"], marker)
    cols: dict[str, list] = {name: [] for name in AXES + COLUMNS}
    for r in results:
        c, rev, task, tokens = r["cell"], r["cell"]["revision"], r["cell"]["task"], r["tokens"]
        cols["model"].append(code("model", c["model"]["id"], c["model"]))
        cols["revision"].append(code("revision", rev["sha"], rev))
        cols["task"].append(code("task", task["id"], task))
        cols["tier"].append(code("tier", c["tier"], c["tier"]))
        cols["repeat"].append(c["repeat"])
        cols["status"].append(STATUS_CODE[r["status"]])
        cols["matched"].append(2 if r["matched"] is None else int(r["matched"]))
        cols["wall"].append(round(r["wall_seconds"], 2))
        cols["new"].append(tokens["new"])
        cols["cached"].append(tokens["cached"])
        cols["generated"].append(tokens["generated"])
        cols["turns"].append(r["turns"])
        cols["tools"].append(sum(r["tool_calls"].values()))
        cols["cost"].append(r["cost"])
        bits = 0
        for hit in r["markers"]:
            bits |= 1 << code("marker", hit["name"], hit)
        cols["markers"].append(bits)
    meta = {
        "suites": [p["suite"] for p in plans], "profiles": sorted({p["profile"] for p in plans}),
        "harness_version": __version__, "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": len(results), "expected": expected_cells(plans),
    }
    return Table(dims=dims, cols=cols, meta=meta)


def expected_cells(plans: list[dict]) -> dict[str, int]:
    """How many runs each suite asked for, per (model id, revision sha, task, tier): the coverage target."""
    expected: dict[str, int] = defaultdict(int)
    for plan in plans:
        for cell in plan.get("grid", []):
            expected["|".join(cell)] += plan["repeats"]
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
    measured = [i for i, s in zip(rows, status, strict=True) if s != "setup_error"]  # the harness failed, not the agent
    scored = [i for i, s in zip(rows, status, strict=True) if c["matched"][i] != 2 and s not in ("silent_failure", "setup_error")]

    def median(col: str) -> float | None:
        return statistics.median(c[col][i] for i in measured) if measured else None

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


def details(r: dict) -> dict:
    c = r["cell"]
    folder = run_folder(c["revision"]["sha"], ModelSpec(id=c["model"]["id"]).slug, c["tier"], c["task"]["id"], c["repeat"], c["key"])
    return {
        "folder": folder, "answer": r["answer"][:2000], "errors": [e[:500] for e in r["errors"][:20]],
        "ended_by": r["ended_by"], "requests": r["requests"], "markers": [[m["name"], m["excerpt"]] for m in r["markers"]],
        "steps": [[s["tool"], s["input"][:300], int(s["error"])] for s in r["steps"][:200]], "finished": r["finished_at"],
    }



def echarts() -> Path:
    """echarts.min.js from the npm package, pinned by the lockfile we ship; installed once."""
    prefix = cache_dir() / "echarts" / ECHARTS_VERSION
    bundle = prefix / "node_modules" / "echarts" / "dist" / "echarts.min.js"
    if bundle.is_file():
        return bundle
    npm = shutil.which("npm")
    if npm is None:
        raise AgentError("npm not found: the report's charts come from the echarts npm package; install Node.js 20+ and npm")
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        (prefix / name).write_bytes(resources.files("agent_eval.report_site").joinpath(name).read_bytes())
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode or not bundle.is_file():
        raise AgentError(f"npm ci failed for echarts {ECHARTS_VERSION}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return bundle


def build(store: Path, out: Path, trace_base: str | None = None) -> Table:
    """Write the site into `out`. Trace links point at `trace_base` + run folder (default: the store,
    relative to `out`, so a report inside the store links the real trace files; "": no links)."""
    results = read_results(store)
    t = table(results, suite_plans(store))
    if trace_base is None:
        trace_base = _relative(store, out)
    site = resources.files("agent_eval.report_site")
    if out.exists():
        shutil.rmtree(out / "details", ignore_errors=True)
    (out / "details").mkdir(parents=True, exist_ok=True)
    data = {"dims": t.dims, "cols": t.cols, "meta": {**t.meta, "trace_base": trace_base, "details_per_file": DETAILS_PER_FILE}}
    (out / "data.js").write_bytes(b"window.REPORT=" + orjson.dumps(data) + b";\n")
    for start in range(0, len(results), DETAILS_PER_FILE):
        chunk = [details(r) for r in results[start : start + DETAILS_PER_FILE]]
        n = start // DETAILS_PER_FILE
        (out / "details" / f"{n:04d}.js").write_bytes(b"window.reportDetails(%d," % n + orjson.dumps(chunk) + b");\n")
    shutil.copyfile(echarts(), out / "echarts.min.js")
    for asset in ("app.js", "style.css"):
        (out / asset).write_text(site.joinpath(asset).read_text())
    page = jinja2.Template(site.joinpath("index.html").read_text(), autoescape=True)
    (out / "index.html").write_text(page.render(meta=t.meta, version=__version__))
    return t


def _relative(store: Path, out: Path) -> str:
    import os

    return os.path.relpath(store.resolve(), out.resolve()).rstrip("/") + "/"
