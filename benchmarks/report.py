"""The report at scale: build time, data size, time to first content and filter-switch time in
headless Chromium, for synthetic stores of 1k, 10k and 100k runs (4 models × 12 revisions × 3 tiers × 3 repeats).

    python benchmarks/report.py [--runs 1000 10000 100000] [--repeat 3]

Targets at 100k runs: build < 5 s, data.js < 15 MB, first content < 0.5 s (it never waits for
views.js, which only the Compare and Sessions views need, nor for echarts.min.js, loaded when a chart
is first on screen: here, the Coverage tab), every filter or toggle < 50 ms; each page
figure is min / median / max of --repeat page loads. Needs only the package and playwright installed.
Stores are generated once under ~/.cache/agent-eval-bench/report-<runs> and reused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from synthetic import sweep  # noqa: E402

from agent_eval.read import report  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Time from an input event until the page handled it, drew the next frame, and drew every chart
# that came into view (those are drawn from an IntersectionObserver callback, possibly a frame later).
SETTLE = """async (started) => {
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  const framed = performance.now();
  await new Promise((done) => setTimeout(done, 400));
  const painted = window.agentEval.paintedAt();
  return Math.max(framed, painted > started ? painted : 0) - started;
}"""
CLICK = """async (selector) => { const started = performance.now(); document.querySelector(selector).click(); return await (""" + SETTLE + """)(started); }"""


def store_for(runs: int) -> Path:
    store = Path.home() / ".cache" / "agent-eval-bench" / f"report-{runs}"
    if not (store / "suites").is_dir():
        shutil.rmtree(store, ignore_errors=True)
        started = time.perf_counter()
        sweep(store, runs)
        print(f"  generated {runs} runs in {time.perf_counter() - started:.0f}s", flush=True)
    return store


def browse(index: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(index.as_uri())
        tab.wait_for_selector("body[data-rendered]", timeout=120_000)
        content = tab.evaluate("performance.now()")
        tab.click("#filters details[data-axis=model] summary")
        timings = {
            "content_ms": content,
            "filter_ms": tab.evaluate(CLICK, "#filters input[data-axis=model][value='0']"),
            "shared_toggle_ms": tab.evaluate(CLICK, "#shared-revision"),
            "group_by_ms": tab.evaluate("""async () => { const started = performance.now(); const s = document.getElementById('by2');
                s.value = 'model'; s.dispatchEvent(new Event('change')); return await (""" + SETTLE + """)(started); }"""),
            "runs_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=runs]"),
            "coverage_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=coverage]"),
            "distributions_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=distributions]"),
            "compare_tab_ms": tab.evaluate("""async () => { const started = performance.now(); document.querySelector('#tabs a[data-view=compare]').click();
                await window.agentEval.viewsLoaded(); return await (""" + SETTLE + """)(started); }"""),  # views.js loaded here, the first time
        }
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    for runs in options.runs:
        store = store_for(runs)
        builds = []
        for _ in range(2):  # the first may read the store from disk, the second from the page cache
            started = time.perf_counter()
            built = report.build(store, store / "report")
            builds.append(time.perf_counter() - started)
        size = {name: (store / "report" / name).stat().st_size / 1e6 for name in ("data.js", "views.js")}
        details_mb = sum(p.stat().st_size for p in (store / "report" / "details").iterdir()) / 1e6
        loads = [browse(store / "report" / "index.html") for _ in range(options.repeat)]
        spread = lambda k: "/".join(f"{v:.0f}" for v in (min(t[k] for t in loads), statistics.median(t[k] for t in loads), max(t[k] for t in loads)))  # noqa: E731
        print(f"{built.size:>7} runs: build {builds[0]:.2f}s then {builds[1]:.2f}s, data.js {size['data.js']:.2f} MB (+ views.js {size['views.js']:.2f} MB "
              f"and {details_mb:.1f} MB of details on demand), ms min/median/max: " + ", ".join(f"{k} {spread(k)}" for k in loads[0])
              + f"; load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
