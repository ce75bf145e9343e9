"""Where agents look, at scale: on a synthetic store of 100k runs whose results record what they read
(0-8 of 40 files each), `agent-eval reads` the first time (its cache, reads.npz, made from every
result.json), then warm (table, JSON, --base/--head), compare with its reading context, and the
report's reads.js; and, for a store written before reads were recorded, what deriving one run's
reads from its trace costs. Warm page cache (dropping it would disturb others on a shared machine).

    python benchmarks/reads.py [--runs 100000] [--repeat 3]

Target (issue 31): `reads` within compare's (< 1.5 s cold, < 0.3 s warm at 100k runs: issue 26).
The process is cold each time (a new Python); the page cache stays warm.
The store is generated once under ~/.cache/agent-eval-bench/reads-<runs>.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))  # this checkout's agent_eval, whatever is installed

import synthetic  # noqa: E402

from agent_eval.store.records import Read  # noqa: E402

# Bytecode cached as an installed package has it: a PYTHONDONTWRITEBYTECODE in the environment (some CI
# images set it) would have every run compile agent-eval from source, 40-60 ms of each figure.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
       "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
FILES = [("library", f"docs/page{k}.md") for k in range(12)] + [("installed", f"lib/mod{k}.py") for k in range(16)] + \
        [("skill", "SKILL.md"), ("skill", "reference.md")] + [("help", f"lib sub{k}") for k in range(8)] + [("inputs", "in.csv"), ("other", "/etc/hosts")]


def store_for(runs: int) -> Path:
    store = Path.home() / ".cache" / "agent-eval-bench" / f"reads-{runs}"
    if (store / "suites").is_dir():
        return store
    shutil.rmtree(store, ignore_errors=True)
    rng, made = random.Random(3), synthetic.result

    def with_reads(*args, **kwargs):
        res = made(*args, **kwargs)
        res.reads = [Read(where=w, path=p, turn=rng.randint(1, 10), lines=rng.randint(1, 300)) for w, p in rng.sample(FILES, rng.randint(0, 8))]
        return res

    synthetic.result = with_reads
    started = time.perf_counter()
    synthetic.sweep(store, runs)
    synthetic.result = made
    print(f"  generated {runs} runs in {time.perf_counter() - started:.0f}s", flush=True)
    return store


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agent_eval", *args], check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    store = store_for(options.runs)
    print(f"store: {store} · load average {os.getloadavg()[0]:.1f} · min / median / max of {options.repeat}")
    for name in ("index.sqlite", "reads.npz"):
        (store / name).unlink(missing_ok=True)
    print(f"  index, made from nothing: {timed('results', str(store), '-f', 'csv'):.2f} s (not this issue's: for scale)")
    print(f"  reads, first use (reads.npz made from every result.json): {timed('reads', str(store)):.2f} s")
    size = (store / "reads.npz").stat().st_size
    print(f"  reads.npz: {size / 1e6:.1f} MB for {options.runs} runs")
    cases = {"reads (table), warm": ["reads", str(store)], "reads --format json, warm": ["reads", str(store), "-f", "json"],
             "reads --base v5.2 --head v5.13, warm": ["reads", str(store), "--base", "v5.2", "--head", "v5.13"],
             "compare --base v5.2 --head v5.13 (with its reading context), warm": ["compare", str(store), "--base", "v5.2", "--head", "v5.13"],
             "Python + importing the CLI (--help), the floor": ["--help"]}
    for label, args in cases.items():
        print(f"  {label}: {spread([timed(*args) for _ in range(options.repeat)])}", flush=True)
    from agent_eval.read import reads, reads_table
    from agent_eval.store import columns

    cols = columns.read(store)
    cols = cols.take(cols.isin("sha", [synthetic.revision(2).sha, synthetic.revision(13).sha]))
    started = time.perf_counter()
    reads_table.context(cols, reads.of_runs(store, cols), "sha", synthetic.revision(2).sha, synthetic.revision(13).sha)
    print(f"  compare's reading context alone ({len(cols)} runs): {time.perf_counter() - started:.2f} s")
    inside(store)
    fixture = next((HERE.parent / "tests/fixtures/store-pi-0.73.1").glob("runs/*/*/skill/*/*"))
    started = time.perf_counter()
    for _ in range(200):
        reads.derive(str(fixture.parents[5]), fixture.relative_to(fixture.parents[5]).as_posix())
    print(f"  one old run's reads from its trace (a 3-turn pi session): {(time.perf_counter() - started) / 200 * 1000:.2f} ms")
    view(store)


def inside(store: Path) -> None:
    """Where `reads` spends its time in one process, imports done: the index's columns, the suites'
    order, the reads cache checked against the runs, the counting."""
    from agent_eval.read import reads, reads_table
    from agent_eval.store import columns
    from agent_eval.store.results import suite_order
    from agent_eval.store.store import read_plans

    def step(label, work):
        started = time.perf_counter()
        out = work()
        print(f"    {label}: {time.perf_counter() - started:.3f} s")
        return out

    cols = step("columns (index checked)", lambda: columns.read(store))
    order = step("the suites' order", lambda: suite_order(cols, read_plans(store, print)))
    found = step("reads.npz, checked against the runs", lambda: reads.of_runs(store, cols))
    step("counting (groups, every revision × tier)", lambda: reads_table.groups(cols.take(order), found))


def view(store: Path) -> None:
    """The report's view in Chromium: from the click to the heat table drawn (reads.js loaded and counted)."""
    from playwright.sync_api import sync_playwright

    from agent_eval.read import report

    out = Path(tempfile.mkdtemp(prefix="reads-report-"))
    started = time.perf_counter()
    report.build(store, out)
    print(f"  report build, reads.js included: {time.perf_counter() - started:.2f} s; reads.js {(out / 'reads.js').stat().st_size / 1e3:.0f} kB")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto((out / "index.html").as_uri())
        tab.wait_for_selector("body[data-rendered]", timeout=120_000)
        opened = tab.evaluate("""async () => { const started = performance.now(); document.querySelector('#tabs a[data-view=reads]').click();
            while (!document.querySelector('#reads-table td[data-file]')) await new Promise((ok) => setTimeout(ok, 5));
            return performance.now() - started; }""")
        tab.click("#filters details[data-axis=tier] summary")
        click = """async (value) => { const started = performance.now(); document.querySelector(`#filters input[data-axis=tier][value='${value}']`).click();
            await new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0))); return performance.now() - started; }"""
        filtered = [tab.evaluate(click, v) for v in (0, 0, 1, 1)]
        tab.click("#tabs a[data-view=runs]")
        plain = [tab.evaluate(click, v) for v in (0, 0, 1, 1)]
        print(f"  the view in Chromium: opened (reads.js loaded, table drawn) {opened:.0f} ms; a tier filter "
              f"{', '.join(f'{x:.0f}' for x in filtered)} ms (the Runs view's, for scale: {', '.join(f'{x:.0f}' for x in plain)} ms)")
        browser.close()
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
