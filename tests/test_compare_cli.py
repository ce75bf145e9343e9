"""`agent-eval compare` on stores written in the real layout: the formats, the --fail-on gate
(fires, does not fire, does not fire on noise) and bad input (one line, exit 2)."""

from __future__ import annotations

import random
import subprocess
import sys

import orjson
import pytest

from synthetic import plan, result, revision, write

A, B = revision(2), revision(3)
TASKS = [f"t{k:02d}" for k in range(10)]


def store(tmp_path, *, head_tokens: float = 1.0, head_match: float = 0.5, noise: float = 0.1, seed: int = 1, tasks=TASKS):
    rng = random.Random(seed)
    results = []
    for t in tasks:
        for rev, factor, p in ((A, 1.0, 0.5), (B, head_tokens, head_match)):
            for k in range(3):
                tokens = int(1000 * factor * rng.lognormvariate(0, noise))
                results.append(result("org/m", rev, t, "bare", k, matched=rng.random() < p, tokens=(tokens, 100, 20)).model_dump(mode="json"))
    return write(tmp_path / "store", results, [plan("s", ["org/m"], [A, B], list(tasks), ["bare"], 3)])


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_eval", "compare", *map(str, args)], capture_output=True, text=True, timeout=60)


def test_json_has_the_documented_schema_and_markdown_is_a_pr_comment(tmp_path):
    s = store(tmp_path, head_tokens=0.6)
    shown = cli(s, "--base", "v5.2", "--head", "0003ab", "-f", "json")
    assert shown.returncode == 0, shown.stderr
    data = orjson.loads(shown.stdout)
    assert {"metrics", "dropped_cells", "flips", "n_tasks", "n_runs_base", "n_runs_head"} <= data.keys()
    tokens = next(m for m in data["metrics"] if m["metric"] == "tokens_new")
    assert {"metric", "base", "head", "change", "ci_low", "ci_high", "verdict", "n_tasks", "n_runs_base", "n_runs_head"} <= tokens.keys()
    assert tokens["verdict"] == "better" and tokens["ci_low"] < -40 < tokens["ci_high"] < 0 and tokens["n_runs_head"] == 30
    md = cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "markdown", "--report-url", "https://example.org/r")
    assert md.stdout.startswith("### agent-eval: v5.3") and "| tokens_new |" in md.stdout and "[Full report](https://example.org/r)" in md.stdout
    assert "clustered by task" in md.stdout


def test_fail_on_fires_when_worse_past_the_threshold_and_significant(tmp_path):
    s = store(tmp_path, head_tokens=1.6)
    gate = cli(s, "--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens_new:+20%", "--fail-on", "match:-5")
    assert gate.returncode == 1
    assert gate.stderr.strip().startswith("--fail-on tokens_new:+20% fired: tokens_new changed +6")
    assert "match" not in gate.stderr  # match did not move


def test_fail_on_does_not_fire_below_the_threshold_or_on_a_better_change(tmp_path):
    s = store(tmp_path, head_tokens=1.1, noise=0.02)  # +10%, clearly real, but under +20%
    assert cli(s, "--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens_new:+20%").returncode == 0
    better = store(tmp_path / "b", head_tokens=0.5)
    assert cli(better, "--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens_new:+20%").returncode == 0


def test_fail_on_does_not_fire_on_a_worse_change_that_is_noise(tmp_path):
    s = store(tmp_path, head_tokens=1.3, noise=1.5, seed=5)  # worse on average, but the spread swamps it
    shown = orjson.loads(cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "json").stdout)
    tokens = next(m for m in shown["metrics"] if m["metric"] == "tokens_new")
    assert tokens["change"] > 20 and tokens["ci_low"] < 0 and tokens["verdict"] == "no detectable change"
    gate = cli(s, "--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens_new:+20%")
    assert gate.returncode == 0 and "fired" not in gate.stderr


@pytest.mark.parametrize("args, message", [
    (["--base", "v9.9", "--head", "v5.3"], "error: no revision 'v9.9' in the store; it has: v5.2, v5.3"),
    (["--base", "v5.3", "--head", "0003abab"], "error: --base 'v5.3' and --head '0003abab' name the same revision: compare two different ones"),
    (["--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens:20"], "error: --fail-on 'tokens:20': no metric 'tokens'; known: match,"),
    (["--base", "v5.2", "--head", "v5.3", "--fail-on", "match=-5"], "error: --fail-on 'match=-5': write METRIC:THRESHOLD"),
    (["--base", "v5.2", "--head", "v5.3", "--task", "nope*"], "error: no results match the --model/--tier/--task filters"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = cli(store(tmp_path), *args)
    assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr


def test_no_shared_cells_and_stores_without_runs(tmp_path):
    rng_free = [result("org/m", A, "t0", "bare").model_dump(mode="json"), result("org/m", B, "t1", "bare").model_dump(mode="json")]
    apart = write(tmp_path / "apart", rng_free, [])
    done = cli(apart, "--base", "v5.2", "--head", "v5.3")
    assert done.returncode == 2 and done.stderr == "error: base and head ran no cell in common (2 cells on one side only): run the same tasks, models and tiers on both\n"
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    done = cli(tmp_path / "empty", "--base", "v5.2", "--head", "v5.3")
    assert done.returncode == 2 and done.stderr == "error: the store has no results yet: run a suite first (agent-eval run suite.yaml)\n"
    done = cli(tmp_path / "nowhere", "--base", "v5.2", "--head", "v5.3")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no runs/ folder" in done.stderr


def test_the_pr_comment_says_for_which_models(tmp_path):
    rng = random.Random(8)
    results = []
    for t in TASKS:
        for model, factor in (("org/big", 0.5), ("org/small", 1.0)):
            for rev, f in ((A, 1.0), (B, factor)):
                for k in range(2):
                    tokens = int(1000 * f * rng.lognormvariate(0, 0.1))
                    results.append(result(model, rev, t, "bare", k, tokens=(tokens, 100, 20)).model_dump(mode="json"))
    s = write(tmp_path / "store", results, [plan("s", ["org/big", "org/small"], [A, B], TASKS, ["bare"], 2)])
    md = cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "markdown").stdout
    assert "- **org/big**: better: tokens_new (10 tasks)" in md
    assert "- **org/small**: no detectable change (10 tasks)" in md


def test_fail_on_says_when_it_cannot_check_a_rule(tmp_path):
    few = store(tmp_path, head_tokens=2.0, tasks=TASKS[:3])  # much worse, but 3 tasks give no interval
    gate = cli(few, "--base", "v5.2", "--head", "v5.3", "--fail-on", "tokens_new:+20%", "--fail-on", "cost:+1%")
    assert gate.returncode == 0
    assert gate.stderr.splitlines() == ["--fail-on tokens_new:+20% not checked: tokens_new has no interval (fewer than 5 shared tasks)",
                                        "--fail-on cost:+1% not checked: cost has no data (no run recorded it)"]


def test_the_table_names_the_sample_every_metric_and_the_dropped_cells(tmp_path):
    s = store(tmp_path, head_tokens=0.6)
    extra = result("org/m", B, "t99", "bare").model_dump(mode="json")  # head only
    write(s, [extra], [])
    shown = cli(s, "--base", "v5.2", "--head", "v5.3")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "revision: v5.2 (0002ababab) → v5.3 (0003ababab) · 10 tasks · 30/30 runs" in lines[0]
    tokens = next(line for line in lines if line.split()[:1] == ["tokens_new"]).split()
    base, head, change = (float(x.replace(",", "").rstrip("%")) for x in tokens[1:4])
    assert 950 < base < 1050 and 570 < head < 630 and -45 < change < -35 and tokens[6] == "better"
    assert "no data" in next(line for line in lines if line.split()[:1] == ["cost"])
    assert any(line.startswith("note: 1 cells ran on one side only and were left out: org/m · t99 · bare (head only)") for line in lines)


def test_compare_along_the_agent_axis_reads_only_the_two_versions(tmp_path):
    results = [result("org/m", A, t, "bare", k, tokens=(1000 if v == "0.73.1" else 700, 100, 20), agent_version=v).model_dump(mode="json")
               for v in ("0.73.1", "1.6.0", "1.5.0") for t in TASKS for k in range(2)]
    s = write(tmp_path / "store", results, [plan("s", ["org/m"], [A], list(TASKS), ["bare"], 2)])
    shown = cli(s, "--axis", "agent", "--base", "0.73.1", "--head", "1.6.0", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    data = orjson.loads(shown.stdout)
    assert (data["base"], data["head"], data["n_runs_base"], data["n_runs_head"]) == ("pi 0.73.1", "pi 1.6.0", 20, 20)
    tokens = next(m for m in data["metrics"] if m["metric"] == "tokens_new")
    assert tokens["change"] == pytest.approx(-30.0) and tokens["verdict"] == "better"
    wrong = cli(s, "--axis", "agent", "--base", "0.73.1", "--head", "2.0")
    assert wrong.returncode == 2 and "no agent '2.0' in the store" in wrong.stderr


def named(rev, name: str):
    return rev.model_copy(update={"name": name, "ref": name})


def test_one_commit_stored_under_two_names_is_found_by_either_and_by_its_sha(tmp_path):
    x = revision(4)
    results = [result("org/m", rev, t, "bare", k, tokens=(1000 if rev is A else 600, 100, 20)).model_dump(mode="json")
               for t in TASKS for rev, k in ((A, 0), (A, 1), (named(x, "v2.0"), 0), (named(x, "stable"), 1))]
    s = write(tmp_path / "store", results, [])
    for head in ("v2.0", "stable", x.sha[:8], x.sha):
        done = cli(s, "--base", "v5.2", "--head", head, "-f", "json")
        assert done.returncode == 0, (head, done.stderr)
        assert orjson.loads(done.stdout)["n_runs_head"] == 20  # both names' runs: one commit


def test_an_ambiguous_name_lists_each_sha_and_a_name_that_finds_it(tmp_path):
    old, new = revision(5), revision(6)  # a PR's first and second push, both stored as "head"
    results = [result("org/m", rev, t, "bare").model_dump(mode="json")
               for t in TASKS for rev in (named(A, "base"), named(old, "head"), named(new, "head"))]
    results += [result("org/m", named(old, "first-push"), t, "bare", 1).model_dump(mode="json") for t in TASKS]
    s = write(tmp_path / "store", results, [])
    done = cli(s, "--base", "base", "--head", "head")
    assert done.returncode == 2 and done.stderr == (
        f"error: revision 'head' is ambiguous: it names 2: {old.sha[:12]} (give 'first-push'); {new.sha[:12]} (give '{new.sha[:12]}')\n")
    assert cli(s, "--base", "base", "--head", new.sha).returncode == 0
    assert cli(s, "--base", "base", "--head", "first-push").returncode == 0


def test_small_things_said_right(tmp_path):
    """Issue 23 item 7: a store of session runs only; a % on a rate; fewer than 5 tasks in the headline."""
    runs = [result("org/m", rev, t, "bare").model_dump(mode="json") | {"session_position": 1} for rev in (A, B) for t in TASKS[:2]]
    only_sessions = write(tmp_path / "sessions", runs, [])
    done = cli(only_sessions, "--base", "v5.2", "--head", "v5.3")
    assert done.returncode == 2 and done.stderr.startswith("error: the store has only runs in sessions (4): compare reads one-shot runs")
    s = store(tmp_path / "few", tasks=TASKS[:3])
    done = cli(s, "--base", "v5.2", "--head", "v5.3", "--fail-on", "match:-5%")
    assert done.returncode == 2 and "a rate changes in points, not percent; write -5 (points)" in done.stderr
    done = cli(s, "--base", "v5.2", "--head", "v5.3", "--fail-on", "turns:+20")
    assert done.returncode == 2 and "a cost changes in percent; write +20%" in done.stderr
    md = cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "markdown").stdout
    assert md.startswith("### agent-eval: v5.3 (0003ababab) vs v5.2 (0002ababab) — too few shared tasks to decide (5 needed) (3 shared tasks).")


def test_json_headline_is_what_the_comment_claims(tmp_path):
    rng = random.Random(8)
    results = []
    for t in TASKS:
        for model, factor in (("org/big", 0.5), ("org/small", 1.0)):
            for rev, f in ((A, 1.0), (B, factor)):
                for k in range(2):
                    results.append(result(model, rev, t, "bare", k, tokens=(int(1000 * f * rng.lognormvariate(0, 0.1)), 100, 20)).model_dump(mode="json"))
    s = write(tmp_path / "store", results, [plan("s", ["org/big", "org/small"], [A, B], TASKS, ["bare"], 2)])
    data = orjson.loads(cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "json").stdout)
    claims = [(x["metric"], x["model"], x["verdict"]) for x in data["headline"]]
    assert claims == [("tokens_new", "all", "better"), ("tokens_new", "org/big", "better")]
    assert data["decision"]["correction"] == "holm" and data["decision"]["family"] == 6 and "Holm" in data["method"]
    assert {"p", "primary", "mde_down"} <= data["metrics"][0].keys()
    md = cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "markdown").stdout
    assert "— better: tokens_new (10 shared tasks)." in md and "- **org/big**: better: tokens_new" in md
    table = cli(s, "--base", "v5.2", "--head", "v5.3").stdout
    assert "headline: better: tokens_new" in table and "org/small: no detectable change" in table


def test_the_suites_decision_block_reaches_compare_through_its_plan(tmp_path, bare_project, monkeypatch):
    from agent_eval.run import plan as planning

    bare_project.suite(decision={"primary": ["tokens_new"], "min_effect": {"tokens_new": "15%"}})
    monkeypatch.setenv("FAKE_MODEL_KEY", "a-key-for-the-test")
    summary = planning.make(bare_project.root / "suite.yaml", done=set()).summary()
    assert summary["decision"] == {"primary": ["tokens_new"], "min_effect": {"tokens_new": "15%"}}
    s = store(tmp_path, head_tokens=0.6, head_match=1.0)  # both much better; only tokens_new is the suite's question
    stored = orjson.loads((s / "suites" / "s" / "plan.json").read_bytes())
    (s / "suites" / "s" / "plan.json").write_bytes(orjson.dumps({**stored, "decision": summary["decision"]}))
    data = orjson.loads(cli(s, "--base", "v5.2", "--head", "v5.3", "-f", "json").stdout)
    assert [(x["metric"], x["verdict"]) for x in data["headline"]] == [("tokens_new", "better")]
    assert data["decision"]["min_effect"] == {"tokens_new": 15.0} and data["decision"]["family"] == 1
    match = next(m for m in data["metrics"] if m["metric"] == "match")
    assert match["verdict"] == "higher" and not match["primary"]
