"""plan-size against a known truth: the between- and within-task spread it reads from a pilot, and
the size it prescribes, which must find the planned change about 80% of the time."""

from __future__ import annotations

import math
import random
import statistics

from agent_eval.read import compare
from agent_eval.read.plan_size import plan_size
from agent_eval.store.results import COLUMNS
from agent_eval.suite.decision import Decision

DECISION = Decision(primary=["match", "tokens_new"], min_effect={"match": 10, "tokens_new": "20%"})
BETWEEN, NOISE = 0.15, 0.4  # sd of the true match change between tasks (rate); sd of a run's log tokens


def rows(rng: random.Random, n_tasks: int, repeats: int, shift: float = 0.10) -> list[dict]:
    out = []
    for t in range(n_tasks):
        p = rng.uniform(0.3, 0.7)
        q = min(1.0, max(0.0, p + rng.gauss(shift, BETWEEN)))
        size, twist = rng.gauss(8.0, 1.0), rng.gauss(0, 0.2)
        for sha, rate, log_size in (("a" * 40, p, size), ("b" * 40, q, size + twist)):
            for k in range(repeats):
                r = dict.fromkeys(COLUMNS)
                r.update(model="m", model_name="m", revision=sha[:2], ref=sha[:2], sha=sha, tier="bare", task=f"t{t:02d}", repeat=k,
                         status="ok", matched=rng.random() < rate, wall_seconds=10.0, turns=3, tool_calls=2, agent_version="1.6.0",
                         tokens_new=round(math.exp(log_size + rng.gauss(0, NOISE))), tokens_cached=0, tokens_generated=100, markers=[])
                out.append(r)
    return out


def test_the_spread_splits_into_its_between_and_within_task_parts():
    rng = random.Random(2)
    found = [{s.metric: s for s in plan_size(rows(rng, 40, 4), "a" * 8, "b" * 8, "revision", DECISION, {})} for _ in range(40)]
    rms = lambda metric, part: math.sqrt(statistics.fmean(getattr(f[metric], part) ** 2 for f in found))  # noqa: E731  (variances average, sds do not)
    assert abs(rms("match", "between") - 14.8) < 2  # points: the sd of q - p, clipped to [0, 1], by simulation
    assert abs(rms("match", "within") - 66.5) < 2  # √(p(1-p) + q(1-q)) on average, by simulation
    # Costs through the delta method, approximate: the twist's sd 0.2 as a relative difference, and
    # 0.57, the sd (× √4) of the relative difference of two means of 4 log-normal runs, by simulation.
    assert abs(rms("tokens_new", "between") - 0.2) < 0.05 and abs(rms("tokens_new", "within") - 0.57) < 0.06
    assert all(f["match"].tasks == 40 and f["match"].repeats == 4 for f in found)


def test_the_prescribed_size_finds_the_change_four_times_in_five():
    rng = random.Random(5)
    pilot = {s.metric: s for s in plan_size(rows(rng, 30, 3), "a" * 8, "b" * 8, "revision", DECISION, {})}
    n = pilot["match"].needed[2]
    assert pilot["match"].floor < n < pilot["match"].needed[1]  # repeats help, down to a floor only more tasks pass
    found = 0
    for _ in range(300):
        c = compare.compare(rows(rng, n, 2), "a" * 8, "b" * 8)
        m = next(x for x in c.metrics if x.metric == "match")
        found += m.ci_low > 0
    assert 0.68 <= found / 300 <= 0.92, (n, found)
    assert "match: to detect ±10 points at 80% power:" in pilot["match"].line() and "you have 30 tasks × 3" in pilot["match"].line()
