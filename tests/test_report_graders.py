"""The report's run view shows what graded the run and the files the agent left, loaded with the
run's other details (details/*.js) only when the run is opened; checked in real Chromium."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from agent_eval.read import report
from agent_eval.store import entry, kept
from agent_eval.store.records import Cell, Check, FileChange, Grader, Tokens
from kit import CHROMIUM, chromium_page, report_details
from synthetic import plan, result, revision, write

DETAILS_LOADED = "document.querySelectorAll('script[src^=\"details/\"]').length"
SCRIPT = "import csv\nprint('rows', sum(1 for _ in csv.reader(open('data.csv'))))\n"


def archive(folder: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(folder / kept.ARCHIVE, "w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def graded_store(root: Path) -> tuple[Path, dict]:
    rev = revision(2)
    plain = result("org/m", rev, "plain", "bare", 0).model_dump(mode="json")
    graders = [
        Grader(kind="answer", status="passed", score=1.0),
        Grader(kind="verify", status="failed", score=0.5, seconds=1.25, output="checked out.db\n{\"score\": 0.5}",
               checks=[Check(name="table exists", passed=True), Check(name="three rows", passed=False)]),
        Grader(kind="judge", status="failed", score=0.5, seconds=2.0, tokens=Tokens(new=900, cached=100, generated=80), checks=[
            Check(name="names the row count", passed=True, evidence="the answer says 'rows 3'"),
            Check(name="explains the header row", passed=False, evidence="nothing in the answer or script mentions the header")]),
        Grader(kind="assertions", status="passed", score=1.0, checks=[Check(name="uses csv", passed=True)]),
        Grader(kind="trigger", status="passed", score=1.0, output="read SKILL.md at turn 2"),
    ]
    files = [FileChange(path="count.py", size=len(SCRIPT), change="created"), FileChange(path="big.txt", size=9000, change="created"),
             FileChange(path="blob.bin", size=4, change="created"), FileChange(path="data.csv", size=12, change="changed"),
             FileChange(path="old.txt", size=0, change="deleted"), FileChange(path="huge.log", size=10**8, change="created", kept=False)]
    graded = result("org/m", rev, "count-rows", "bare", 0, matched=False).model_copy(update={
        "graders": graders, "score": 0.75, "files": files, "tampered": ["data.csv"],
        "files_cut": "1 of the agent's files left out of workspace.tar.gz past its cap of 20,971,520 bytes (first: huge.log)"}).model_dump(mode="json")
    store = write(root / "store", [plain, graded], [plan("s", ["org/m"], [rev], ["plain", "count-rows"], ["bare"], 1)])
    archive(store / Cell.model_validate(graded["cell"]).folder, {"count.py": SCRIPT.encode(), "big.txt": b"x" * 9000, "blob.bin": b"\0\1\2\3",
                                                                  "data.csv": b"a,b\n1,2\n3,4\n"})
    return store, graded


def test_the_run_details_carry_the_graders_and_the_files_text_within_the_caps(tmp_path):
    store, graded = graded_store(tmp_path)
    report.build(store, store / "report")
    chunk, _ = report_details(store / "report" / "details" / "000-0000.js")  # the runs, and their reads
    detail = next(d for d in chunk if d.get("graders"))
    assert [g["kind"] for g in detail["graders"]] == ["answer", "verify", "judge", "assertions", "trigger"]
    assert detail["files_total"] == 6 and detail["tampered"] == ["data.csv"]
    texts = detail["texts"]
    assert "blob.bin" not in texts and texts["count.py"] == SCRIPT  # binary files: listed, never shown
    assert texts["big.txt"] == "x" * entry.FILE_CHARS + "…"  # each file cut at FILE_CHARS
    assert sum(len(t) for t in texts.values()) <= entry.RUN_CHARS + 2  # and the run at RUN_CHARS (two cut marks)
    assert list(texts) == ["big.txt", "count.py", "data.csv"][: len(texts)] and len(texts) >= 2
    assert "graders" not in (store / "report" / "data.js").read_text()  # the first load never carries them


def test_a_changed_task_input_is_shown_as_a_diff_against_the_suites_copy(tmp_path):
    store, graded = graded_store(tmp_path)
    folder = store / Cell.model_validate(graded["cell"]).folder
    archive(folder, {"data.csv": b"a,b\n1,2\n3,4\n"})
    graded["cell"]["task"]["files"] = ["data.csv"]
    original = store / "suites" / graded["cell"]["suite"] / "snapshot" / "tasks" / "data.csv"
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_text("a,b\n1,2\n")
    shown = entry.files_shown(folder, graded)
    assert shown["diffs"] == ["data.csv"] and "--- task input data.csv" in shown["texts"]["data.csv"]
    assert [line for line in shown["texts"]["data.csv"].splitlines() if line.startswith(("+", "-")) and line[1:2] not in "+-"] == ["+3,4"]
    graded["cell"]["task"]["files"] = []  # a file the agent made from nothing: shown whole
    assert entry.files_shown(folder, graded)["texts"]["data.csv"] == "a,b\n1,2\n3,4\n"


def test_a_damaged_archive_keeps_the_listing_and_says_why_there_is_no_text(tmp_path):
    store, graded = graded_store(tmp_path)
    (store / Cell.model_validate(graded["cell"]).folder / kept.ARCHIVE).write_bytes(b"not a gzip")
    shown = entry.files_shown(store / Cell.model_validate(graded["cell"]).folder, graded)
    assert shown["files_total"] == 6 and shown["texts"] == {} and "could not be read" in shown["texts_error"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    assert CHROMIUM, "Chromium is not installed: scripts/test.sh installs Debian's chromium"
    store, _ = graded_store(tmp_path_factory.mktemp("graded"))
    report.build(store, store / "report")
    with sync_playwright() as p:
        browser, tab = chromium_page(p)
        tab.goto((store / "report" / "index.html").as_uri() + "#view=runs")
        tab.wait_for_selector("body[data-rendered]")
        tab.details_at_load = tab.evaluate(DETAILS_LOADED)
        yield tab
        browser.close()


def open_task(page, task: str) -> None:
    page.locator("#runs tbody tr", has_text=task).click()
    page.wait_for_function(f"document.querySelector('#run h3')?.textContent.startsWith('{task} ')")


def test_the_run_view_shows_each_grader_and_the_judges_evidence(page):
    assert page.details_at_load == 0  # graders and files load with the run's details, when a run is opened
    open_task(page, "count-rows")
    assert page.evaluate(DETAILS_LOADED) == 1
    kinds = page.locator("#graders > li.grader").evaluate_all("items => items.map((i) => [i.dataset.kind, i.querySelector('.outcome').textContent])")
    assert kinds == [["answer", "passed"], ["verify", "failed"], ["judge", "failed"], ["assertions", "passed"], ["trigger", "passed"]]
    judge = page.locator("#graders > li[data-kind=judge]")
    assert "score 0.50" in judge.inner_text() and "judge tokens 1,000 in, 80 out" in judge.inner_text()
    checks = judge.locator("li.check").evaluate_all("items => items.map((i) => [i.className, i.querySelector('.name').textContent, i.querySelector('.evidence')?.textContent])")
    assert checks == [["check good", "names the row count", "the answer says 'rows 3'"],
                      ["check bad", "explains the header row", "nothing in the answer or script mentions the header"]]
    verify = page.locator("#graders > li[data-kind=verify]")
    assert verify.locator("li.check").all_inner_texts() == ["✓ table exists", "✗ three rows"]
    assert "checked out.db" in verify.locator("pre.output").inner_text() and "1.3 s" in verify.inner_text()
    assert page.locator("#graders > li[data-kind=assertions] li.check").all_inner_texts() == ["✓ uses csv"]
    assert page.locator("#graders > li[data-kind=trigger] pre.output").inner_text() == "read SKILL.md at turn 2"
    assert "score 0.75" in page.inner_text("#run") and "data.csv" in page.inner_text("#tampered")
    assert page.errors == []


def test_the_run_view_lists_the_agents_files_and_shows_the_small_text_ones(page):
    open_task(page, "count-rows")
    rows = page.locator("#files tr").evaluate_all("rows => rows.map((r) => [...r.cells].map((c) => c.textContent.trim()))")
    assert rows[0] == ["+ created", "count.py", f"{len(SCRIPT)} B", ""]
    assert ["− deleted", "old.txt", "—", ""] in rows and ["+ created", "huge.log", "100,000,000 B", "not kept"] in rows
    assert "past its cap" in page.inner_text("#run")
    script = page.locator("details.file-text[data-path='count.py']")
    script.locator("summary").click()
    assert script.locator("pre").inner_text() == SCRIPT.rstrip("\n") or script.locator("pre").inner_text() == SCRIPT
    assert page.locator("details.file-text[data-path='blob.bin']").count() == 0
    assert page.errors == []


def test_a_run_without_graders_or_files_shows_neither(page):
    open_task(page, "plain")
    assert page.locator("#graders").count() == 0 and page.locator("#files").count() == 0
    assert page.errors == []
