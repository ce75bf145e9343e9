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
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Literal

import orjson
from pydantic import BaseModel

from .results import flat
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
    """Every result of a store as flat rows (results.flat). The one place compare reads the store."""
    from .report import result_paths

    rows = []
    for path in result_paths(Path(store) / "runs"):
        try:
            rows.append(flat(orjson.loads(Path(path).read_bytes())))
        except (orjson.JSONDecodeError, KeyError, TypeError, OSError) as err:
            print(f"warning: {path}: unreadable result ({type(err).__name__}), skipped", file=sys.stderr)
    return rows


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


# --- pairing ------------------------------------------------------------------------------------------


def names(rows: list[dict], axis: str) -> set[tuple[str, str, str]]:
    """(key, display name, other name) of every value of `axis`: a revision's SHA, name and ref."""
    if axis == "revision":
        return {(r["sha"], r["revision"], r["ref"]) for r in rows}
    if axis == "model":
        return {(r["model"], r["model_name"], r["model"]) for r in rows}
    return {(r["tier"], r["tier"], r["tier"]) for r in rows}


def resolve(known: set[tuple[str, str, str]], axis: str, ref: str) -> str:
    """The key (sha, model id or tier) that `ref` names on `axis`, among names(rows, axis)."""
    found = {key for key, name, other in known if ref in (key, name, other) or (axis == "revision" and len(ref) >= 4 and key.startswith(ref))}
    if not found:
        known = sorted({name for _, name, _ in known})
        raise CompareError(f"no {axis} {ref!r} in the store; it has: {', '.join(known[:12])}")
    if len(found) > 1:
        raise CompareError(f"{axis} {ref!r} is ambiguous: it names {len(found)} ({', '.join(sorted(found)[:5])}); give a longer SHA prefix")
    return found.pop()


def key_of(axis: str) -> str:
    return "sha" if axis == "revision" else axis


def compare(rows: list[dict], base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
            tasks: list[str] = (), directions: dict[str, str] | None = None) -> Comparison:
    """Compare head with base along `axis`; rows are results.flat() rows, directions the markers'."""
    if not rows:
        raise CompareError("the store has no results yet: run a suite first (agent-eval run suite.yaml)")
    if models or tiers or tasks:
        rows = [r for r in rows if (not models or r["model"] in models or r["model_name"] in models) and (not tiers or r["tier"] in tiers)
                and (not tasks or any(fnmatch.fnmatchcase(r["task"], g) for g in tasks))]
    if not rows:
        raise CompareError("no results match the --model/--tier/--task filters")
    known = names(rows, axis)
    b, h = resolve(known, axis, base), resolve(known, axis, head)
    if b == h:
        raise CompareError(f"--base {base!r} and --head {head!r} name the same {axis}: compare two different ones")
    rows = [r for r in rows if r[key_of(axis)] in (b, h)]
    others = [a for a in AXES if a != axis]
    cells: dict[str, dict[tuple, list[dict]]] = {"base": defaultdict(list), "head": defaultdict(list)}
    for r in rows:
        side = "base" if r[key_of(axis)] == b else "head" if r[key_of(axis)] == h else None
        if side:
            cells[side][tuple(r[key_of(a)] for a in others)].append(r)
    shared = sorted(cells["base"].keys() & cells["head"].keys())
    label = _labeller(rows, others)
    dropped = [f"{label(k)} ({side} only)" for side, other in (("base", "head"), ("head", "base"))
               for k in sorted(cells[side].keys() - cells[other].keys())]
    if not shared:
        raise CompareError(f"base and head ran no cell in common ({len(dropped)} cells on one side only): run the same tasks, models and tiers on both")
    pairs = [(k[others.index("task")], cells["base"][k], cells["head"][k]) for k in shared]
    computed = {name: (kind, direction, per_task(pairs, value, kind)) for name, kind, direction, value in metrics(rows, directions or {})}
    found = [_metric(name, *c) for name, c in computed.items()]
    match = found[0]
    return Comparison(
        axis=axis, base=_display(rows, axis, b), head=_display(rows, axis, h), n_tasks=len({t for t, _, _ in pairs}),
        n_runs_base=sum(len(x) for _, x, _ in pairs), n_runs_head=sum(len(y) for _, _, y in pairs), metrics=found,
        dropped_cells=dropped, flips=_flips(shared, cells, label), movers=_movers(computed), method=METHOD,
        tasks_for_10_points=tasks_needed(match.sd, 10.0) if match.sd else None,
    )


METHOD = ("Pairs within (model, task, tier) — the axis compared held out —, repeats averaged in a cell, one paired "
          "difference per task (mean over its cells); 95% Student t interval over tasks (n_tasks - 1 df), i.e. standard "
          "errors clustered by task (Miller 2024, 'Adding Error Bars to Evals'). Rates: difference in points. Costs: "
          "geometric mean of per-task ratios head/base, as % change. setup/infra errors count only in errors; silent "
          "failures are out of match %; unknown tokens and costs are skipped.")


def _labeller(rows: list[dict], others: list[str]) -> Callable[..., str]:
    names = {("sha", r["sha"]): r["revision"] for r in rows} | {("model", r["model"]): r["model_name"] for r in rows}
    return lambda k, skip=(): " · ".join(names.get((key_of(a), v), v) for a, v in zip(others, k, strict=True) if a not in skip)


def _display(rows: list[dict], axis: str, key: str) -> str:
    r = next(r for r in rows if r[key_of(axis)] == key)
    return f"{r['revision']} ({r['sha'][:10]})" if axis == "revision" else r["model_name"] if axis == "model" else key


def _cell_mean(runs: list[dict], value: Value) -> tuple[float | None, int]:
    values = [v for v in map(value, runs) if v is not None]
    return (sum(values) / len(values) if values else None), len(values)


def per_task(pairs, value: Value, kind: str) -> dict[str, tuple[float, float, float, int, int]]:
    """Task -> (base mean, head mean, paired difference, base runs, head runs), the means over the
    task's cells that have data on both sides. Cost differences are log ratios; a zero mean is left out."""
    by_task: dict[str, list[tuple]] = defaultdict(list)
    for task, base_runs, head_runs in pairs:
        (x, nx), (y, ny) = _cell_mean(base_runs, value), _cell_mean(head_runs, value)
        if x is None or y is None or (kind == "cost" and (x <= 0 or y <= 0)):
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


def _flips(shared: list[tuple], cells, label) -> list[Flip]:
    """Cells whose majority verdict on match changed: fixed (missed → matched) or broken."""
    flips = []
    for k in shared:
        (x, _), (y, _) = _cell_mean(cells["base"][k], _match), _cell_mean(cells["head"][k], _match)
        if x is not None and y is not None and (x > 50) != (y > 50):
            task = cells["base"][k][0]["task"]
            flips.append(Flip(task=task, cell=label(k, skip=("task",)), base=x, head=y, now="fixed" if y > 50 else "broken"))
    return flips


def _movers(computed: dict[str, tuple], top: int = 5) -> list[Mover]:
    movers = []
    for metric in ("tokens_new", "turns"):
        ranked = sorted(computed[metric][2].items(), key=lambda item: -abs(item[1][2]))[:top]
        movers += [Mover(metric=metric, task=t, base=x, head=y, change=_shown(d, "cost")) for t, (x, y, d, _, _) in ranked]
    return movers
