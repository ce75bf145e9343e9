"""What a run read, from pi's session file: every way of reading, normalised to where it belongs."""

from __future__ import annotations

from agent_eval.grade import reads, trace
from agent_eval.store.records import Step
from test_trace import assistant, call, result, session

CELL = "/tmp/agent-eval-1a2b3c4d-x7_q9z"
SITE = "/root/.cache/agent-eval/envs/minilib-{v}-abc/lib/python3.11/site-packages"


def run(tmp_path, cwd: str, *pairs, inputs=("notes.txt",)) -> list[tuple]:
    """A session of (tool call, its result) pairs, one per turn; the reads as (name, turn, lines, times)."""
    entries = []
    for k, (made, came) in enumerate(pairs):
        entries += [assistant({**made, "id": f"c{k}"}), {**came, "message": {**came["message"], "toolCallId": f"c{k}"}}]
    path = tmp_path / "t.jsonl"
    session(path, *entries, assistant({"type": "text", "text": "done"}, stop="stop"))
    text = path.read_text().replace('"cwd":"/w"', f'"cwd":"{cwd}"')
    path.write_text(text)
    found = reads.reads(trace.parse(path), list(inputs), "minilib")
    return [(r.name, r.turn, r.lines, r.times) for r in found]


def test_every_tool_and_place_is_read_and_named(tmp_path):
    found = run(
        tmp_path, "/cell/work",
        (call("read", path="notes.txt"), result("read", "a\nb\n")),
        (call("read", path="/cell/skills/minilib/SKILL.md"), result("read", "# skill\nuse it")),
        (call("bash", command="cat minilib/docs/cli.md"), result("bash", "1\n2\n3\n")),
        (call("bash", command=f"head -n 2 {SITE.format(v='f00')}/minilib-0.2.dist-info/METADATA"), result("bash", "x\ny\n")),
        (call("bash", command="cd minilib && sed -n '1,3p' minilib/cli.py"), result("bash", "a\nb\nc\n")),
        (call("bash", command="minilib checksum --help | head -5 2>/dev/null"), result("bash", "usage\n")),
        (call("bash", command="python -m pydoc minilib.checksum"), result("bash", "doc\n")),
        (call("bash", command="python3.11 -c \"import minilib; help(minilib.checksum); print(open('notes.txt').read())\""), result("bash", "h\n")),
        (call("bash", command="less /etc/hosts; cat minilib/docs/cli.md"), result("bash", "...")),
        (call("bash", command="cat missing.txt"), result("bash", "No such file", error=True)),
        (call("read", path=f"{SITE.format(v='9ab')}/minilib/__init__.py"), result("read", "def f(): ...")),
        (call("bash", command="man ls"), result("bash", "LS(1)\n")),
        (call("bash", command="ls -h; du -h .; sed -i 's/a/b/' minilib/docs/other.md; python -m minilib -h"), result("bash", "x\n")),
    )
    assert found == [
        ("inputs: notes.txt", 1, 2, 2),  # the read tool's 2 lines, then open() in code: lines unknown there, not added
        ("skill: SKILL.md", 2, 2, 1),
        ("library: docs/cli.md", 3, 3, 2),  # the second time with another file: lines not known, not added
        ("installed: minilib.dist-info/METADATA", 4, 2, 1),  # the version dropped: revisions line up
        ("library: minilib/cli.py", 5, 3, 1),  # `cd minilib` then a path relative to it
        ("help: minilib checksum", 6, 1, 1),  # `head` reads its stdin, no file: the help is the one thing shown
        ("help: pydoc minilib.checksum", 7, 1, 1),
        ("help: help(minilib.checksum)", 8, None, 1),
        ("other: /etc/hosts", 9, None, 1),
        ("installed: minilib/__init__.py", 11, 1, 1),
        ("help: man ls", 12, 1, 1),
        ("help: python -m minilib", 13, 1, 1),  # `ls -h`, `du -h` are no help, `sed -i` edits
    ]


def test_unsandboxed_paths_and_written_scripts(tmp_path):
    found = run(
        tmp_path, f"{CELL}/work",
        (call("write", path="probe.py", content="import minilib\nprint(open('data/in.csv').read())\n"), result("write", "ok")),
        (call("bash", command="python probe.py"), result("bash", "a,b\n")),
        (call("read", path=f"{CELL}/work/minilib/README.md"), result("read", "# minilib\n")),
        (call("bash", command="cat > notes2.txt <<'EOF'\ncat secret.txt\nEOF\ntail -n 1 ~/.bashrc"), result("bash", "x\n")),
        inputs=("data",),
    )
    assert found == [("inputs: data/in.csv", 2, 1, 1), ("library: README.md", 3, 1, 1), ("other: <cell>/home/.bashrc", 4, 1, 1)]


def test_runs_without_a_trace_read_their_steps():
    steps = [Step(tool="read", input="/cell/skills/minilib/SKILL.md", error=False), Step(tool="bash", input="wfl top --help", error=False),
             Step(tool="bash", input="cat nope", error=True)]
    found = reads.from_steps(steps, [], "minilib")
    assert [(r.name, r.turn, r.lines) for r in found] == [("skill: SKILL.md", None, None), ("help: wfl top", None, None)]
