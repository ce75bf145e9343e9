"""Sequential decisions: look after every round, stop as soon as the primary metrics are decided.

The method is a group-sequential design on the statistic compare already uses (a Student t over
per-task paired differences, clustered by task) with O'Brien–Fleming-like alpha spending (Lan &
DeMets 1983): the error allowed by look k of K is alpha(k/K) = 2 - 2Φ(z(1 - α/2) / √(k/K)), and
look k spends its increment alpha(k/K) - alpha((k-1)/K). Each look tests, and draws its interval,
at its own increment, so by the union bound the chance of any false claim at any look, and of any
interval missing the truth, is at most the sum of the increments, α, whatever the correlation
between looks and however the variance splits between tasks and repeats (which the exact boundaries
would need to know). The price is width at the last look (about 20% against the exact boundaries);
within a look, Holm's step-down holds it across the primary metrics.

Futility, for a metric that is not decided: its interval at the look's futility level lies inside
±min_effect. Stopping for futility never makes a claim, so it cannot raise the false-claim rate; it
only risks missing a real change, which benchmarks/rounds.py measures.

Pure functions over paired.Metric values, so simulation exercises exactly what a run decides on.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel

from .paired import MIN_TASKS, Metric, _shown
from .stats import holm, t_two_sided

ALPHA = 0.05
FUTILITY = 0.20  # futility interval: 80% two-sided (each bound one-sided 90%), the power the fixed design is sized for
METHOD = "group-sequential t, O'Brien-Fleming-like alpha spending (Lan-DeMets), each look at its own increment (union bound)"


class Design(BaseModel):
    """What the plan records: the method, how many looks at most, the alpha each one spends."""

    method: str = METHOD
    alpha: float = ALPHA
    looks: int  # rounds at most: the suite's repeats
    spent: list[float]  # alpha at each look; they sum to alpha
    futility: float = FUTILITY  # error level of the futility interval
    axis: str = "revision"
    base: str = ""
    head: str = ""


def spending(t: float, alpha: float = ALPHA) -> float:
    """Lan-DeMets O'Brien-Fleming-like spending: the error allowed by information fraction t."""
    return 0.0 if t <= 0 else 2 - 2 * NormalDist().cdf(NormalDist().inv_cdf(1 - alpha / 2) / math.sqrt(min(t, 1.0)))


def design(looks: int, axis: str = "revision", base: str = "", head: str = "", alpha: float = ALPHA) -> Design:
    cumulative = [spending(k / looks, alpha) for k in range(looks + 1)]
    return Design(alpha=alpha, looks=looks, spent=[b - a for a, b in zip(cumulative, cumulative[1:])], axis=axis, base=base, head=head)


def t_critical(alpha: float, df: int) -> float:
    """t with P(|T| >= t) = alpha, by bisection on the exact tail (the series stays exact far out,
    where the looks' small alphas reach; a quantile expansion does not)."""
    low, high = 0.0, 1.0
    while t_two_sided(high, df) > alpha:
        high *= 2
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided(mid, df) > alpha else (low, mid)
    return high


class MetricLook(BaseModel):
    metric: str
    kind: str
    change: float | None
    ci_low: float | None  # the sequential interval, at this look's level
    ci_high: float | None
    state: Literal["better", "worse", "futile", "open"]  # futile: shown smaller than min_effect


class Look(BaseModel):
    round: int
    alpha: float  # spent at this look
    metrics: list[MetricLook]
    stop: Literal["decided", "futile", "max", ""]  # "" goes on

    def line(self, looks: int) -> str:
        parts = [f"{m.metric} {_fmt(m)} {m.state}" for m in self.metrics]
        return f"round {self.round}/{looks}: " + "; ".join(parts) + (f" -> stop ({self.stop})" if self.stop else "")


def _fmt(m: MetricLook) -> str:
    unit = " pts" if m.kind == "rate" else "%"
    if m.change is None:
        return "—"
    interval = f" [{m.ci_low:+.1f}, {m.ci_high:+.1f}]" if m.ci_low is not None else ""
    return f"{m.change:+.1f}{unit}{interval}"


def interval(m: Metric, alpha: float) -> tuple[float, float] | None:
    """The t interval of m's mean per-task difference at level 1 - alpha, in the units shown."""
    if m.sd is None or m.n_tasks < MIN_TASKS or m.change is None:
        return None
    mean = _raw(m)
    half = t_critical(alpha, m.n_tasks - 1) * m.sd / math.sqrt(m.n_tasks) if m.sd > 0 else 0.0
    return _shown(mean - half, m.kind), _shown(mean + half, m.kind)


def _raw(m: Metric) -> float:
    """The mean per-task difference behind m.change (paired._shown inverted)."""
    if m.kind == "rate":
        return m.change
    r = 1 + m.change / 100
    return 2 * (r - 1) / (r + 1)


def look(metrics: list[Metric], effects: dict[str, float], d: Design, k: int) -> Look:
    """Look k (1-based) at the primary metrics (`effects`: each one's min_effect in its unit)."""
    alpha = d.spent[k - 1]
    chosen = [m for m in metrics if m.metric in effects]
    tested = [m for m in chosen if m.p is not None and m.direction != "neutral"]
    rejected, _ = holm([m.p for m in tested], alpha)
    claims = {m.metric for m, r in zip(tested, rejected, strict=True) if r and abs(m.change) >= effects[m.metric]}
    out = []
    for m in chosen:
        shown, narrow = interval(m, alpha), interval(m, d.futility)
        if m.metric in claims:
            state = "better" if (m.change > 0) == (m.direction == "up") else "worse"
        elif narrow and -effects[m.metric] < narrow[0] and narrow[1] < effects[m.metric]:
            state = "futile"
        else:
            state = "open"
        out.append(MetricLook(metric=m.metric, kind=m.kind, change=m.change, ci_low=shown and shown[0], ci_high=shown and shown[1], state=state))
    states = {m.state for m in out}
    stop = ("" if "open" in states or not out else "futile" if states == {"futile"} else "decided")
    return Look(round=k, alpha=alpha, metrics=out, stop=stop or ("max" if k >= d.looks else ""))

