"""The agent's files are kept: what it created, changed or deleted in its working dir (never the
untouched checkout), one archive beside the trace, a listing in result.json, a cap that says when
it cut; `explain` shows them. Real pi, the scripted model, a real git history."""

from __future__ import annotations

import tarfile

import orjson

from fake_model import Reply, Rule

WRITE = ("echo made > made.txt && echo more >> notes.txt && rm old.txt && mkdir -p out && "
         "head -c 3000 /dev/zero > out/big.bin && {{ test -d minilib && echo edited >> minilib/minilib/__init__.py; true; }}")


def results(project) -> dict[str, dict]:
    return {p.parent.parent.parent.name: orjson.loads(p.read_bytes()) for p in project.store.glob("runs/*/*/*/*/*/result.json")}


def test_the_agents_files_are_listed_archived_and_capped(project, fake):
    fake.rules.insert(0, Rule("WRITEFILES", [Reply(tool="bash", args={"command": WRITE}), Reply(text="done")]))
    (project.root / "tasks/minilib/notes.txt").write_text("notes\n")
    (project.root / "tasks/minilib/old.txt").write_text("old\n")
    project.task("write", prompt="WRITEFILES please", files=["notes.txt", "old.txt"])
    project.suite(revisions=[{"ref": "main", "name": "Skill"}], tiers=["bare", "clone"], tasks=["write"])
    done = project.cli("run", "suite.yaml")
    assert done.returncode == 0, done.stderr

    by_tier = results(project)
    bare = {f["path"]: f for f in by_tier["bare"]["files"]}
    assert {p: f["change"] for p, f in bare.items()} == {"made.txt": "created", "notes.txt": "changed", "old.txt": "deleted", "out/big.bin": "created"}
    assert bare["out/big.bin"]["size"] == 3000 and by_tier["bare"]["files_cut"] is None
    clone = {f["path"]: f["change"] for f in by_tier["clone"]["files"]}
    assert clone == {**{p: f["change"] for p, f in bare.items()}, "minilib/minilib/__init__.py": "changed"}  # the rest of the checkout: untouched, unlisted

    folder = project.store / by_tier["bare"]["cell"]["folder"]
    with tarfile.open(folder / "workspace.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["made.txt", "notes.txt", "out/big.bin"]
        assert archive.extractfile("notes.txt").read() == b"notes\nmore\n"

    shown = project.cli("explain", "--task", "write", "--tier", "bare")
    assert shown.returncode == 0 and "+ made.txt" in shown.stdout and "- old.txt" in shown.stdout and "~ notes.txt" in shown.stdout, shown.stdout

    again = project.cli("run", "suite.yaml", "--rerun", env={"AGENT_EVAL_KEEP_BYTES": "100"})
    assert again.returncode == 0, again.stderr
    capped = results(project)["bare"]
    assert {f["path"]: f["kept"] for f in capped["files"] if f["change"] != "deleted"} == {"made.txt": True, "notes.txt": True, "out/big.bin": False}
    assert "1 of the agent's files left out of workspace.tar.gz past its cap of 100 bytes (first: out/big.bin)" == capped["files_cut"]
