"""The report's "Where agents look" view in real Chromium: its data loads only when the view opens, the
shares and the matched/failed split are exact, the model filter holds, and unopened docs are listed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import sync_playwright

from agent_eval.read import report
from agent_eval.read.unopened import Profiles, unopened
from agent_eval.suite.repo import mirror_path
from kit import CHROMIUM, chromium_page
from synthetic import result, write
from test_reads import FIXTURE, REVS, store


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
    assert data["unopened"]["1"] == {"files": ["library: README.md", "library: docs/guide.md", "skill: SKILL.md"],
                                     "from": ["the revision's tree in this machine's cache"], "unknown": None}
    assert data["unopened"]["0"]["files"] == [] and "no tree of it, and no profile the store keeps names its repository" in data["unopened"]["0"]["unknown"]
    with sync_playwright() as p:
        browser, page = chromium_page(p)
        errors = page.errors
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
        assert unopened[0].startswith("v5.2 — the library's docs are not known here: this machine's cache has no tree of it")
        assert unopened[1] == "v5.3 — 3: library: README.md, library: docs/guide.md, skill: SKILL.md (listed from the revision's tree in this machine's cache)"
        assert errors == []
        browser.close()


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_unopened_docs_come_from_the_git_mirror_or_the_repository_else_say_why(tmp_path, monkeypatch):
    repo = tmp_path / "lib"
    for name in ("README.md", "docs/a.md", "docs/b.md", "lib/x.py", "skills/lib/SKILL.md"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x\n")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "one", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo)
    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))  # no tree of any revision in it
    store = tmp_path / "store"

    def profile(text: str) -> Profiles:
        (store / "suites/s/snapshot/profile").mkdir(parents=True, exist_ok=True)
        (store / "suites/s/snapshot/profile/profile.yaml").write_text(text)
        return Profiles(store)

    url = "https://example.invalid/lib.git"  # never fetched: the mirror is made from the repository here
    remote = profile(f"name: lib\nrepo: {url}\nskill: {{path: skills/lib}}\n")
    assert unopened(sha, set(), remote) == {"files": [], "from": [], "unknown": f"this machine's cache has no tree of it, and no git mirror of {url} "
                                            "(`agent-eval run SUITE --dry-run` here fetches the mirror)"}
    mirror = mirror_path(url)
    mirror.parent.mkdir(parents=True)
    git("clone", "-q", "--mirror", str(repo), str(mirror), cwd=tmp_path)
    assert unopened(sha, {"library: docs/a.md"}, remote) == {"files": ["library: README.md", "library: docs/b.md", "skill: SKILL.md"],
                                                             "from": [f"the git mirror of {url}"], "unknown": None}
    assert f"the git mirror of {url} lacks commit ffffffffff" in unopened("f" * 40, set(), remote)["unknown"]
    local = profile(f"name: lib\nrepo: {repo}\n")  # a repository on this machine: listed from it, no mirror needed
    assert unopened(sha, {"skill: SKILL.md"}, local) == {"files": ["library: README.md", "library: docs/a.md", "library: docs/b.md", "library: skills/lib/SKILL.md"],
                                                         "from": [str(repo)], "unknown": None}
    (store / "suites/s/snapshot/profile/skill/lib").mkdir(parents=True)
    for name in ("SKILL.md", "reference.md"):
        (store / "suites/s/snapshot/profile/skill/lib" / name).write_text("x\n")
    own_skill = profile(f"name: lib\nrepo: {url}\nskill: {{dir: skill/lib}}\n")  # a Skill kept in the profile: known whatever the revision
    got = unopened("e" * 40, {"skill: SKILL.md"}, own_skill)
    assert got["files"] == ["skill: reference.md"] and got["from"] == ["the Skill in the store's snapshot of the profile"] and "lacks commit eeeeeeeeee" in got["unknown"]
    digest = "ab" * 32  # a release: its sdist unpacked under src/release-<digest>, or not at all
    assert unopened(digest, set(), remote)["unknown"].startswith("a release's source is not unpacked in this machine's cache")
    (tmp_path / "cache/src" / f"release-{digest[:16]}/docs").mkdir(parents=True)
    (tmp_path / "cache/src" / f"release-{digest[:16]}/docs/index.rst").write_text("x\n")
    assert unopened(digest, set(), remote)["files"] == ["library: docs/index.rst"]


def test_the_run_panel_lists_what_the_run_read(built, tmp_path, monkeypatch):
    old = shutil.copytree(FIXTURE, tmp_path / "old")  # written before reads were recorded: derived from its traces
    report.build(old, tmp_path / "old-report")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))

        def panel(site: Path, model: str, revision: str, tier: str, task: str, repeat: str) -> list[list[str]]:
            page.goto((site / "index.html").as_uri() + "#view=runs")
            page.wait_for_selector("#runs tbody tr")
            row = page.evaluate("""(want) => [...document.querySelectorAll('#runs tbody tr')].findIndex((tr) =>
                [0, 1, 2, 3, 4].every((k) => tr.cells[k].textContent === want[k]))""", [model, revision, tier, task, repeat])
            assert row >= 0
            page.click(f"#runs tbody tr:nth-child({row + 1})")
            page.wait_for_function("(h) => document.querySelector('#run h3')?.textContent === h", arg=f"{task} · {model} · {revision} · {tier} · r{repeat}")
            return page.eval_on_selector_all("#run-reads tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))")

        assert panel(built, "org/m", "v5.2", "clone", "t0", "1") == [["where", "path", "turn", "lines"], ["library", "README.md", "1", "5"],
                                                                     ["help", "wfl top", "3", "—"]]
        assert panel(built, "org/m", "v5.3", "clone", "t1", "0") == [["where", "path", "turn", "lines"], ["library", "docs/cli.md", "2", "10"]]
        assert panel(built, "org/n", "v5.3", "clone", "t1", "2") == [] and "read: no file opened, no help asked for" in page.text_content("#run")
        rows = panel(tmp_path / "old-report", "Fake", "Skill", "skill", "checksum", "0")
        assert rows == [["where", "path", "turn", "lines"], ["skill", "SKILL.md", "1", "7"]]  # from the trace: its turn and the lines shown
        assert errors == []
        browser.close()


def test_the_treemap_shows_one_revisions_files_by_where_they_belong(built):
    with sync_playwright() as p:
        browser, page = chromium_page(p)
        errors = page.errors
        page.goto((built / "index.html").as_uri() + "#view=reads")
        tree = """() => { const chart = window.agentEval.charts["reads-tree"]; if (!chart) return null;
            const leaves = (nodes, path) => nodes.flatMap((n) => n.children ? leaves(n.children, [...path, n.name]) : [[[...path, n.name].join("/"), n.value, n.ranked]]);
            const series = chart.getOption().series[0]; return [series.name, leaves(series.data, [])]; }"""

        def shown(name: str):
            page.wait_for_function(f"(({tree})() || [])[0] === {name!r}")
            return page.evaluate(tree)[1]

        assert shown("v5.3") == [["library/docs/cli.md", 9, True]]  # the last revision first: 9 of its 24 runs read docs/cli.md
        page.select_option("#reads-rev", "0")
        assert shown("v5.2") == [["library/README.md", 12, True], ["help/wfl top", 2, False]]  # the help page: under a cell's repeats
        assert "tree=0" in page.evaluate("location.hash")  # the choice is in the URL, like every other
        tip = page.evaluate("""() => window.agentEval.charts["reads-tree"].getOption().tooltip[0].formatter({ data: { file: "library: README.md",
            value: 12, split: [4, 8], ranked: true }, treePathInfo: [], value: 12 })""")
        assert tip == "library: README.md<br>12/12 runs (100%) · matched 4/4 · failed 8/8"
        assert errors == []
        browser.close()
