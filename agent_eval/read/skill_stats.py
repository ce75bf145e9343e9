"""The intervals of a Skill's numbers, clustered by case or query: compare's statistics (stats.py's
Student t, paired.py's paired differences) applied to one arm's rate, plus the two things compare
has no use for — an exact bound when every cluster agrees, and precision, a ratio of two rates.

A cluster is a case (for expectation pass rates) or a query (for activation): its repeats are
averaged first, so a cluster weighs the same whatever its repeats, and the interval is over clusters
(n - 1 degrees of freedom): runs of one case are correlated, and counting them as independent
would make the interval too narrow (Miller 2024, "Adding Error Bars to Evals").
"""

from __future__ import annotations

import math
import statistics

from .paired import MIN_TASKS, Metric, measure
from .stats import t_quantile

THRESHOLD = 0.5  # the guide's: a query passes at a trigger rate >= 0.5 (should trigger), < 0.5 (should not)


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high) of per-cluster rates in [0, 1]: the mean over clusters and a Student t
    interval over them, clipped to [0, 1]. Fewer than MIN_TASKS clusters: no interval (compare's rule:
    a t interval on so few is too unstable to print). Every cluster agreeing: see agreeing()."""
    n = len(values)
    if not n:
        return None, None, None
    mean = statistics.fmean(values)
    if n < MIN_TASKS:
        return mean, None, None
    tail = (1 - level) / 2
    sd = statistics.stdev(values)
    if sd == 0:
        return mean, *agreeing(mean, n, tail, 0.0, 1.0)
    half = t_quantile(1 - tail, n - 1) * sd / math.sqrt(n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def agreeing(value: float, n: int, tail: float, lowest: float, highest: float) -> tuple[float, float]:
    """The interval when all n clusters gave the same value: a t interval would have no width and
    claim certainty from a handful of clusters. The share of all clusters that give this value is at
    least b = tail^(1/n) (the exact Clopper-Pearson bound of n successes in n, each cluster counted
    once); the others can give anything from `lowest` to `highest`, so the mean lies in
    [b·value + (1-b)·lowest, b·value + (1-b)·highest]: 10 of 10 queries at 100% give [69%, 100%]."""
    b = tail ** (1 / n)
    return b * value + (1 - b) * lowest, b * value + (1 - b) * highest


def precision_ci(positive: list[float], negative: list[float]) -> tuple[float | None, float | None, float | None]:
    """(precision, low, high) from per-query trigger rates of should-trigger (`positive`) and
    should-not-trigger (`negative`) queries. Precision = a·R / (a·R + b·F), R and F the mean rates, a
    and b the query counts: the share of activations that were wanted, each query weighing the same.
    It rises with R and falls with F, and R and F come from different queries, so 97.5% intervals of
    each (mean_ci) hold both truths at once at least 95% of the time (Bonferroni), and then the true
    precision lies between P(R low, F high) and P(R high, F low): a conservative 95% interval."""
    a, b = len(positive), len(negative)
    if not a or not b:
        return None, None, None
    ratio = lambda r, f: a * r / (a * r + b * f) if a * r + b * f > 0 else None  # noqa: E731
    value = ratio(statistics.fmean(positive), statistics.fmean(negative))
    _, r_low, r_high = mean_ci(positive, 0.975)
    _, f_low, f_high = mean_ci(negative, 0.975)
    if value is None or r_low is None or f_low is None:
        return value, None, None
    low, high = ratio(r_low, f_high), ratio(r_high, f_low)
    return value, 0.0 if low is None else low, 1.0 if high is None else high


def delta(metric: str, direction: str, base: dict[str, list[float]], head: dict[str, list[float]]) -> Metric:
    """head − base of a rate, paired by cluster (case or query) over the clusters both arms ran: each
    cluster's mean over its repeats on each side, one difference per cluster, compare's Student t
    interval and p-value over them (paired.measure; no interval below MIN_TASKS clusters; when every
    cluster moved by the same amount, agreeing()'s interval over differences in [-1, 1])."""
    shared = [c for c in head if c in base and base[c] and head[c]]
    m = measure(metric, "rate", direction, {c: (statistics.fmean(base[c]), statistics.fmean(head[c]), len(base[c]), len(head[c]))
                                            for c in shared})
    if m.sd != 0 or m.ci_low is None:
        return m
    low, high = agreeing(m.change, m.n_tasks, 0.025, -1.0, 1.0)  # every cluster moved alike: no zero-width interval either
    return m.model_copy(update={"ci_low": low, "ci_high": high, "verdict": "higher" if low > 0 else "lower" if high < 0 else "no detectable change"})


def near_threshold(triggers: int, runs: int) -> bool:
    """Whether one run going the other way would flip the query's pass/fail at THRESHOLD: its rate
    is as close to the threshold as its repeats can say (with 3 repeats: 1/3 and 2/3)."""
    above = triggers / runs >= THRESHOLD
    return ((triggers - 1) / runs >= THRESHOLD) != above or ((triggers + 1) / runs >= THRESHOLD) != above
