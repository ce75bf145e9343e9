"""The report's "Where agents look" view in real Chromium: its data loads only when the view opens, the
shares and the matched/failed split are exact, the model filter holds, and unopened docs are listed."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import sync_playwright

from agent_eval.read import report
from synthetic import result, write
from test_reads import REVS, store
from test_report_views import CHROMIUM


@pytest.fixture
def built(tmp_path, monkeypatch):
    path = store(tmp_path)
    others = [result("org/n", REVS[1], f"t{k}", "clone", r, matched=False).model_dump(mode="json") for k in range(4) for r in range(3)]
    for res in others:
        res["reads"] = []
    write(path, others, [])
    profile = path / "suites/s/snapshot/profile/profile.yaml"
    profile.parent.mkdir(parents=True)
    profile.write_text("name: lib\nskill: {path: skills/lib}\n")
    cache = tmp_path / "cache"  # this machine's cache: v5.3's tree is in it, v5.2's is not
    tree = cache / "src" / REVS[1].sha
    for name in ("README.md", "docs/cli.md", "docs/guide.md", "skills/lib/SKILL.md", "lib/__init__.py"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("x\n")
    (cache / "echarts").symlink_to(Path(os.environ["AGENT_EVAL_CACHE"]) / "echarts")  # installed once for every test
    monkeypatch.setenv("AGENT_EVAL_CACHE", str(cache))
    report.build(path, path / "report")
    return path / "report"


def test_the_view_loads_its_data_when_opened_and_counts_exactly(built):
    assert b"reportReads" not in (built / "data.js").read_bytes() and (built / "reads.js").is_file()
    data = orjson.loads((built / "reads.js").read_bytes().removeprefix(b"window.reportReads(").removesuffix(b");\n"))
    assert data["unopened"]["1"] == ["library: README.md", "library: docs/guide.md", "skill: SKILL.md"] and data["unopened"]["0"] is None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
        page.goto((built / "index.html").as_uri())
        page.wait_for_selector("body[data-rendered]")
        loaded = "[...document.scripts].map((s) => s.getAttribute('src'))"  # file:// pages keep no resource timings
        assert "reads.js" not in page.evaluate(loaded)  # the first content never waits for this view's data
        page.click("#tabs a[data-view=reads]")
        page.wait_for_selector("#reads-table td[data-file]")
        assert "reads.js" in page.evaluate(loaded)

        def cells() -> dict[tuple[str, str], tuple[str, str]]:
            heads = page.eval_on_selector_all("#reads-table thead th", "ths => ths.map(t => t.textContent)")[1:]
            rows = page.eval_on_selector_all("#reads-table tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => [c.textContent, c.title]))")
            return {(row[0][0], head): tuple(cell) for row in rows for head, cell in zip(heads, row[1:], strict=True)}

        shown = cells()
        assert shown["library: README.md", "v5.2 · 12"] == ("100%", "12/12 runs (100%) · matched 4/4 · failed 8/8")
        assert shown["library: docs/cli.md", "v5.3 · 24"] == ("38%", "9/24 runs (38%) · matched 9/9 · failed 0/15")
        order = page.eval_on_selector_all("#reads-table tbody tr", "trs => trs.map(tr => [tr.cells[0].textContent, tr.className])")
        assert order[-1] == ["help: wfl top", "muted"] and all(c == "" for _, c in order[:-1])  # read by fewer runs than a cell's repeats: last, not ranked
        page.click("#filters details[data-axis=model] summary")
        page.uncheck("#filters input[data-axis=model][value='1']")  # org/n out: only org/m's runs
        page.wait_for_function("document.querySelector('#reads-table thead').textContent.includes('v5.3 · 12')")
        assert cells()["library: docs/cli.md", "v5.3 · 12"] == ("75%", "9/12 runs (75%) · matched 9/9 · failed 0/3")
        unopened = page.eval_on_selector_all("#reads-unopened p", "ps => ps.map(p => p.textContent)")
        assert unopened == ["v5.2 — not known here (the revision's tree is not in this machine's cache)",
                            "v5.3 — 3: library: README.md, library: docs/guide.md, skill: SKILL.md"]
        assert errors == []
        browser.close()
