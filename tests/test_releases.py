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
    from agent_eval.run import prepare
    from agent_eval.suite import profiles, releases

    monkeypatch.setenv("AGENT_EVAL_CACHE", str(tmp_path / "cache"))
    real = releases.resolve("sqlite-utils==3.36", need_sdist=True)
    forged = real.model_copy(update={"files": [f.model_copy(update={"sha256": "0" * 64}) for f in real.files]})
    profile = profiles.load(profiles.shipped_root() / "profiles" / "sqlite-utils")
    with pytest.raises(prepare.SetupError, match="could not install the library"):
        prepare.environment(profile, profile.repo, forged.digest, forged)
    assert "hash" in next((tmp_path / "cache" / "envs").glob("*.log")).read_text().lower()
    with pytest.raises(releases.ReleaseError, match=r"sqlite-utils-3\.36\.tar\.gz: sha256 dcc311394fe8\w+ is not the index's 0{64}"):
        releases.source(forged)
    assert (releases.source(real) / "sqlite_utils" / "db.py").is_file()
