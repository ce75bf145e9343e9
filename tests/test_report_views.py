"""Every view of the built report in real Chromium: each opens and draws without a page or console
error, and axis labels are all there and on the canvas, whatever the length of the names."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from agent_eval.read import report
from kit import CHROMIUM, chromium_page
from synthetic import plan, result, revision, write

MODELS = [
    "huggingface-organisation/Qwen2.5-Coder-32B-Instruct-GGUF-Q4_K_M-with-a-really-long-fine-tune-suffix-v2",
    "meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-V3-0324", "local/qwen2.5-coder-1.5b",
]
TASKS = ["checksum", "how-to-use-the-python-api-to-compute-a-checksum-of-a-file", "explore"]
TIERS = ["bare", "clone", "skill"]
VIEWS = {  # each view and the charts it draws
    "overview": ["chart-time", "chart-tokens", "chart-match", "chart-markers", "chart-tasks"],
    "distributions": ["dist-wall", "dist-new", "dist-cached", "dist-generated"],
    "coverage": ["chart-coverage"],
    "runs": [],
    "compare": ["cmp-rates", "cmp-costs"],
    "sessions": [],  # tables only; this store has none, and says so
}
# Every text zrender drew on a chart's canvas, with its left and right edge in canvas pixels.
LABELS = """(id) => { const c = echarts.getInstanceByDom(document.getElementById(id));
  return c.getZr().storage.getDisplayList().filter((e) => e.style && e.style.text).map((e) => {
    const r = e.getBoundingRect().clone(); if (e.transform) r.applyTransform(e.transform);
    return { text: e.style.text, left: r.x, right: r.x + r.width, width: c.getWidth() }; }); }"""
PLOT = "(id) => { const r = echarts.getInstanceByDom(document.getElementById(id)).getModel().getComponent('grid').coordinateSystem.getRect(); return [r.x, r.x + r.width]; }"


@pytest.fixture(scope="module")
def tab(tmp_path_factory):
    assert CHROMIUM, "Chromium is not installed: scripts/test.sh installs Debian's chromium"
    revs = [revision(2), revision(3)]
    results = [result(m, r, t, tier, 0, matched=(k + j) % 3 > 0, markers=("cli",) if j else ()).model_dump(mode="json")
               for k, m in enumerate(MODELS) for j, r in enumerate(revs) for t in TASKS for tier in TIERS]
    store = write(tmp_path_factory.mktemp("views") / "store", results, [plan("s", MODELS, revs, TASKS, TIERS, 1)])
    report.build(store, store / "report")
    with sync_playwright() as p:
        browser, page = chromium_page(p)
        page.goto((store / "report" / "index.html").as_uri())
        page.wait_for_selector("body[data-rendered]")
        yield page
        browser.close()


def open_view(tab, view: str) -> None:
    tab.click(f"#tabs a[data-view={view}]")
    for chart in VIEWS[view]:
        tab.locator(f"#{chart}").scroll_into_view_if_needed()  # charts are drawn once on screen
        tab.wait_for_function(f"window.echarts?.getInstanceByDom(document.getElementById('{chart}'))?.getOption()?.series?.length > 0")


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_view_opens_and_draws_without_a_page_or_console_error(tab, view):
    tab.errors.clear()
    open_view(tab, view)
    assert tab.is_visible(f"#view-{view}")
    tab.wait_for_timeout(200)  # a formatter throws while the chart paints, after setOption returns
    assert tab.errors == []


def test_the_match_chart_labels_every_model(tab):
    open_view(tab, "overview")
    labels = [label["text"] for label in tab.evaluate(LABELS, "chart-match")]
    for model in MODELS:  # shortened with an ellipsis in the middle when long, never left out
        head, _, tail = max(labels, key=lambda text: shared_ends(text, model)).partition("…")
        assert model.startswith(head) and model.endswith(tail) and len(head) >= 5, (model, labels)


def shared_ends(text: str, name: str) -> int:
    head, _, tail = text.partition("…")
    return len(head) + len(tail) if name.startswith(head) and name.endswith(tail) else -1


@pytest.mark.parametrize("view, chart", [("coverage", "chart-coverage"), ("overview", "chart-markers"), ("overview", "chart-tasks")])
def test_axis_labels_and_the_plot_stay_on_the_canvas(tab, view, chart):
    open_view(tab, view)
    labels = tab.evaluate(LABELS, chart)
    off = [label["text"] for label in labels if label["left"] < 0 or label["right"] > label["width"] + 1]
    assert off == []
    left, right = tab.evaluate(PLOT, chart)
    assert 0 <= left and right <= labels[0]["width"] and right - left > 0.4 * labels[0]["width"]  # the heatmap keeps room



def test_the_compare_view_shows_the_cli_numbers_for_every_pair(tab):
    from agent_eval.read import compare, compare_render

    store = Path(tab.url.split("#")[0].removeprefix("file://")).parent.parent
    rows = compare.load_rows(store)
    open_view(tab, "compare")
    pairs = tab.eval_on_selector_all("#cmp-pair option", "options => options.map(o => [o.parentElement.label, o.textContent])")
    assert [axis for axis, _ in pairs] == ["revisions"] + ["models"] * 3 + ["tiers"] * 3  # 4 models: each against the first; 3 tiers: all pairs
    for k, (axis, label) in enumerate(pairs):
        tab.select_option("#cmp-pair", str(k))
        tab.wait_for_function(f"document.querySelector('#cmp-pair').value === '{k}' && location.hash.includes('pair={k}') || {k} === 0")
        base, head = label.split(" → ")
        expected = compare.compare(rows, base.split(" (")[0], head.split(" (")[0], axis.removesuffix("s"), directions=compare.marker_directions(store))
        shown = tab.eval_on_selector_all("#cmp-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        assert shown == compare_render.rows(expected)
        flips = tab.eval_on_selector_all("#cmp-flips li", "items => items.map(i => i.textContent)")
        assert len(flips) == len(expected.flips) and all(f.task in text for f, text in zip(expected.flips, flips, strict=True))
        assert not flips or tab.text_content("#cmp-n-flips") == str(len(expected.flips))
        drawn = tab.evaluate("echarts.getInstanceByDom(document.getElementById('cmp-rates')).getOption().series[0].data")
        rates = [m for m in expected.metrics if m.kind == "rate" and m.change is not None]
        assert [d[3] for d in drawn] == pytest.approx([m.change for m in rates])  # the forest plots the same changes
    assert tab.errors == []


def test_a_run_links_the_same_task_at_the_other_revisions(tab):
    open_view(tab, "runs")
    tab.click("#runs tbody tr:nth-child(1)")
    tab.wait_for_selector("#run h3")
    first = tab.text_content("#run h3")
    assert " · v5.2 · " in first and tab.text_content("#elsewhere a") == "v5.3"
    tab.click("#elsewhere a")
    tab.wait_for_function("document.querySelector('#run h3').textContent.includes(' · v5.3 · ')")
    assert tab.text_content("#run h3") == first.replace(" · v5.2 · ", " · v5.3 · ")
    assert tab.text_content("#elsewhere a") == "v5.2"
    assert tab.errors == []


def test_the_agent_version_is_a_filter_and_a_compare_axis(tab, tmp_path):
    revs = [revision(2), revision(3)]
    results = [result("org/m", r, t, "bare", 0, agent_version=v, tokens=(1000 if v == "0.73.1" else 500, 10, 10)).model_dump(mode="json")
               for v in ("0.73.1", "1.6.0") for r in revs for t in [f"t{k}" for k in range(6)]]
    store = write(tmp_path / "store", results, [{**plan("s", ["org/m"], revs, [f"t{k}" for k in range(6)], ["bare"], 1),
                                                 "agent_versions": ["0.73.1", "1.6.0"]}])
    built = report.build(store, store / "report")
    assert [d["name"] for d in built.dims["agent"]] == ["pi 0.73.1", "pi 1.6.0"]
    page = tab.context.browser.new_page()  # the module's browser: a second Playwright would not start inside its loop
    try:
        page.goto((store / "report" / "index.html").as_uri() + "#view=runs&agent=1")
        page.wait_for_selector("body[data-rendered]")
        assert page.inner_text("#count") == "12 of 24 runs"
        assert [t.strip() for t in page.locator("#filters details[data-axis=agent] label").all_text_contents()] == ["pi 0.73.1", "pi 1.6.0"]
        pairs = page.evaluate("window.agentEval.viewsLoaded().then(() => window.REPORT.compare.map((c) => [c.axis, c.base, c.head]))")
        assert ["agent", "pi 0.73.1", "pi 1.6.0"] in pairs
    finally:
        page.close()


def test_the_sessions_view_shows_cost_by_position_and_the_saving(tab, tmp_path):
    from agent_eval.store.records import SessionRef

    rev, tasks = revision(2), [f"t{k}" for k in range(5)]
    results = [result("org/m", rev, t, "bare", 0, tokens=(1000, 0, 10)).model_dump(mode="json") for t in tasks]  # one-shot
    for o in range(5):  # five orders: every task first once, later four times, at a tenth of the new tokens
        order = tasks[o:] + tasks[:o]
        for p, t in enumerate(order, 1):
            r = result("org/m", rev, t, "bare", 0, tokens=(1000 if p == 1 else 100, 0, 10))
            cell = r.cell.model_copy(update={"key": f"{o}{p}" * 32, "session": SessionRef(id=f"s{o}", position=p, group=0, order=o, tasks=order)})
            results.append(r.model_copy(update={"cell": cell, "session_position": p}).model_dump(mode="json"))
    store = write(tmp_path / "store", results, [plan("s", ["org/m"], [rev], tasks, ["bare"], 1)])
    report.build(store, store / "report")
    page = tab.context.browser.new_page()
    try:
        page.goto((store / "report" / "index.html").as_uri() + "#view=sessions")
        page.wait_for_selector("body[data-rendered]")
        lines = page.locator("#ses-lines tbody tr").all_inner_texts()
        assert [line.split("\t")[4] for line in lines] == ["one-shot", "1", "2", "3", "4", "5", "later"]
        saving = next(t for t in page.locator("#ses-saved tbody tr").all_inner_texts() if "later / first" in t and "tokens_new" in t)
        assert "-90%" in saving and "[" in saving  # 5 tasks on both sides: an interval
        assert page.inner_text("#count") == "5 of 5 runs"  # the other views keep to one-shot runs
    finally:
        page.close()
