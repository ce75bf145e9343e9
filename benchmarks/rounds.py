"""Sequential rounds against the fixed design of the same maximum: for a few designs and truths,
the runs spent (mean and 90th percentile, as a share of the fixed design's), the false-claim rate
(family-wise over both primary metrics and every look), each interval's coverage, and how often
each primary metric was claimed (power, for a true change).

    python benchmarks/rounds.py [--n 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from rounds_sim import Truth, many  # noqa: E402

DESIGNS = {  # name: tasks, rounds at most, min_effect (match points, tokens %)
    "12 tasks × 5, ±20 pts / 25%": dict(tasks=12, looks=5, effects=(20.0, 25.0)),
    "40 tasks × 5, ±15 pts / 15%": dict(tasks=40, looks=5, effects=(15.0, 15.0)),
    "80 tasks × 5, ±10 pts / 10%": dict(tasks=80, looks=5, effects=(10.0, 10.0)),
    "40 tasks × 3, ±15 pts / 15%": dict(tasks=40, looks=3, effects=(15.0, 15.0)),
}
TRUTHS = {"no change": (0.0, 0.0), "+30 pts, -40% tokens": (30.0, -40.0), "at min_effect": None}


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--n", type=int, default=2000)
    args.add_argument("--seed", type=int, default=1)
    opts = args.parse_args()
    print(f"{'design':30} {'truth':22} {'runs mean':>9} {'p90':>5} {'false':>6} {'cover m/t':>10} {'claimed m/t':>12} {'fixed claimed':>13}")
    for name, shape in DESIGNS.items():
        for label, change in TRUTHS.items():
            match, tokens = change or (shape["effects"][0], -shape["effects"][1])
            started = time.perf_counter()
            found = many(Truth(**shape, match=match, tokens=tokens), opts.n, opts.seed, fixed=True)
            cover, claimed, fixed = found["coverage"], found["claimed"], found["fixed_claimed"]
            print(f"{name:30} {label:22} {found['runs']:9.0%} {found['p90']:5.0%} {found['false_claim']:6.1%} "
                  f"{cover['match']:5.1%}/{cover['tokens_new']:.1%} {claimed['match']:5.0%}/{claimed['tokens_new']:.0%} {fixed['match']:7.0%}/{fixed['tokens_new']:.0%}"
                  f"   ({time.perf_counter() - started:.0f}s)", flush=True)
    print("runs: the share of the fixed design's runs (every round) the sequential design spent; never more than 100%.\n"
          "claimed: how often each primary metric was called better/worse; fixed claimed: the same runs, every round, compare's fixed rule.")


if __name__ == "__main__":
    main()
