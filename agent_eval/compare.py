"""Compare: did head do better than base, by how much, and how sure are we?

Base and head are two revisions (or two models, or two tiers, holding the rest fixed). Runs are
paired within a cell — (model, task, tier) when comparing revisions — and repeats are averaged
within the cell. The task is the unit that repeats: runs of one task are correlated, so each task
gets one paired difference (the mean over its cells), and the 95% interval is a Student t interval
on those per-task differences with n_tasks - 1 degrees of freedom: the cluster-robust standard
error of Miller (2024), "Adding Error Bars to Evals", with the task as the cluster. Rates are
differences in percentage points; costs are ratios head/base, averaged on the log scale (they are
skewed) and shown as a percentage change.

Status rules: setup_error and infra_error runs are not the agent's work: they count in the error
rate only. silent_failure runs are out of match %. Unknown tokens (None) and unknown cost are skipped.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Literal

import orjson
from pydantic import BaseModel

from .store import RETRIED

AXES = ("model", "revision", "task", "tier")
MIN_TASKS = 5  # below this a t interval on tasks is too unstable to print as if it were sure
POWER = 0.80  # for the minimum detectable effect: the change this sample finds 4 times out of 5


class CompareError(Exception):
    """Bad input: one line for the user."""


class Metric(BaseModel):
    metric: str
    kind: Literal["rate", "cost"]  # rate: change in points; cost: change in % (ratio head/base - 1)
    direction: Literal["up", "down", "neutral"]  # which way is better
    base: float | None  # rate: % ; cost: mean per run (the mean of the per-task means)
    head: float | None
    change: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # better | worse | higher | lower | no detectable change | unreliable | no data
    n_tasks: int
    n_runs_base: int
    n_runs_head: int
    mde: float | None  # smallest change (same unit as change) this sample detects with 80% power
    sd: float | None  # sd of per-task differences (points, or log ratio): what sample sizes are planned from


class Flip(BaseModel):
    task: str
    cell: str  # the cell's other coordinates, e.g. "model · tier"
    base: float  # match % over the cell's repeats
    head: float
    now: Literal["fixed", "broken"]


class Mover(BaseModel):
    metric: str
    task: str
    base: float
    head: float
    change: float  # % change of the task's mean


class Comparison(BaseModel):
    axis: str
    base: str
    head: str
    n_tasks: int
    n_runs_base: int
    n_runs_head: int
    metrics: list[Metric]
    dropped_cells: list[str]
    flips: list[Flip]
    movers: list[Mover]
    method: str
    tasks_for_10_points: int | None  # tasks needed to detect a 10-point match change (80% power)


# --- reading ----------------------------------------------------------------------------------------


def load_rows(store: Path) -> list[dict]:
    """Every result of a store as flat rows (results.flat), from the store's index. The one place
    compare reads the store; unreadable results are named on stderr."""
    from . import index

    rows = index.rows(Path(store))
    index.warn_bad(Path(store), lambda line: print(line, file=sys.stderr))
    # A task run in a session is another experiment than the same cell one-shot (sessions.py reads it).
    return [r for r in rows if r["session_position"] is None]


def marker_directions(store: Path) -> dict[str, str]:
    """Each marker's direction (up, down) as the suites' profiles declare it; absent means neutral."""
    directions = {}
    for plan in sorted(Path(store).glob("suites/*/plan.json")):
        for marker in orjson.loads(plan.read_bytes()).get("markers", []):
            directions.setdefault(marker["name"], marker.get("direction") or "neutral")
    return directions


# --- the metrics --------------------------------------------------------------------------------------

Value = Callable[[dict], float | None]  # a run's value for a metric, None when it does not count


def _measured(row: dict) -> bool:
    return row["status"] not in RETRIED


def _match(row: dict) -> float | None:
    if row["matched"] is None or row["status"] == "silent_failure" or not _measured(row):
        return None
    return 100.0 * row["matched"]


def _cost(column: str) -> Value:
    return lambda row: row[column] if _measured(row) and row[column] is not None else None


def _marker(name: str) -> Value:
    return lambda row: 100.0 * (name in row["markers"]) if _measured(row) else None


COSTS = ["turns", "tool_calls", "tokens_new", "tokens_cached", "tokens_generated", "wall_seconds", "cost"]


def metrics(rows: list[dict], directions: dict[str, str]) -> list[tuple[str, str, str, Value]]:
    """(name, kind, direction, value) for every metric, markers included."""
    markers = list(directions) + sorted({m for row in rows for m in row["markers"]} - set(directions))
    return [
        ("match", "rate", "up", _match),
        ("errors", "rate", "down", lambda row: 100.0 * (row["status"] != "ok")),
        ("silent_failures", "rate", "down", lambda row: 100.0 * (row["status"] == "silent_failure")),
        *[(f"marker:{m}", "rate", directions.get(m, "neutral"), _marker(m)) for m in markers],
        *[(c, "cost", "down", _cost(c)) for c in COSTS],
    ]


# --- cells ---------------------------------------------------------------------------------------------


@dataclass
class Cells:
    """Runs summed per cell (model, sha, task, tier), once: every comparison of a store, along any
    axis, is then a walk over cells, never over runs again (the report compares many pairs)."""

    metrics: list[tuple[str, str, str, Value]]
    sums: dict[tuple, tuple[list[float], list[int], int]]  # cell -> (each metric's sum, its count, runs)
    names: dict[tuple[str, str], tuple[str, str]]  # (axis, key) -> (display name, other name: a revision's ref)


def summarize(rows: list[dict], directions: dict[str, str] | None = None) -> Cells:
    table = metrics(rows, directions or {})
    values = [value for *_, value in table]
    sums: dict[tuple, tuple[list[float], list[int], int]] = {}
    names = {}
    for r in rows:
        key = (r["model"], r["sha"], r["task"], r["tier"])
        if key not in sums:
            sums[key] = ([0.0] * len(values), [0] * len(values), 0)
            names[("model", r["model"])] = (r["model_name"], r["model"])
            names[("revision", r["sha"])] = (r["revision"], r["ref"])
            names[("tier", r["tier"])] = (r["tier"], r["tier"])
            names[("task", r["task"])] = (r["task"], r["task"])
        total, counts, runs = sums[key]
        for i, value in enumerate(values):
            v = value(r)
            if v is not None:
                total[i] += v
                counts[i] += 1
        sums[key] = (total, counts, runs + 1)
    return Cells(metrics=table, sums=sums, names=names)


def resolve(cells: Cells, axis: str, ref: str) -> str:
    """The key (sha, model id or tier) that `ref` — a name, a ref, an id or a SHA prefix — names on `axis`."""
    known = {key: names for (a, key), names in cells.names.items() if a == axis}
    found = {key for key, (name, other) in known.items() if ref in (key, name, other) or (axis == "revision" and len(ref) >= 4 and key.startswith(ref))}
    if not found:
        raise CompareError(f"no {axis} {ref!r} in the store; it has: {', '.join(sorted(name for name, _ in known.values())[:12])}")
    if len(found) > 1:
        raise CompareError(f"{axis} {ref!r} is ambiguous: it names {len(found)} ({', '.join(sorted(found)[:5])}); give a longer SHA prefix")
    return found.pop()


CELL = ("model", "revision", "task", "tier")  # a cell key's order


def _two_sides(rows: list[dict], axis: str, base: str, head: str) -> list[dict]:
    """Only the runs of what base and head name: summing every other run would be wasted work."""
    field, name, other = {"revision": ("sha", "revision", "ref"), "model": ("model", "model_name", "model"), "tier": ("tier",) * 3}[axis]
    names = {(axis, r[field]): (r[name], r[other]) for r in rows}
    if not names:
        return rows
    probe = Cells(metrics=[], sums={}, names=names)
    wanted = {resolve(probe, axis, base), resolve(probe, axis, head)}
    return [r for r in rows if r[field] in wanted]


def compare(rows: list[dict] | Cells, base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
            tasks: list[str] = (), directions: dict[str, str] | None = None) -> Comparison:
    """Compare head with base along `axis`. rows: results.flat() rows, or summarize(rows) to compare
    one store many times; directions: the markers' (marker_directions), used when given rows."""
    cells = rows if isinstance(rows, Cells) else summarize(_two_sides(rows, axis, base, head), directions)
    if not cells.sums:
        raise CompareError("the store has no results yet: run a suite first (agent-eval run suite.yaml)")
    keep = [k for k in cells.sums if (not models or k[0] in models or cells.names["model", k[0]][0] in models)
            and (not tiers or k[3] in tiers) and (not tasks or any(fnmatch.fnmatchcase(k[2], g) for g in tasks))]
    if not keep:
        raise CompareError("no results match the --model/--tier/--task filters")
    at = CELL.index(axis)
    present = {k[at] for k in keep}
    kept = Cells(cells.metrics, cells.sums, {(a, key): n for (a, key), n in cells.names.items() if a != axis or key in present})
    b, h = resolve(kept, axis, base), resolve(kept, axis, head)
    if b == h:
        raise CompareError(f"--base {base!r} and --head {head!r} name the same {axis}: compare two different ones")
    sides = {"base": {}, "head": {}}
    for k in keep:
        if k[at] in (b, h):
            sides["base" if k[at] == b else "head"][k[:at] + k[at + 1:]] = cells.sums[k]
    others = [a for a in CELL if a != axis]
    shared = sorted(sides["base"].keys() & sides["head"].keys())
    label = lambda k, skip=(): " · ".join(cells.names[a, v][0] for a, v in zip(others, k, strict=True) if a not in skip)  # noqa: E731
    dropped = [f"{label(k)} ({side} only)" for side, other in (("base", "head"), ("head", "base"))
               for k in sorted(sides[side].keys() - sides[other].keys())]
    if not shared:
        raise CompareError(f"base and head ran no cell in common ({len(dropped)} cells on one side only): run the same tasks, models and tiers on both")
    pairs = [(k[others.index("task")], sides["base"][k], sides["head"][k]) for k in shared]
    computed = {name: (kind, direction, per_task(pairs, i, kind)) for i, (name, kind, direction, _) in enumerate(cells.metrics)}
    found = [_metric(name, *c) for name, c in computed.items()]
    match = found[0]
    return Comparison(
        axis=axis, base=_display(cells, axis, b), head=_display(cells, axis, h), n_tasks=len({t for t, _, _ in pairs}),
        n_runs_base=sum(x[2] for _, x, _ in pairs), n_runs_head=sum(y[2] for _, _, y in pairs), metrics=found,
        dropped_cells=dropped, flips=_flips(shared, pairs, lambda k: label(k, skip=("task",))), movers=_movers(computed), method=METHOD,
        tasks_for_10_points=tasks_needed(match.sd, 10.0) if match.sd else None,
    )


def per_model(rows: list[dict], base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
              tasks: list[str] = (), directions: dict[str, str] | None = None) -> dict[str, Comparison]:
    """The same comparison for each model on its own, by model name: what got better, for which models."""
    cells = summarize(_two_sides(rows, axis, base, head), directions)
    out = {}
    for model in sorted({k[0] for k in cells.sums}):
        name = cells.names["model", model][0]
        if not models or model in models or name in models:
            try:
                out[name] = compare(cells, base, head, axis, models=[model], tiers=tiers, tasks=tasks)
            except CompareError:
                continue  # this model ran no cell on both sides
    return out


METHOD = ("Pairs within (model, task, tier) — the axis compared held out —, repeats averaged in a cell, one paired "
          "difference per task (mean over its cells); 95% Student t interval over tasks (n_tasks - 1 df), i.e. standard "
          "errors clustered by task (Miller 2024, 'Adding Error Bars to Evals'). Rates: difference in points. Costs: "
          "geometric mean of per-task ratios head/base, as % change. setup/infra errors count only in errors; silent "
          "failures are out of match %; unknown tokens and costs are skipped.")


def _display(cells: Cells, axis: str, key: str) -> str:
    name = cells.names[axis, key][0]
    return f"{name} ({key[:10]})" if axis == "revision" else name


def per_task(pairs, i: int, kind: str) -> dict[str, tuple[float, float, float, int, int]]:
    """Task -> (base mean, head mean, paired difference, base runs, head runs) of metric i, the means
    over the task's cells with data on both sides. Cost differences are log ratios; a zero mean is left out."""
    by_task: dict[str, list[tuple]] = defaultdict(list)
    for task, (base_sums, base_counts, _), (head_sums, head_counts, _) in pairs:
        nx, ny = base_counts[i], head_counts[i]
        if not nx or not ny:
            continue
        x, y = base_sums[i] / nx, head_sums[i] / ny
        if kind == "cost" and (x <= 0 or y <= 0):
            continue
        by_task[task].append((x, y, y - x if kind == "rate" else math.log(y / x), nx, ny))
    return {t: (*(sum(c) / len(c) for c in list(zip(*cells, strict=True))[:3]), sum(c[3] for c in cells), sum(c[4] for c in cells))
            for t, cells in by_task.items()}


def _metric(name: str, kind: str, direction: str, tasks: dict[str, tuple]) -> Metric:
    n = len(tasks)
    empty = dict(change=None, ci_low=None, ci_high=None, mde=None, sd=None)
    common = dict(metric=name, kind=kind, direction=direction, n_tasks=n, n_runs_base=sum(t[3] for t in tasks.values()),
                  n_runs_head=sum(t[4] for t in tasks.values()))
    if not n:
        return Metric(**common, **empty, base=None, head=None, verdict="no data")
    base, head = statistics.fmean(t[0] for t in tasks.values()), statistics.fmean(t[1] for t in tasks.values())
    diffs = [t[2] for t in tasks.values()]
    mean = statistics.fmean(diffs)
    if n < 2:
        return Metric(**common, **{**empty, "change": _shown(mean, kind)}, base=base, head=head, verdict="unreliable")
    sd = statistics.stdev(diffs)
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    mde = (t_quantile(0.975, n - 1) + t_quantile(POWER, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    verdict = "unreliable" if n < MIN_TASKS else _verdict(low, high, direction)
    return Metric(**common, base=base, head=head, change=_shown(mean, kind), ci_low=_shown(low, kind) if n >= MIN_TASKS else None,
                  ci_high=_shown(high, kind) if n >= MIN_TASKS else None, verdict=verdict, mde=_shown(mde, kind), sd=sd)


def _shown(x: float, kind: str) -> float:
    """A difference as the user reads it: points for rates, % change for costs (from a log ratio)."""
    return x if kind == "rate" else 100.0 * (math.exp(x) - 1.0)


def _verdict(low: float, high: float, direction: str) -> str:
    if low <= 0 <= high:
        return "no detectable change"
    up = low > 0
    if direction == "neutral":
        return "higher" if up else "lower"
    return "better" if up == (direction == "up") else "worse"


def t_quantile(p: float, df: int) -> float:
    """Student t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5): within 0.001
    of the exact value from 4 degrees of freedom on, which is where compare prints intervals."""
    z = NormalDist().inv_cdf(p)
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def tasks_needed(sd: float, effect: float) -> int:
    """Tasks needed for a paired difference of `effect` to be found with 80% power at the 5% level,
    given the sd of per-task differences seen here (normal approximation, then t-corrected once)."""
    n = max(2, math.ceil(((NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(POWER)) * sd / effect) ** 2))
    return max(2, math.ceil(((t_quantile(0.975, n - 1) + t_quantile(POWER, n - 1)) * sd / effect) ** 2))


def _flips(shared: list[tuple], pairs, label) -> list[Flip]:
    """Cells whose majority verdict on match (metric 0) changed: fixed (missed → matched) or broken."""
    flips = []
    for k, (task, (base_sums, base_counts, _), (head_sums, head_counts, _)) in zip(shared, pairs, strict=True):
        if base_counts[0] and head_counts[0]:
            x, y = base_sums[0] / base_counts[0], head_sums[0] / head_counts[0]
            if (x > 50) != (y > 50):
                flips.append(Flip(task=task, cell=label(k), base=x, head=y, now="fixed" if y > 50 else "broken"))
    return flips


def _movers(computed: dict[str, tuple], top: int = 5) -> list[Mover]:
    movers = []
    for metric in ("tokens_new", "turns"):
        ranked = sorted(computed[metric][2].items(), key=lambda item: -abs(item[1][2]))[:top]
        movers += [Mover(metric=metric, task=t, base=x, head=y, change=_shown(d, "cost")) for t, (x, y, d, _, _) in ranked]
    return movers
