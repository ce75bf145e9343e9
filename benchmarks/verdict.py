"""compare's verdict against a known truth, at scale: simulated stores (tests/synthetic.py `simulated`)
with no true change — 1 model and 3 models; 8 and 20 tasks; 1 and 3 repeats; plain, heavy-tailed with
two tiers and silent failures, and with tasks that need no tool call — and with a known change, for power.

    python benchmarks/verdict.py [--stores 1200] [--power 400] [--seed 1]

Prints: the rate at which the headline claims anything, and at which the examples/ci gate fails,
under no true change (with 95% Wilson intervals); each metric's coverage of the true zero and its
false-verdict rate, by design; power for +20 points of match and -30% new tokens at 8 and 20 tasks.
Run with PYTHONPATH pointing at an older checkout to measure it "before" (its per-metric verdicts,
no headline family).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from synthetic import simulated  # noqa: E402

from agent_eval.read import compare, compare_render  # noqa: E402

try:
    from agent_eval.read import decide  # noqa: E402
except ImportError:  # an older checkout: every metric's verdict counted, as its PR comment did
    decide = None

GATE = ["match:-5", "errors:+5", "tokens_new:+20%", "turns:+20%"]  # examples/ci/agent-eval.yml
METRICS = ["match", "errors", "silent_failures", "tokens_new", "tokens_generated", "tool_calls", "turns"]
SHAPES = {"plain": dict(tiers=("bare",)), "heavy+silent": dict(tiers=("bare", "skill"), size_sd=2.0, interaction=0.8, silent=0.1),
          "zeros": dict(tiers=("bare",), no_tools=0.3, size_sd=1.5)}


def wilson(hits: int, n: int) -> str:
    z, p = 1.96, hits / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{100 * p:4.1f}% [{100 * (centre - half):4.1f}, {100 * (centre + half):4.1f}] (n={n})"


def judged(rows: list[dict]) -> tuple[compare.Comparison, list]:
    """(the comparison over all models, the claims its PR comment makes)."""
    if decide:
        c, _ = decide.verdict(rows, "v1", "v2")
        return c, c.headline
    c = compare.compare(rows, "v1", "v2")
    per = compare.per_model(rows, "v1", "v2")
    slices = [c] + (list(per.values()) if len(per) > 1 else [])
    return c, [(m.metric, m.verdict) for s in slices for m in s.metrics if m.verdict in ("better", "worse")]


def null(stores: int, seed: int) -> None:
    rng = random.Random(seed)
    designs = [(models, n, r, shape) for models in (1, 3) for n in (8, 20) for r in (1, 3) for shape in SHAPES]
    tally: dict = {}
    for i in range(stores):
        models, n, r, shape = designs[i % len(designs)]
        rows = simulated(rng, models=[f"m{k}" for k in range(models)], n_tasks=n, repeats=r, **SHAPES[shape])
        c, claims = judged(rows)
        gate = bool(compare_render.fired(c, [compare_render.parse_rule(x, [m.metric for m in c.metrics]) for x in GATE])[0])
        for key in (("models", models), ("tasks×repeats", f"{n}×{r}"), ("shape", shape), ("all", "")):
            t = tally.setdefault(key, {"n": 0, "claim": 0, "gate": 0})
            t["n"], t["claim"], t["gate"] = t["n"] + 1, t["claim"] + bool(claims), t["gate"] + gate
        for m in c.metrics:
            if m.metric in METRICS and m.ci_low is not None:
                t = tally.setdefault(("metric", shape, m.metric), {"n": 0, "cover": 0, "verdict": 0})
                t["n"] += 1
                t["cover"] += m.ci_low <= 0 <= m.ci_high
                t["verdict"] += m.verdict not in ("no detectable change", "unreliable", "no data")
    print(f"no true change: {stores} stores, designs cycled over models {{1, 3}} × tasks {{8, 20}} × repeats {{1, 3}} × {list(SHAPES)}")
    for key, t in tally.items():
        if key[0] != "metric":
            print(f"  {key[0]:>13} {key[1]!s:<13} headline claims {wilson(t['claim'], t['n'])}   gate fails {wilson(t['gate'], t['n'])}")
    print("  per metric (interval covers 0 / verdict other than 'no detectable change'):")
    for key, t in sorted((k, v) for k, v in tally.items() if k[0] == "metric"):
        if t["n"]:
            print(f"    {key[1]:<13} {key[2]:<17} coverage {100 * t['cover'] / t['n']:5.1f}%   false verdict {wilson(t['verdict'], t['n'])}")


def power(stores: int, seed: int) -> None:
    rng = random.Random(seed)
    print(f"power (1 model, 1 tier, 3 repeats; {stores} stores each): share of PR comments claiming the change")
    for label, kwargs, name in (("+20 points match", dict(match_shift=20, p_range=(0.2, 0.6)), "match"),
                                ("-30% new tokens", dict(token_factor=0.7), "tokens_new")):
        for n in (8, 20):
            hits = 0
            for _ in range(stores):
                c, claims = judged(simulated(rng, n_tasks=n, repeats=3, **kwargs))
                hits += any((x.metric if decide else x[0]) == name and (x.verdict if decide else x[1]) == "better" for x in claims)
            print(f"  {label:<17} {n:>2} tasks: {wilson(hits, stores)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=1200)
    parser.add_argument("--power", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    null(args.stores, args.seed)
    if args.power:
        power(args.power, args.seed + 1)
    print(f"({time.perf_counter() - started:.0f} s; {'after' if decide else 'before'}: {compare.__file__})")


if __name__ == "__main__":
    main()
