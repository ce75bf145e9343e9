"""The store's readers at scale: on a synthetic store of 100k runs, every reader of issue 26's table
cold (the page cache dropped before each run: `sync; echo 3 > /proc/sys/vm/drop_caches`, which needs
root) and warm, the floor under them (Python's own start and agent-eval's imports, and what
`python -X importtime` says the compare command imports), the index rebuilt from nothing, one update,
and the sizes of the index and of its columnar cache. Each figure: min / median / max of --repeat
runs, wall and CPU time (user+system, which a busy machine inflates less), with the load average.

    python benchmarks/index.py [--runs 100000] [--repeat 3] [--skip-rebuild] [--stale-only]

Targets at 100k runs (issue 26): report < 2 s cold, < 1 s warm; compare (the command) < 1.5 s cold,
< 0.3 s warm; results --format json < 2 s cold, < 1 s warm; Python + imports < 0.5 s; the index's
check < 0.5 s; rebuild < 60 s; one update < 50 ms. Needs only the package installed (no pytest).
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

# Bytecode cached as an installed package has it: a PYTHONDONTWRITEBYTECODE in the environment (some CI
# images set it) would have every run compile agent-eval from source, 40-60 ms of each figure.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
       "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}


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
    print(f"  {name:<44} wall {f(min(walls))} / {f(statistics.median(walls))} / {f(max(walls))} {unit}"
          f"   cpu {f(min(cpus))} / {f(statistics.median(cpus))} / {f(max(cpus))} {unit}   load {os.getloadavg()[0]:.1f}", flush=True)


def both(name: str, command: list[str], n: int) -> None:
    """A reader cold, then warm (the page cache left as the cold runs filled it)."""
    line(f"{name} (cold)", [timed(command, cold=True) for _ in range(n)])
    timed(command, cold=False)
    line(f"{name} (warm)", [timed(command, cold=False) for _ in range(n)])


def imported(command: list[str]) -> list[tuple[int, str]]:
    """(microseconds, module) of the top-level imports a command makes, by `python -X importtime`."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], env=ENV, capture_output=True, text=True)
    found = []
    for text in done.stderr.splitlines():
        parts = text.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):  # not nested in another import
            found.append((int(parts[1]), parts[2].strip()))
    return sorted(found, reverse=True)


def stale_count(store: Path, n: int) -> None:
    """Planning's count of done results graded under an older grading (plan.stale), every run of
    the store done, cold then warm, in this process (what `run` pays on top of finding them done)."""
    from types import SimpleNamespace

    from agent_eval.run import plan

    rows = index.rows(store)
    cells = [SimpleNamespace(key=r["key"], folder=r["folder"], task=SimpleNamespace(id=r["task"])) for r in rows]
    tasks = [SimpleNamespace(id=t, grading_hash="now", judge=None) for t in {r["task"] for r in rows}]
    for cold in (True, False):
        runs = []
        for _ in range(n):
            if cold and not drop_caches():
                print("  (could not drop the page cache: not root? these runs are warm)", flush=True)
            cpu, started = time.process_time(), time.perf_counter()
            plan.stale(Store(store), [(c, c) for c in cells], SimpleNamespace(markers=[]), tasks, set(), {})
            runs.append((time.perf_counter() - started, time.process_time() - cpu))
        line(f"plan.stale over {len(cells)} done results ({'cold' if cold else 'warm'})", runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-rebuild", action="store_true", help="leave out the three rebuilds from nothing (minutes at 100k)")
    parser.add_argument("--stale-only", action="store_true", help="only planning's count of results graded under an older grading")
    options = parser.parse_args()
    store = store_for(options.runs)
    cli = [sys.executable, "-m", "agent_eval"]
    python = [sys.executable, "-c"]
    n = options.repeat
    print(f"{options.runs} runs in {store}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"min / median / max of {n}", flush=True)
    index.check(store).close()
    stale_count(store, n)
    if options.stale_only:
        return

    if not options.skip_rebuild:
        rebuild = []
        for _ in range(n):
            index.remove(store)
            rebuild.append(timed([*python, f"from agent_eval.store import index; index.check({str(store)!r}).close()"], cold=True))
        line("index rebuilt from nothing (cold)", rebuild)
    timed([*python, f"from agent_eval.store import columns; columns.read({str(store)!r})"], cold=False)  # the columns cached
    size = sum((store / name).stat().st_size for name in (index.NAME, index.NAME + "-wal") if (store / name).exists())
    print(f"  index size: {size / 1e6:.1f} MB for {len(index.rows(store))} rows, {size / len(index.rows(store)) / 1e3:.2f} KB a row; "
          f"its columns ({index.COLUMNS_NAME}): {(store / index.COLUMNS_NAME).stat().st_size / 1e6:.1f} MB", flush=True)

    with tempfile.TemporaryDirectory() as out:
        both("report", [*cli, "report", str(store), "--out", out], n)
    compare = [*cli, "compare", str(store), "--base", "v5.2", "--head", "v5.3"]
    both("compare v5.2 -> v5.3, the command", compare, n)
    both("results --format json", [*cli, "results", str(store), "--format", "json"], n)
    both("floor: Python alone", [*python, "pass"], n)
    both("floor: Python + compare's imports", [*python, "import agent_eval.cli.main, agent_eval.read.compare, agent_eval.read.decide, "
                                               "agent_eval.read.compare_render, agent_eval.read.compare_envs, agent_eval.store.columns"], n)
    top = imported(compare)
    print(f"  compare imports (python -X importtime, warm): {sum(t for t, _ in top) / 1e3:.0f} ms in all; the most: "
          + ", ".join(f"{m} {t / 1e3:.0f} ms" for t, m in top[:8]), flush=True)
    both("index.rows(), every row", [*python, f"from agent_eval.store import index; index.rows({str(store)!r})"], n)
    both("  the check alone", [*python, f"from agent_eval.store import index; index.check({str(store)!r}).close()"], n)
    both("columns.read(), every run as columns", [*python, f"from agent_eval.store import columns; columns.read({str(store)!r})"], n)
    line("reindex: every result.json (cold)", [timed([*cli, "reindex", str(store)], cold=True) for _ in range(n)])

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
