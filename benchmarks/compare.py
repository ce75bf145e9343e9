"""compare at scale: wall time and peak memory on a synthetic 100k-run store (4 models × 12 revisions ×
3 tiers × 3 repeats × tasks, tests/synthetic.py `sweep`), for reading the store (its index's columns,
store/columns.py) and for the comparison alone, from columns already in memory.

    python benchmarks/compare.py [--runs 100000]

Target: compare < 2 s at 100k runs. Also: the pairs the report's Compare view embeds. The store is generated once under ~/.cache/agent-eval-bench
(shared with benchmarks/report.py) and reused.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from report import store_for  # noqa: E402

import orjson  # noqa: E402

from agent_eval.read import compare, compare_render  # noqa: E402
from agent_eval.store.store import read_plans  # noqa: E402


def measure(step):
    """(result, seconds, peak MB of the Python heap): timed on its own, then run again under
    tracemalloc for the memory (tracing slows Python down several times)."""
    started = time.perf_counter()
    out = step()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    store = store_for(args.runs)
    rows, scan_s, scan_mb = measure(lambda: compare.load_rows(store))
    print(f"{len(rows)} runs: read as columns {scan_s:.2f} s, peak {scan_mb:.0f} MB (Python heap)")
    for label, kwargs in (("v5.2 → v5.13, every model and tier", {}), ("one model, one tier", {"models": ["org/large-model"], "tiers": ["skill"]})):
        result, s, mb = measure(lambda: compare.compare(rows, "v5.2", "v5.13", directions=compare.marker_directions(store), **kwargs))
        print(f"compare only ({label}): {s:.2f} s, peak {mb:.0f} MB, {result.n_tasks} tasks, {result.n_runs_base}+{result.n_runs_head} runs paired")
    print(f"target: compare < 2 s; end to end (scan + compare) {scan_s + s:.2f} s")
    pairs, s, mb = measure(lambda: compare_render.for_report(read_plans(store, print), rows))
    print(f"the report's Compare view: {len(pairs)} pairs in {s:.2f} s, peak {mb:.0f} MB, {len(orjson.dumps(pairs)) / 1e6:.2f} MB of data")


if __name__ == "__main__":
    main()
