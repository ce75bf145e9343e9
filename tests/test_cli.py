"""The smaller commands: results, schema, profiles (and plugins), tasks, doctor."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import orjson

from conftest import PROMPTS


def test_results_in_three_formats(project):
    project.suite(revisions=["v0.1", "v0.2"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    table = project.cli("results", "agent-eval-results")
    assert table.returncode == 0 and "2 results" in table.stderr
    assert "v0.1" in table.stdout and "v0.2" in table.stdout and "tokens generated" in table.stdout
    as_json = orjson.loads(project.cli("results", "agent-eval-results", "--format", "json").stdout)
    assert sorted(r["matched"] for r in as_json) == [False, True]
    rows = list(csv.DictReader(io.StringIO(project.cli("results", "agent-eval-results", "-f", "csv").stdout)))
    assert {(r["revision"], r["matched"], r["markers"]) for r in rows} == {("v0.1", "False", "cli"), ("v0.2", "True", "cli")}
    missing = project.cli("results", "nowhere")
    assert missing.returncode == 2 and missing.stderr.startswith("error: nowhere: no runs/ folder")


def test_plugin_hook_tier_files_and_task_inputs_reach_the_working_dir(project):
    project.write("profiles/minilib/plugin.py", "def prepare_workdir(workdir, tier, sha):\n    (workdir / f'made-by-plugin-{tier}.txt').write_text(sha)\n")
    project.write("profiles/minilib/notes.md", "tier notes")
    project.profile(tiers={"bare": {}, "notes": {"files": ["notes.md"]}})
    project.write("tasks/minilib/numbers.csv", "1,2,3\n")
    project.task("explore", prompt=PROMPTS["explore"], files=["numbers.csv"])
    project.suite(revisions=["v0.2"], tiers=["bare", "notes"], tasks=["explore"])
    assert project.cli("run", "suite.yaml").returncode == 0
    answers = {r["cell"]["tier"]: r for r in map(lambda p: orjson.loads(p.read_bytes()), project.store.glob("runs/**/result.json"))}
    assert answers["bare"]["answer"].split() == ["Files:", "made-by-plugin-bare.txt", "numbers.csv"]
    assert answers["notes"]["answer"].split() == ["Files:", "made-by-plugin-notes.txt", "notes.md", "numbers.csv"]
    assert answers["bare"]["matched"] is None and answers["bare"]["status"] == "ok"  # behaviour-only task


def test_profiles_from_folders_and_entry_points_and_tasks_listing(project, tmp_path):
    site = tmp_path / "site"
    (site / "otherlib_profile").mkdir(parents=True)
    (site / "otherlib_profile" / "__init__.py").write_text("")
    (site / "otherlib_profile" / "profile.yaml").write_text("name: otherlib\ndescription: shipped by otherlib\nrepo: https://example.org/otherlib.git\n")
    dist = site / "otherlib_profile-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: otherlib-profile\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[agent_eval.profiles]\notherlib = otherlib_profile\n")
    listed = project.cli("profiles", env={"PYTHONPATH": f"{os.environ['PYTHONPATH']}{os.pathsep}{site}"})
    assert listed.returncode == 0, listed.stderr
    assert "minilib" in listed.stdout and "a test library" in listed.stdout
    assert "otherlib             shipped by otherlib" in listed.stdout

    tasks = project.cli("tasks", "minilib")
    assert tasks.returncode == 0
    assert "checksum                 -                    substring: 1626" in tasks.stdout


def test_schema_and_doctor(project):
    schema = orjson.loads(project.cli("schema", "suite").stdout)
    assert {"models", "revisions", "tiers", "budgets"} <= set(schema["properties"])
    assert "path" not in schema["properties"]
    doctor = project.cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "ok  pi 1.6.0" in doctor.stdout and "@earendil-works/pi-coding-agent, the default" in doctor.stdout
    assert "unless a task, profile or suite says network: none: it can reach every port on this machine" in doctor.stdout
    assert "network" in schema["properties"]


def test_help_teaches_the_model():
    out = subprocess.run([sys.executable, "-m", "agent_eval", "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}).stdout
    for word in ("PROFILE", "TIER", "TASK", "SUITE", "MARKERS", "bare", "clone", "skill"):
        assert word in out


def test_report_out_on_a_file_is_one_line(project):
    project.suite(revisions=["v0.2"], tiers=["bare"], tasks=["checksum"])
    assert project.cli("run", "suite.yaml").returncode == 0
    (project.root / "taken").write_text("a file")
    done = project.cli("report", "agent-eval-results", "--out", "taken")
    assert done.returncode == 2 and done.stderr.strip() == "error: --out taken is a file; give a folder (the site is index.html with its data beside it)"
    assert (project.root / "taken").read_text() == "a file"


def test_a_store_option_that_loops_or_dangles_is_one_line(bare_project):
    root = bare_project.root
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("nowhere/results")
    for store, said in (("loop", "loop is a symlink loop"), ("dangling", "dangling is a dangling symlink (to nowhere/results")):
        done = bare_project.cli("run", "suite.yaml", "--store", store)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
    assert not (root / "nowhere").exists()


def test_results_keep_the_suites_order_not_the_shas(tmp_path):
    """v5.10 after v5.9, as the suite lists them, whatever their SHAs or names sort like."""
    import csv
    import io
    import subprocess
    import sys

    import synthetic

    revisions = [synthetic.revision(i) for i in (12, 2, 9, 10)]  # the suite's order; SHAs 000c, 0002, 0009, 000a
    found = [synthetic.result("org/m", rev, task, tier).model_dump(mode="json") for rev in revisions for task in ("b", "a") for tier in ("skill", "bare")]
    store = synthetic.write(tmp_path / "store", found, [synthetic.plan("s", ["org/m"], revisions, ["a", "b"], ["skill", "bare"], 1)])
    out = subprocess.run([sys.executable, "-m", "agent_eval", "results", str(store), "--format", "csv"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = [(r["revision"], r["tier"], r["task"]) for r in csv.DictReader(io.StringIO(out.stdout))]
    assert rows == [(rev.name, tier, task) for rev in revisions for tier in ("skill", "bare") for task in ("a", "b")]


def test_init_starts_a_library_from_git_or_the_index_and_validates_it(tmp_path, minilib_repo):
    import subprocess
    import sys

    import yaml

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "agent_eval", *args], capture_output=True, text=True, cwd=tmp_path)

    made = cli("init", str(minilib_repo), "--dir", "mine")
    assert made.returncode == 0, made.stderr
    suite = yaml.safe_load((tmp_path / "mine" / "minilib.yaml").read_text())
    assert suite["revisions"] == [{"ref": "v0.2"}, {"ref": "v0.3"}] and suite["tiers"] == ["bare", "clone"]
    assert sorted(p.name for p in (tmp_path / "mine" / "tasks" / "minilib").iterdir()) == ["first-use.yaml", "version.yaml"]
    assert "1 models × 2 revisions × 2 tasks × 2 tiers × 3 repeats = 24 cells" in made.stderr
    assert "agent-eval compare --base v0.2 --head v0.3" in made.stderr.splitlines()[-1]
    assert cli("validate", "mine/minilib.yaml").returncode == 0
    again = cli("init", str(minilib_repo), "--dir", "mine")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists; init writes new files only" in again.stderr

    # By its name on the package index: its newest releases, no repo needed.
    made = cli("init", "sqlite-utils", "--dir", "pypi")
    assert made.returncode == 0, made.stderr
    suite = yaml.safe_load((tmp_path / "pypi" / "sqlite-utils.yaml").read_text())
    assert [list(r) for r in suite["revisions"]] == [["release"], ["release"]] and "repo" not in yaml.safe_load(
        (tmp_path / "pypi" / "profiles" / "sqlite-utils" / "profile.yaml").read_text())
    missing = cli("init", "no-such-project-agent-eval-zz", "--dir", "none")
    assert missing.returncode == 2 and "no project 'no-such-project-agent-eval-zz'" in missing.stderr and not (tmp_path / "none").exists()
