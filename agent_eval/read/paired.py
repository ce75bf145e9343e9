"""One metric's paired comparison over tasks: each task's difference (points, or a cost's change
relative to the task's size), their mean, a Student t interval and p-value over tasks, the columns
base and head as the change reads them, and the smallest change the sample detects."""

from __future__ import annotations

import math
import statistics
from typing import Literal

from pydantic import BaseModel

from .stats import POWER, sd, t_quantile, t_two_sided

MIN_TASKS = 5  # below this a t interval on tasks is too unstable to print as if it were sure


class Metric(BaseModel):
    metric: str
    kind: Literal["rate", "cost"]  # rate: change in points; cost: change in % (ratio head/base - 1)
    direction: Literal["up", "down", "neutral"]  # which way is better
    base: float | None  # rate: % ; cost: mean per run (the mean of the per-task means): change is head/base - 1 of these
    head: float | None
    change: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # better | worse (primary metrics the headline claims) | higher | lower | no detectable change | unreliable | no data
    n_tasks: int
    n_runs_base: int
    n_runs_head: int
    mde: float | None  # smallest increase (same unit as change) this sample detects with 80% power
    sd: float | None  # sd of per-task differences (points, or relative differences): what sample sizes are planned from
    mde_down: float | None = None  # smallest decrease it detects: -mde for rates; for costs the other side of the log scale
    p: float | None = None  # two-sided p-value of no change (t test on tasks), before any correction
    primary: bool = False  # one the suite's decision is about: only these get better/worse


def differences(kind: str, xs: list[float], ys: list[float]) -> list[float]:
    """Each task's paired difference: head - base in points for rates; for costs the difference
    relative to the task's own size, 2(y - x)/(x + y), in [-2, 2] and 0 when both are 0: every task
    weighs the same whatever its size (a few big tasks would otherwise decide, and the interval
    under-cover: see the README), and a task that cost nothing on one side counts (-2 or +2)."""
    if kind == "rate":
        return [y - x for x, y in zip(xs, ys, strict=True)]
    return [2 * (y - x) / (x + y) if x + y > 0 else 0.0 for x, y in zip(xs, ys, strict=True)]


def measure(name: str, kind: str, direction: str, tasks: dict[str, tuple]) -> Metric:
    n = len(tasks)
    empty = dict(change=None, ci_low=None, ci_high=None, mde=None, sd=None)
    common = dict(metric=name, kind=kind, direction=direction, n_tasks=n, n_runs_base=sum(t[2] for t in tasks.values()),
                  n_runs_head=sum(t[3] for t in tasks.values()))
    if not n:
        return Metric(**common, **empty, base=None, head=None, verdict="no data")
    xs, ys = [t[0] for t in tasks.values()], [t[1] for t in tasks.values()]
    diffs = differences(kind, xs, ys)
    mean = statistics.fmean(diffs)
    base, head = _columns(kind, xs, ys, mean)
    if n < 2:
        return Metric(**common, **{**empty, "change": _shown(mean, kind)}, base=base, head=head, verdict="unreliable")
    spread = sd(diffs)
    se, reliable = spread / math.sqrt(n), n >= MIN_TASKS
    half, mde = t_quantile(0.975, n - 1) * se, (t_quantile(0.975, n - 1) + t_quantile(POWER, n - 1)) * se
    p = (0.0 if mean else 1.0) if se == 0 else t_two_sided(mean / se, n - 1)
    low, high = mean - half, mean + half
    verdict = "unreliable" if not reliable else _verdict(low, high)
    return Metric(**common, base=base, head=head, change=_shown(mean, kind), ci_low=_shown(low, kind) if reliable else None,
                  ci_high=_shown(high, kind) if reliable else None, verdict=verdict, sd=spread, p=p if reliable else None,
                  mde=_shown(mde, kind) if spread > 0 else None, mde_down=_shown(-mde, kind) if spread > 0 else None)


def _columns(kind: str, xs: list[float], ys: list[float], mean: float) -> tuple[float, float]:
    """Base and head as the change reads them. Rates: the mean over tasks. Costs: the mean task size
    (over both sides) split by the mean relative difference, so head / base - 1 is the change shown
    and the columns never move against the verdict."""
    if kind == "rate":
        return statistics.fmean(xs), statistics.fmean(ys)
    size = (statistics.fmean(xs) + statistics.fmean(ys)) / 2
    return size * (1 - mean / 2), size * (1 + mean / 2)


def _shown(x: float, kind: str) -> float:
    """A difference as the user reads it: points for rates; for costs the % change a mean relative
    difference x is, (2 + x)/(2 - x) - 1 (exactly r - 1 when every task changed by the ratio r)."""
    if kind == "rate":
        return x
    x = min(max(x, -EDGE), EDGE)  # an interval reaching ±2 means "from nothing" / "to nothing"
    return 100.0 * ((2 + x) / (2 - x) - 1)


EDGE = 2 - 1e-6


def _verdict(low: float, high: float) -> str:
    """Which way the interval lies; better/worse are decide.py's, for the primary metrics it claims."""
    return "no detectable change" if low <= 0 <= high else "higher" if low > 0 else "lower"
