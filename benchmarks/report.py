"""The report at scale: build time, data size, load-to-interactive and filter-switch time in headless
Chromium, for synthetic stores of 1k, 10k and 100k runs (4 models × 12 revisions × 3 tiers × 3 repeats).

    python benchmarks/report.py [--runs 1000 10000 100000]

Targets at 100k runs: build < 5 s, data < 15 MB, interactive < 1 s, every filter or toggle < 150 ms.
Stores are generated once under ~/.cache/agent-eval-bench/report-<runs> and reused.
"""

from __future__ import annotations

import argparse
import shutil
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
        interactive = tab.evaluate("performance.now()")
        tab.click("#filters details[data-axis=model] summary")
        timings = {
            "interactive_ms": interactive,
            "filter_ms": tab.evaluate(CLICK, "#filters input[data-axis=model][value='0']"),
            "shared_toggle_ms": tab.evaluate(CLICK, "#shared-revision"),
            "group_by_ms": tab.evaluate("""async () => { const started = performance.now(); const s = document.getElementById('by2');
                s.value = 'model'; s.dispatchEvent(new Event('change')); return await (""" + SETTLE + """)(started); }"""),
            "runs_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=runs]"),
            "coverage_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=coverage]"),
            "distributions_tab_ms": tab.evaluate(CLICK, "#tabs a[data-view=distributions]"),
        }
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10_000, 100_000])
    options = parser.parse_args()
    for runs in options.runs:
        store = store_for(runs)
        builds = []
        for _ in range(2):  # the first may read the store from disk, the second from the page cache
            started = time.perf_counter()
            built = report.build(store, store / "report")
            builds.append(time.perf_counter() - started)
        data_mb = (store / "report" / "data.js").stat().st_size / 1e6
        details_mb = sum(p.stat().st_size for p in (store / "report" / "details").iterdir()) / 1e6
        t = browse(store / "report" / "index.html")
        print(f"{built.size:>7} runs: build {builds[0]:.2f}s then {builds[1]:.2f}s, data.js {data_mb:.2f} MB (+ {details_mb:.1f} MB of details on demand), "
              + ", ".join(f"{k} {v:.0f}" for k, v in t.items()), flush=True)


if __name__ == "__main__":
    main()
