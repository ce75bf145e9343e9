"""The report: aggregation against hand-computed numbers, and the built site in real Chromium,
whose numbers must equal the aggregation's, filters and toggles included."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from agent_eval.read import report
from synthetic import plan, result, revision, write

A, B = revision(2), revision(10)  # v5.2 and v5.10: the suite's order, not the string order


def hand_made() -> tuple[list[dict], list[dict]]:
    results = [
        # model m1: tasks t1 (twice), t2, and a behaviour-only task
        result("m1", A, "t1", "bare", 0, wall=10, tokens=(100, 10, 5), markers=("cli",)),
        result("m1", A, "t1", "bare", 1, wall=30, tokens=(300, 30, 15), matched=False),
        result("m1", A, "t2", "bare", 0, wall=20, tokens=(200, 20, 10), markers=("cli", "skill-read")),
        result("m1", A, "look", "bare", 0, wall=40, matched=None, expected=None),
        result("m1", B, "t1", "bare", 0, wall=5, status="silent_failure", matched=False, tokens=(50, 0, 0)),
        result("m1", B, "t2", "bare", 0, wall=7, status="timeout", matched=False),
        # model m2 ran only t1: uneven coverage
        result("m2", A, "t1", "bare", 0, wall=12, tokens=(120, 0, 6)),
        result("m2", A, "t1", "bare", 1, wall=14, status="setup_error", matched=None, tokens=(0, 0, 0)),
    ]
    return [r.model_dump(mode="json") for r in results], [plan("s", ["m1", "m2"], [A, B], ["t1", "t2", "look"], ["bare"], 2)]


@pytest.fixture
def t() -> report.Table:
    return report.table(*hand_made())


def test_revisions_keep_the_suites_order_and_every_marker_of_the_profile_is_listed(t):
    assert [r["name"] for r in t.dims["revision"]] == ["v5.2", "v5.10"]
    assert [m["name"] for m in t.dims["marker"]] == ["cli", "python-api", "skill-read"]  # python-api never fired


def test_summary_by_model_by_hand(t):
    groups = {t.dims["model"][k[0]]["id"]: s for k, s in report.aggregate(t, report.select(t), ["model"]).items()}
    m1, m2 = groups["m1"], groups["m2"]
    # m1 scored runs: t1 r0 (hit), t1 r1 (miss), t2@A (hit), t2@B timeout (miss); silent failure and behaviour-only excluded
    assert (m1["runs"], m1["scored"], m1["match"]) == (6, 4, 50.0)
    assert m1["wall"] == 15.0  # median of 10, 30, 20, 40, 5, 7
    assert m1["new"] == 100.0 and m1["generated"] == 12.5  # medians of (100,300,200,100,50,100) and (5,15,10,20,0,20)
    assert (m1["errors"], m1["silent"]) == (16.7, 16.7)  # one timeout, one silent failure, out of 6
    assert m1["markers"] == {0: 33.3, 1: 0.0, 2: 16.7}
    # m2: the setup error is the harness's failure: out of match % and medians, but counted as an error run
    assert (m2["runs"], m2["scored"], m2["match"], m2["wall"], m2["errors"]) == (2, 1, 100.0, 12.0, 50.0)


def test_shared_tasks_only_restricts_every_aggregate(t):
    shared = report.select(t, shared=["model"])  # only t1 was run by both models
    assert {t.dims["task"][t.cols["task"][i]]["id"] for i in shared} == {"t1"}
    groups = {t.dims["model"][k[0]]["id"]: s for k, s in report.aggregate(t, shared, ["model"]).items()}
    assert (groups["m1"]["runs"], groups["m1"]["match"]) == (3, 50.0)
    across_revisions = report.select(t, shared=["revision"])  # 'look' ran only at v5.2
    assert {t.dims["task"][t.cols["task"][i]]["id"] for i in across_revisions} == {"t1", "t2"}
    m1_only = report.select(t, filters={"model": {0}}, shared=["model"])
    assert len(m1_only) == 6  # one model: nothing to compare, nothing dropped


def test_coverage_targets_come_from_the_plans(t):
    assert t.meta["expected"][f"m1|{A.sha}|t1|bare"] == 2
    assert len(t.meta["expected"]) == 2 * 2 * 3


# --- the built site, in Chromium ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def site(tmp_path) -> tuple[Path, report.Table]:
    store = write(tmp_path / "store", *hand_made())
    built = report.build(store, store / "report")
    return store / "report", built


def test_build_writes_a_self_contained_site(site):
    out, built = site
    assert {p.name for p in out.iterdir()} == {"index.html", *report.SCRIPTS, "style.css", "data.js", "views.js", "echarts.min.js", "details", "reads.js"}
    assert (out / "echarts.min.js").stat().st_size > 500_000  # the real library, shipped: no CDN at view time
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert (out / "details" / "000-0000.js").read_text().startswith('window.reportDetails("000-0000",')


@pytest.fixture
def page(site):
    assert CHROMIUM, "Chromium is not installed: scripts/test.sh installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto((site[0] / "index.html").as_uri() + "#by=model")
        tab.wait_for_selector("body[data-rendered]")
        yield tab, site[1], errors
        browser.close()


def cells(tab, selector: str) -> list[list[str]]:
    return tab.eval_on_selector_all(selector + " tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")


def expected_rows(t: report.Table, rows: list[int]) -> dict[str, list[str]]:
    def f(v, d=1):
        return "—" if v is None else f"{v:,.{d}f}"
    out = {}
    for key, s in report.aggregate(t, rows, ["model"]).items():
        out[t.dims["model"][key[0]]["id"]] = [str(s["runs"]), f(s["match"]), f(s["wall"]), f(s["new"], 0), f(s["errors"]), f(s["silent"])]
    return out


def shown(tab) -> dict[str, list[str]]:
    return {row[0]: [row[1], row[2], row[3], row[4], row[9], row[10]] for row in cells(tab, "#summary")}


def test_page_numbers_equal_the_aggregation_through_filters_and_toggles(page, tmp_path):
    tab, t, errors = page
    assert shown(tab) == expected_rows(t, report.select(t))
    tab.check("#shared-model")
    tab.wait_for_function("document.body.dataset.rendered === '2'")
    assert shown(tab) == expected_rows(t, report.select(t, shared=["model"]))
    assert "shared=model" in tab.url

    tab.click("#filters details[data-axis=revision] summary")
    tab.uncheck("#filters input[data-axis=revision][value='1']")
    tab.wait_for_function("document.body.dataset.rendered === '3'")
    assert shown(tab) == expected_rows(t, report.select(t, filters={"revision": {0}}, shared=["model"]))
    assert tab.text_content("#count") == f"{len(report.select(t, filters={'revision': {0}}, shared=['model']))} of 8 runs"

    linked = tab.url  # the state lives in the URL: opening it again shows the same view
    tab.goto("about:blank")
    tab.goto(linked)
    tab.wait_for_selector("body[data-rendered]")
    assert shown(tab) == expected_rows(t, report.select(t, filters={"revision": {0}}, shared=["model"]))
    assert tab.is_checked("#shared-model") and not tab.is_checked("#filters input[data-axis=revision][value='1']")
    os.makedirs("test-artifacts", exist_ok=True)
    tab.screenshot(path="test-artifacts/report-overview.png", full_page=True)
    assert errors == []


def test_runs_open_their_details_and_trace_and_coverage_shows_gaps(page):
    tab, t, errors = page
    tab.click("#tabs a[data-view=runs]")
    tab.wait_for_selector("#runs tbody tr")
    assert len(cells(tab, "#runs")) == 8
    tab.click("#runs tbody tr:nth-child(2)")
    tab.wait_for_selector("#run h3")
    text = tab.text_content("#run")
    assert "answer of t1" in text and "timeline (3 tool calls)" in text
    assert tab.eval_on_selector("#run li.error b", "b => b.textContent") == "bash"  # the failed step is highlighted
    trace = tab.get_attribute("#run a", "href")
    assert trace.startswith("../runs/") and trace.endswith("/trace.jsonl")

    tab.click("#tabs a[data-view=coverage]")
    drawn = "window.echarts?.getInstanceByDom(document.getElementById('chart-coverage'))?.getOption()?.series?.[0]?.data"
    tab.wait_for_function(f"({drawn} || []).length > 0")  # charts are drawn once on screen
    coverage = tab.evaluate(f"{drawn}.map(d => d.text)")
    assert sorted(coverage) == sorted(["2/2", "1/2", "1/2", "1/2", "0/2", "1/2", "0/2", "2/2", "0/2", "0/2", "0/2", "0/2"])
    os.makedirs("test-artifacts", exist_ok=True)
    tab.screenshot(path="test-artifacts/report-coverage.png", full_page=True)
    assert errors == []


def test_unknown_tokens_are_left_out_of_medians_not_counted_as_zero(tmp_path):
    known = [result("m1", A, "t1", "bare", r, tokens=(100 * (r + 1), 10, 5)) for r in range(2)]
    unknown = [result("m1", A, "t1", "bare", r).model_dump(mode="json") for r in (2, 3)]
    for r in unknown:
        r["tokens"] = None  # the provider reported no usage
    store = write(tmp_path / "store", [r.model_dump(mode="json") for r in known] + unknown, [plan("s", ["m1"], [A], ["t1"], ["bare"], 4)])
    built = report.build(store, store / "report")
    (summary,) = report.aggregate(built, report.select(built), ["model"]).values()
    assert (summary["runs"], summary["new"], summary["generated"]) == (4, 150.0, 5.0)  # of the two known, not of four
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page()
        errors = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto((store / "report" / "index.html").as_uri() + "#by=model")
        tab.wait_for_selector("body[data-rendered]")
        (row,) = cells(tab, "#summary")
        assert row[4] == "150" and row[6] == "5"  # new and generated tokens: the same medians as the aggregation
        tab.click("#tabs a[data-view=runs]")
        tab.wait_for_selector("#runs tbody tr")
        assert [r[10] for r in cells(tab, "#runs")].count("—") == 2  # unknown shows as unknown
        browser.close()
    assert errors == []
