"""Sequential comparisons simulated against a known truth: each round one more paired run of every
task on both sides, drawn from a model whose true change is set, and the same look the round loop
makes (read/sequential.py on paired.measure). For tests/test_sequential.py and benchmarks/rounds.py."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from agent_eval.read import sequential
from agent_eval.read.claims import ALPHA
from agent_eval.read.stats import holm
from agent_eval.read.paired import _shown, measure


@dataclass
class Truth:
    """A design (tasks, rounds at most, min_effects) and the truth its runs are drawn from."""

    tasks: int = 20
    looks: int = 5
    match: float = 0.0  # true change of the match rate, in points
    tokens: float = 0.0  # true change of new tokens, in %
    effects: tuple[float, float] = (20.0, 25.0)  # min_effect: match (points), tokens_new (%)
    spread: float = 0.05  # sd of the change between tasks (match: rate; tokens: log ratio)
    noise: float = 0.5  # sd of a run's log tokens around its task's size

    def target(self) -> dict[str, float]:
        """What the interval estimates: the change in points; for tokens the mean over tasks of the
        relative difference of a task's expected sizes, shown as compare shows it (% change)."""
        draws = random.Random(0)
        ratio = 1 + self.tokens / 100
        mean = sum(_rel(ratio * math.exp(draws.gauss(0, self.spread))) for _ in range(20000)) / 20000
        return {"match": self.match, "tokens_new": _shown(mean, "cost")}


def _rel(r: float) -> float:
    return 2 * (r - 1) / (r + 1)


def one(truth: Truth, rng: random.Random, design: sequential.Design, fixed: bool = False) -> tuple[sequential.Look, set[str]]:
    """One sequential comparison: its last look, and the metrics the fixed design (every round, then
    compare's claims: Holm at claims.ALPHA, at least min_effect) would claim on the same runs (with `fixed`; else nothing, and no round past the stop is drawn)."""
    effects = {"match": truth.effects[0], "tokens_new": truth.effects[1]}
    tasks = []
    for _ in range(truth.tasks):
        p = rng.uniform(0.2, 0.8 - max(0.0, truth.match / 100))
        q = min(1.0, max(0.0, p + truth.match / 100 + rng.gauss(0, truth.spread)))
        size = math.exp(rng.gauss(math.log(5000), 0.8))
        tasks.append((p, q, size, size * (1 + truth.tokens / 100) * math.exp(rng.gauss(0, truth.spread))))
    sums, stopped = [[0.0, 0.0, 0.0, 0.0] for _ in tasks], None
    for k in range(1, design.looks + 1):
        for s, (p, q, bx, by) in zip(sums, tasks):
            s[0] += rng.random() < p
            s[1] += rng.random() < q
            s[2] += bx * math.exp(rng.gauss(-truth.noise**2 / 2, truth.noise))
            s[3] += by * math.exp(rng.gauss(-truth.noise**2 / 2, truth.noise))
        metrics = [
            measure("match", "rate", "up", {f"t{i}": (100 * s[0] / k, 100 * s[1] / k, k, k) for i, s in enumerate(sums)}),
            measure("tokens_new", "cost", "down", {f"t{i}": (s[2] / k, s[3] / k, k, k) for i, s in enumerate(sums)}),
        ]
        seen = sequential.look(metrics, effects, design, k) if not stopped else stopped
        stopped = seen if seen.stop else None
        if stopped and not fixed:
            return stopped, set()
    rejected, _ = holm([m.p for m in metrics], ALPHA)
    return stopped, {m.metric for m, r in zip(metrics, rejected) if r and abs(m.change) >= effects[m.metric]}


def many(truth: Truth, n: int, seed: int = 1, fixed: bool = False) -> dict:
    """n comparisons: the share with any false claim, each metric's coverage, the looks used."""
    rng, design, target = random.Random(seed), sequential.design(truth.looks), truth.target()
    false_claim, covered, used, claimed = 0, {"match": 0, "tokens_new": 0}, [], {"match": 0, "tokens_new": 0}
    by_fixed = {"match": 0, "tokens_new": 0}
    for _ in range(n):
        last, fixed_claims = one(truth, rng, design, fixed)
        for metric in fixed_claims:
            by_fixed[metric] += 1
        used.append(last.round)
        wrong = False
        for m in last.metrics:
            covered[m.metric] += m.ci_low is not None and m.ci_low <= target[m.metric] <= m.ci_high
            claimed[m.metric] += m.state in ("better", "worse")
            wrong |= m.state in ("better", "worse") and ((m.change > 0) != (target[m.metric] > 0) or target[m.metric] == 0)
        false_claim += wrong
    used.sort()
    return {"false_claim": false_claim / n, "coverage": {k: v / n for k, v in covered.items()},
            "claimed": {k: v / n for k, v in claimed.items()}, "fixed_claimed": {k: v / n for k, v in by_fixed.items()}, "runs": sum(used) / n / truth.looks,
            "p90": used[int(0.9 * (n - 1))] / truth.looks, "most": used[-1]}
