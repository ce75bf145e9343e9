"""Released versions as revisions, against the real package index: resolution, bad input, and the
sqlite-utils profile end to end with the real pi and the scripted model over two real releases."""

from __future__ import annotations

import orjson
import pytest
import yaml

from conftest import MODEL_KEY
from fake_model import FakeModel, Reply, Rule

RELEASES = [{"release": "sqlite-utils==3.36"}, {"release": "sqlite-utils==4.2.1", "name": "4.x"}]


def write_suite(root, **overrides):
    data = {
        "name": "releases", "profile": "sqlite-utils",
        "models": [{"id": "fake-coder", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "FAKE_MODEL_KEY"}],
        "revisions": RELEASES, "budgets": {"timeout": 90}, **overrides,
    }
    (root / "suite.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("revisions, tiers, message", [
    # Versions before the first release and inside the history, so the closest ones never change.
    ([{"release": "sqlite-utils==0.0.1"}], None, "release 'sqlite-utils==0.0.1': sqlite-utils has no version 0.0.1 on https://pypi.org/simple; closest: 0.2, 0.3\n"),
    ([{"release": "sqlite-utils==3.39.0.5"}], None, "no version 3.39.0.5 on https://pypi.org/simple; closest: 3.38, 3.39, 3.39.1, 4.0a0"),
    ([{"release": "no-such-project-agent-eval-zz==1.0"}], None, "no project 'no-such-project-agent-eval-zz' on https://pypi.org/simple"),
    ([{"release": "sqlite-utils==0.10"}], ["clone"], "release 'sqlite-utils==0.10': no source distribution on https://pypi.org/simple, so the clone tier has nothing to check out"),
    ([{"release": "sqlite-utils>=3"}], None, "pin exactly one version as NAME==VERSION"),
    ([{"ref": "v3.36", "release": "sqlite-utils==3.36"}], None, "field 'revisions.0': give exactly one of ref (a git tag, branch or SHA) or release (NAME==VERSION)"),
])
def test_bad_releases_are_one_line_errors(tmp_path, project, revisions, tiers, message):
    write_suite(tmp_path, revisions=revisions, **({"tiers": tiers} if tiers else {}))
    done = project.cli("validate", str(tmp_path / "suite.yaml"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_a_wheel_only_release_is_fine_without_the_clone_tier(tmp_path, project):
    write_suite(tmp_path, revisions=[{"release": "sqlite-utils==0.10"}], tiers=["bare"])
    done = project.cli("validate", str(tmp_path / "suite.yaml"))
    assert done.returncode == 0, done.stderr
    assert "revision sqlite-utils==0.10: sqlite-utils==0.10 -> " in done.stderr


def test_a_profile_of_releases_needs_no_repo_until_a_suite_names_a_git_revision(tmp_path, project):
    import shutil

    from agent_eval.suite.profiles import shipped_root

    folder = shutil.copytree(shipped_root() / "profiles" / "sqlite-utils", tmp_path / "profiles" / "sqlite-utils")
    data = yaml.safe_load((folder / "profile.yaml").read_text())
    del data["repo"]
    (folder / "profile.yaml").write_text(yaml.safe_dump(data))
    write_suite(tmp_path, revisions=[{"release": "sqlite-utils==0.10"}], tiers=["bare"], tasks_dir=str(shipped_root() / "tasks" / "sqlite-utils"))
    done = project.cli("validate", str(tmp_path / "suite.yaml"))
    assert done.returncode == 0, done.stderr
    write_suite(tmp_path, revisions=[{"ref": "3.36"}], tiers=["bare"], tasks_dir=str(shipped_root() / "tasks" / "sqlite-utils"))
    done = project.cli("validate", str(tmp_path / "suite.yaml"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "profile.yaml: field 'repo' is missing, and" in done.stderr and "names git revisions (ref:)" in done.stderr


def test_a_release_resolves_to_its_files_and_a_stable_digest():
    from agent_eval.suite import releases

    first = releases.resolve("sqlite-utils==3.36", need_sdist=True)
    assert {(f.filename, f.kind) for f in first.files} == {("sqlite-utils-3.36.tar.gz", "sdist"), ("sqlite_utils-3.36-py3-none-any.whl", "wheel")}
    assert dict((f.filename, f.sha256) for f in first.files)["sqlite-utils-3.36.tar.gz"] == "dcc311394fe86dc16f65037b0075e238efcfd2e12e65d53ed196954502996f3c"
    again = releases.resolve("sqlite_utils == 3.36")  # another spelling of the same release
    assert again.digest == first.digest and len(first.digest) == 64
    assert releases.resolve("sqlite-utils==4.2.1").digest != first.digest


SKILL = "<available_skills>"
ANSWER = Reply(text="Answer: {last_tool_output}", prompt_tokens=1200, cached_tokens=512, completion_tokens=11)
COUNT = Reply(tool="bash", args={"command": "ls; test -f sqlite-utils/PKG-INFO && head -n 3 sqlite-utils/PKG-INFO; sqlite-utils query shop.db 'select count(*) as n from orders' --csv"})
PYTHON = Reply(tool="bash", args={"command": (
    "python - <<'EOF'\nimport json, sqlite_utils\ndb = sqlite_utils.Database('people.db')\n"
    "db['people'].insert_all(json.load(open('people.json')))\n"
    "print(db.execute('select count(*) from people where age > 40').fetchone()[0])\nEOF")})
FTS = [
    Reply(tool="bash", args={"command": "sqlite-utils enable-fts --help | head -n 3"}),
    Reply(tool="bash", args={"command": "head -n 5 sqlite-utils/docs/cli.rst"}),
    Reply(tool="bash", args={"command": "sqlite-utils enable-fts notes.db notes title body && sqlite-utils search notes.db notes lighthouse --csv | tail -n +2 | wc -l"}),
    ANSWER,
]
READ_SKILL = Reply(tool="read", args={"path": "{skill_location}"})


def scripted_rules() -> list[Rule]:
    rules = []
    for prompt, path in [("orders table of shop.db", [COUNT, ANSWER]), ("people.json", [PYTHON, ANSWER]), ("full-text search", FTS)]:
        rules += [Rule(prompt, [READ_SKILL, *path], system_contains=SKILL), Rule(prompt, path)]
    return rules


def test_sqlite_utils_over_two_releases_and_three_tiers(tmp_path, project):
    fake = FakeModel(scripted_rules(), api_key=MODEL_KEY)
    try:
        write_suite(tmp_path, models=[{"id": "fake-coder", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}],
                    tasks=["count-orders", "json-over-40", "fts-lighthouse"], store=str(tmp_path / "store"))
        done = project.cli("run", str(tmp_path / "suite.yaml"), "--jobs", "2", timeout=900)
        assert done.returncode == 0, done.stderr
        assert "18 to run" in done.stderr
        found = {(r["cell"]["revision"]["name"], r["cell"]["tier"], r["cell"]["task"]["id"]): r
                 for r in map(lambda p: orjson.loads(p.read_bytes()), (tmp_path / "store").glob("runs/*/*/*/*/*/result.json"))}
        usage = {k: fake.usage_total(k) for k in ("prompt_tokens", "completion_tokens")}
    finally:
        fake.close()
    assert len(found) == 18
    assert all(r["status"] == "ok" and r["matched"] is True for r in found.values()), {k: (r["status"], r["answer"]) for k, r in found.items()}

    expected = {"count-orders": {"cli"}, "json-over-40": {"python-api"}, "fts-lighthouse": {"help", "cli", "docs-read"}}
    for (rev, tier, task), result in found.items():
        fired = {m["name"] for m in result["markers"]}
        assert fired == expected[task] | ({"skill-read"} if tier == "skill" else set()), (rev, tier, task, fired)

    # The clone tier holds the release's own sdist: its PKG-INFO names the version, its docs exist.
    for rev, version in (("sqlite-utils==3.36", "3.36"), ("4.x", "4.2.1")):
        assert f"Version: {version}" in found[rev, "clone", "count-orders"]["answer"]
        assert "Version:" not in found[rev, "bare", "count-orders"]["answer"]
        docs = {tier: found[rev, tier, "fts-lighthouse"]["steps"][1] for tier in ("bare", "clone")}
        assert docs["clone"]["error"] is False and docs["bare"]["error"] is True
    # Two releases: two revisions with their own run folders, keyed by the digest of their files.
    shas = {r["cell"]["revision"]["sha"] for r in found.values()}
    assert len(shas) == 2 and all(len(s) == 64 for s in shas)
    assert {r["cell"]["revision"]["release"]["version"] for r in found.values()} == {"3.36", "4.2.1"}

    # Tokens: the proxy's sums equal what the scripted server reported.
    assert sum(r["tokens"]["generated"] for r in found.values()) == usage["completion_tokens"]
    assert sum(r["tokens"]["new"] + r["tokens"]["cached"] for r in found.values()) == usage["prompt_tokens"]
    assert sum(r["tokens"]["cached"] for r in found.values()) == 512 * 18


def test_a_release_whose_files_changed_is_refused(tmp_path, monkeypatch):
    """The environment and the clone tier accept only the bytes the plan resolved."""
    from agent_eval.run import envs, prepare
    from agent_eval.suite import profiles, releases

    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))
    real = releases.resolve("sqlite-utils==3.36", need_sdist=True)
    forged = real.model_copy(update={"files": [f.model_copy(update={"sha256": "0" * 64}) for f in real.files]})
    profile = profiles.load(profiles.shipped_root() / "profiles" / "sqlite-utils")
    with pytest.raises(prepare.SetupError, match="could not install the library"):
        envs.environment(profile, profile.repo, forged.digest, forged)
    assert "hash" in next((tmp_path / "cache" / "envs").glob("*.log")).read_text().lower()
    with pytest.raises(releases.ReleaseError, match=r"sqlite-utils-3\.36\.tar\.gz: sha256 dcc311394fe8\w+ is not the index's 0{64}"):
        releases.source(forged)
    assert (releases.source(real) / "sqlite_utils" / "db.py").is_file()


# --- unpacking archives we did not make (suite/unpack.py), on any Python ------------------------


def tar_of(path, *members):
    """A tar of hand-made members: (name, kind, extra), kind one of file, dir, sym, hard, chr, fifo."""
    import io
    import tarfile

    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
             "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = kinds[kind], 0o644 if kind == "file" else 0o755, 4242, 4242
            data = b""
            if kind == "file":
                data, info.mode = extra.get("data", b"x"), extra.get("mode", 0o644)
                info.size = len(data)
            elif kind in ("sym", "hard"):
                info.linkname = extra
            tar.addfile(info, io.BytesIO(data))
    return path


HOSTILE = {
    "dot-dot": ([("../outside.txt", "file", {})], "unsafe member: ../outside.txt (a path outside the folder)"),
    "absolute": ([("/tmp/agent-eval-absolute.txt", "file", {})], "unsafe member: /tmp/agent-eval-absolute.txt (a path outside the folder)"),
    "dot-dot-inside": ([("pkg/../../outside.txt", "file", {})], "(a path outside the folder)"),
    "symlink-absolute": ([("etc", "sym", "/etc")], "unsafe member: etc (a link to the absolute path /etc)"),
    "symlink-up": ([("up", "sym", "../outside")], "unsafe member: up (a link to ../outside, outside the folder)"),
    # x is made first and is inside then; y, made after it, makes x lead one folder up
    "symlink-through-a-later-one": ([("x", "sym", "y/.."), ("y", "sym", ".")], "unsafe member: x (a link to y/.., outside the folder)"),
    "symlink-then-write-through-it": ([("out", "sym", ".."), ("out/owned.txt", "file", {})], "unsafe member: out (a link where the archive also has a file or folder)"),
    "hardlink-up": ([("h", "hard", "../outside.txt")], "unsafe member: h (a hard link to ../outside.txt, which is no file of the archive before it)"),
    "hardlink-absolute": ([("h", "hard", "/etc/passwd")], "unsafe member: h (a hard link to /etc/passwd, which is no file"),
    "hardlink-to-a-symlink": ([("s", "sym", "a.txt"), ("h", "hard", "s")], "unsafe member: h (a hard link to s, which is no file"),
    "device": ([("tty", "chr", None)], "unsafe member: tty (a device or fifo)"),
    "fifo": ([("pipe", "fifo", None)], "unsafe member: pipe (a device or fifo)"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_tar_is_refused_and_writes_nothing_outside(tmp_path, case):
    from agent_eval.suite import unpack

    members, message = HOSTILE[case]
    archive = tar_of(tmp_path / "evil.tar.gz", *members)
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(unpack.UnsafeArchive) as refused:
        unpack.unpack(archive, dest)
    assert message in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "evil.tar.gz"] and [p.name for p in (tmp_path / "deep").iterdir()] == ["dest"]
    assert not (tmp_path / "owned.txt").exists() and not __import__("os").path.exists("/tmp/agent-eval-absolute.txt")


def test_a_fair_tar_unpacks_with_its_links_and_without_setuid_or_foreign_owners(tmp_path):
    import os

    from agent_eval.suite import unpack

    archive = tar_of(tmp_path / "lib-1.0.tar.gz",
                     ("lib-1.0", "dir", None), ("lib-1.0/README", "file", {"data": b"read me"}),
                     ("lib-1.0/run.sh", "file", {"data": b"#!/bin/sh", "mode": 0o6777}),
                     ("lib-1.0/docs/README", "sym", "../README"), ("lib-1.0/COPY", "hard", "lib-1.0/README"),
                     ("lib-1.0/later", "sym", "sub/file"), ("lib-1.0/sub/file", "file", {"data": b"made after the link"}))
    unpack.unpack(archive, tmp_path / "out")
    top = tmp_path / "out" / "lib-1.0"
    assert (top / "docs" / "README").read_text() == "read me" and os.readlink(top / "docs" / "README") == "../README"
    assert (top / "COPY").read_text() == "read me" and (top / "later").read_text() == "made after the link"
    assert oct((top / "run.sh").stat().st_mode & 0o7777) == oct(0o755)  # setuid, setgid and world-write dropped
    assert (top / "README").stat().st_uid == os.getuid()  # never the archive's 4242


@pytest.mark.parametrize("name", ["../outside.txt", "/tmp/agent-eval-absolute.txt", "pkg/../../outside.txt"])
def test_a_hostile_zip_sdist_is_refused(tmp_path, name):
    import zipfile

    from agent_eval.suite import unpack

    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zipped:
        zipped.writestr("lib-1.0/ok.txt", "fine")
        zipped.writestr(name, "owned")
    with pytest.raises(unpack.UnsafeArchive, match="a path outside the folder"):
        unpack.unpack(tmp_path / "evil.zip", tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


def test_a_fair_zip_sdist_unpacks(tmp_path):
    import zipfile

    from agent_eval.suite import unpack

    with zipfile.ZipFile(tmp_path / "lib-1.0.zip", "w") as zipped:
        zipped.writestr("lib-1.0/", "")
        zipped.writestr("lib-1.0/pkg/__init__.py", "VERSION = '1.0'")
    unpack.unpack(tmp_path / "lib-1.0.zip", tmp_path / "out")
    assert (tmp_path / "out" / "lib-1.0" / "pkg" / "__init__.py").read_text() == "VERSION = '1.0'"


def test_an_unsafe_sdist_is_a_release_error(tmp_path, monkeypatch):
    from agent_eval.suite import releases

    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))
    archive = tar_of(tmp_path / "evil-1.0.tar.gz", ("../outside.txt", "file", {}))
    sdist = releases.DistFile(filename="evil-1.0.tar.gz", url="https://example.invalid/evil-1.0.tar.gz", sha256="0" * 64, kind="sdist")
    monkeypatch.setattr(releases, "_download", lambda dist: archive)
    release = releases.Release(requirement="evil==1.0", project="evil", version="1.0", files=[sdist])
    with pytest.raises(releases.ReleaseError, match=r"^evil-1\.0\.tar\.gz: unsafe member: \.\./outside\.txt \(a path outside the folder\); this sdist cannot"):
        releases.source(release)
    assert not (tmp_path / "outside.txt").exists()


def test_revisions_extract_through_the_same_checks(tmp_path, monkeypatch, minilib_repo):
    """A revision's git archive goes through unpack too (tarfile's filters are not on every Python)."""
    from agent_eval.suite import repo

    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))
    url = str(minilib_repo)
    repo.fetch(url)
    sha = repo.resolve(url, "v0.2")
    assert (repo.export(url, sha) / "minilib" / "cli.py").is_file()
    import shutil
    import tarfile

    shutil.rmtree(tmp_path / "cache" / "src" / sha)
    evil = tar_of(tmp_path / "evil.tar.gz", ("../outside.txt", "file", {}))
    monkeypatch.setattr(tarfile, "open", lambda *a, fileobj=None, **k: tarfile.TarFile.open(evil))  # the archive git gives, replaced
    with pytest.raises(repo.RepoError, match=rf"the archive of revision {sha[:10]}: unsafe member: \.\./outside\.txt"):
        repo.export(url, sha)
    assert not (tmp_path / "cache" / "src" / "outside.txt").exists()
