"""End to end: the real pi, driven by a scripted model, reads known files through every tool, in three
tiers and at revisions whose installed paths differ only by version; every result records them,
normalised, and `agent-eval reads` counts them exactly."""

from __future__ import annotations

import pytest
import orjson

import minilib
from conftest import MODEL_KEY, Project
from fake_model import FakeModel, Reply, Rule

PROMPT = "Look around minilib, then give the checksum of the text 'agent'."
NOTES = "first line\nsecond line\n"


def script() -> list[Reply]:
    """One turn a step; {last_tool_output} carries real paths of this cell's environment into the next."""
    bash = lambda command: Reply(tool="bash", args={"command": command})  # noqa: E731
    return [
        Reply(tool="read", args={"path": "notes.txt"}),
        bash("python -c \"import minilib; print(minilib.__file__)\""),
        Reply(tool="read", args={"path": "{last_tool_output}"}),
        bash("python -c \"import importlib.metadata as m; print(m.distribution('minilib')._path)\""),
        bash("head -n 3 {last_tool_output}/METADATA"),
        bash("sed -n '1,2p' minilib/pyproject.toml"),  # only the clone tier has the checkout: elsewhere it fails, and reads nothing
        bash("minilib --help"),  # only from v0.2 on is there a command to ask
        bash("python -m pydoc minilib.checksum"),
        bash("minilib checksum agent"),
        Reply(text="The checksum is {last_tool_output}."),
    ]


@pytest.fixture
def looked(tmp_path, minilib_repo, pi_ready):
    skill_first = [Reply(tool="read", args={"path": "{skill_location}"}), *script()]
    fake = FakeModel([Rule("Look around minilib", skill_first, system_contains="<available_skills>"), Rule("Look around minilib", script())],
                     api_key=MODEL_KEY)
    project = Project(tmp_path, minilib_repo, fake.url)
    project.profile()
    project.task("look", prompt=PROMPT, expected=str(minilib.checksum("agent")), files=["notes.txt"])
    (tmp_path / "tasks/minilib/notes.txt").write_text(NOTES)
    project.suite(revisions=[{"ref": "v0.1", "name": "API only"}, {"ref": "v0.2", "name": "CLI"}, {"ref": "main", "name": "Skill"}],
                  tiers=["bare", "clone", "skill"])
    done = project.cli("run", "suite.yaml", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    yield project
    fake.close()


def test_every_tool_is_read_normalised_and_counted_exactly(looked):
    stored = {(r["cell"]["revision"]["name"], r["cell"]["tier"]): r
              for r in (orjson.loads(p.read_bytes()) for p in looked.store.glob("runs/*/*/*/*/*/result.json"))}
    assert set(stored) == {(rev, tier) for rev in ("API only", "CLI", "Skill") for tier in ("bare", "clone")} | {("Skill", "skill")}
    api = len(minilib.API.splitlines())
    common = [("inputs: notes.txt", 1, 2), ("installed: minilib/__init__.py", 3, api), ("installed: minilib.dist-info/METADATA", 5, 3)]
    for (rev, tier), r in stored.items():
        shift = tier == "skill"  # the Skill is read first: every later step a turn later
        expected = ([("skill: SKILL.md", 1, len(minilib.SKILL.splitlines()))] if shift else [])
        expected += [(name, turn + shift, lines) for name, turn, lines in common]
        expected += [("library: pyproject.toml", 6, 2)] if tier == "clone" else []
        expected += [("help: minilib", 7 + shift, None)] if rev != "API only" else []
        expected += [("help: pydoc minilib.checksum", 8 + shift, None)]
        got = [(x["where"] + ": " + x["path"], x["turn"], x["lines"] if not x["where"] == "help" else None) for x in r["reads"]]
        assert got == expected, (rev, tier)
        assert r["matched"] is (rev != "API only")
    raw = b"".join(p.read_bytes() for p in looked.store.glob("runs/*/*/*/*/*/trace.jsonl"))
    assert b"minilib-0.1.dist-info" in raw and b"minilib-0.2.dist-info" in raw  # the installed paths differ by version only in the traces

    shown = orjson.loads(looked.cli("reads", "--format", "json").stdout)
    by = {(g["revision"], g["tier"]): {f["file"]: (f["runs"], f["of"], f["matched"], f["failed"]) for f in g["files"]} for g in shown}
    assert by["API only", "clone"]["library: pyproject.toml"] == (1, 1, 0, 1)
    assert by["CLI", "bare"]["help: minilib"] == (1, 1, 1, 0) and "help: minilib" not in by["API only", "bare"]
    assert by["Skill", "skill"]["skill: SKILL.md"] == (1, 1, 1, 0)
    pooled = looked.cli("reads", "--format", "json", "--tier", "bare", "--tier", "clone")
    assert {g["revision"] for g in orjson.loads(pooled.stdout)} == {"API only", "CLI", "Skill"}
    diff = orjson.loads(looked.cli("reads", "--base", "API only", "--head", "CLI", "--format", "json").stdout)
    moved = {(c["tier"], c["file"]): round(c["change"]) for c in diff}
    assert moved[("bare", "help: minilib")] == 100 and moved[("bare", "installed: minilib/__init__.py")] == 0
