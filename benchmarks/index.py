"""The store index at scale: on a synthetic store of 100k runs, each reader from a cold page cache
(dropped before every run: `sync; echo 3 > /proc/sys/vm/drop_caches`, which needs root), the index
rebuilt from nothing, and the index update after one new result. Three runs of each: min/median/max
of the wall time, and the CPU time (user+system) of the same runs, which a busy machine inflates less.

    python benchmarks/index.py [--runs 100000] [--repeat 3]

Targets at 100k runs: report < 2 s cold, results --format json < 2 s cold, compare < 1 s cold
(the command, which reads only base's and head's rows; and index.rows(), every row), rebuild < 60 s,
one update < 50 ms. Every cold figure includes starting Python and importing agent-eval from a cold
disk, measured on its own as the floor.
The store is generated once under ~/.cache/agent-eval-bench/report-<runs> (shared with report.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # this checkout's agent_eval, whatever is installed

from report import store_for  # noqa: E402
from synthetic import result, revision  # noqa: E402

from agent_eval.store import index  # noqa: E402
from agent_eval.store.store import Store  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}


def drop_caches() -> bool:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def timed(command: list[str], cold: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    if cold and not drop_caches():
        print("  (could not drop the page cache: not root? these runs are warm)", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def line(name: str, runs: list[tuple[float, float]], unit: str = "s", scale: float = 1.0) -> None:
    walls, cpus = [w * scale for w, _ in runs], [c * scale for _, c in runs]
    f = (lambda v: f"{v:.0f}") if unit == "ms" else (lambda v: f"{v:.2f}")
    print(f"  {name:<34} wall min/median/max {f(min(walls))} / {f(statistics.median(walls))} / {f(max(walls))} {unit}"
          f"   cpu {f(min(cpus))} / {f(statistics.median(cpus))} / {f(max(cpus))} {unit}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    store = store_for(options.runs)
    cli = [sys.executable, "-m", "agent_eval"]
    python = [sys.executable, "-c"]
    n = options.repeat
    print(f"{options.runs} runs in {store}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)

    rebuild = []
    for _ in range(n):
        for name in (index.NAME, index.NAME + "-wal", index.NAME + "-shm"):
            (store / name).unlink(missing_ok=True)
        rebuild.append(timed([*python, f"from agent_eval.store import index; index.check({str(store)!r}).close()"], cold=True))
    line("index rebuilt from nothing (cold)", rebuild)
    size = sum((store / name).stat().st_size for name in (index.NAME, index.NAME + "-wal") if (store / name).exists())
    print(f"  index size: {size / 1e6:.1f} MB for {len(index.rows(store))} rows", flush=True)

    with tempfile.TemporaryDirectory() as out:
        line("report (cold)", [timed([*cli, "report", str(store), "--out", out], cold=True) for _ in range(n)])
    line("results --format json (cold)", [timed([*cli, "results", str(store), "--format", "json"], cold=True) for _ in range(n)])
    line("compare v5.2 -> v5.3, the command (cold)", [timed([*cli, "compare", str(store), "--base", "v5.2", "--head", "v5.3"], cold=True) for _ in range(n)])
    line("  its floor: Python and the imports (cold)", [timed([*python, "import agent_eval.cli.main, agent_eval.read.compare, agent_eval.read.compare_render, agent_eval.store.index"], cold=True) for _ in range(n)])
    line("index.rows(), every row (cold)", [timed([*python, f"from agent_eval.store import index; index.rows({str(store)!r})"], cold=True) for _ in range(n)])
    line("  of which the check (cold)", [timed([*python, f"from agent_eval.store import index; index.check({str(store)!r}).close()"], cold=True) for _ in range(n)])
    line("reindex: every result.json (cold)", [timed([*cli, "reindex", str(store)], cold=True) for _ in range(n)])
    read_alone = f"from agent_eval.store import index; db = index.connect({str(store)!r}); index.select(db)"
    line("  the rows alone, no check (cold)", [timed([*python, read_alone], cold=True) for _ in range(n)])
    line("results --format json (warm)", [timed([*cli, "results", str(store), "--format", "json"], cold=False) for _ in range(n)])

    updates = []
    for k in range(n):  # as a run stores a result: the folder, result.json, then its row
        new = result("org/bench-model", revision(2), f"bench-{k}", "bare", 0)
        Store(store).start(new.cell)
        cpu, started = time.process_time(), time.perf_counter()
        Store(store).finish(new)
        updates.append((time.perf_counter() - started, time.process_time() - cpu))
    line("Store.finish + index update, 1 result", updates, unit="ms", scale=1000)
    shutil.rmtree(store / Path(new.cell.folder).parents[2])  # leave the store as it was
    index.check(store).close()
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
