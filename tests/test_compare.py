"""compare's statistics against a known truth: simulated rows (results.flat() rows, fed straight to
compare.compare), hundreds of datasets each. Calibration under no change, recovery of known changes,
intervals that stay honest when repeats are correlated, and the coverage bookkeeping."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from agent_eval.read import compare, stats
from agent_eval.store.results import COLUMNS

BASE, HEAD = "a" * 40, "b" * 40


def row(sha: str, task: str, tier: str = "bare", repeat: int = 0, model: str = "m", *, status: str = "ok",
        matched: bool | None = True, tokens_new: int | None = 1000, turns: int = 4, markers=()) -> dict:
    r = dict.fromkeys(COLUMNS)
    r.update(model=model, model_name=model, revision="base" if sha == BASE else "head", ref="v1" if sha == BASE else "v2", sha=sha,
             tier=tier, task=task, repeat=repeat, status=status, matched=matched, wall_seconds=10.0, turns=turns, tool_calls=turns,
             tokens_new=tokens_new, tokens_cached=500 if tokens_new is not None else None, tokens_generated=100 if tokens_new is not None else None,
             cost=None, markers=list(markers))
    return r


def simulate(rng: random.Random, n_tasks: int = 20, repeats: int = 3, tiers=("bare", "skill"), *, token_factor: float = 1.0,
             match_shift: dict | None = None, interaction: float = 0.3, difficulty: tuple[float, float] = (0.2, 0.8)) -> list[dict]:
    """A sweep where tasks differ a lot (difficulty, size), each (task, tier, side) has its own random
    twist of sd `interaction` shared by its repeats, and runs add noise. Truth: tokens × token_factor
    and match probability + match_shift[tier] at head; the twists average to nothing over tasks."""
    rows = []
    for t in range(n_tasks):
        p_task, size = rng.uniform(*difficulty), rng.gauss(7.0, 1.0)
        for tier in tiers:
            for sha in (BASE, HEAD):
                head = sha == HEAD
                twist = rng.gauss(0, interaction)
                p = min(1.0, max(0.0, p_task + twist / 3 + ((match_shift or {}).get(tier, 0) / 100 if head else 0)))
                for k in range(repeats):
                    tokens = math.exp(size + twist + rng.gauss(0, 0.3)) * (token_factor if head else 1.0)
                    rows.append(row(sha, f"t{t:02d}", tier, k, matched=rng.random() < p, tokens_new=round(tokens), turns=rng.randint(2, 6)))
    return rows


def metric(result: compare.Comparison, name: str) -> compare.Metric:
    return next(m for m in result.metrics if m.metric == name)


def test_t_quantiles_match_the_tables():
    for df, exact in [(4, 2.7764), (9, 2.2622), (29, 2.0452)]:
        assert stats.t_quantile(0.975, df) == pytest.approx(exact, abs=1e-3)


def test_under_no_change_95_percent_intervals_cover_zero_90_to_99_percent_of_the_time():
    rng = random.Random(20261201)
    covered = {"match": 0, "tokens_new": 0, "turns": 0}
    runs = 300
    for _ in range(runs):
        result = compare.compare(simulate(rng), "v1", "v2")
        for name in covered:
            m = metric(result, name)
            covered[name] += m.ci_low <= 0 <= m.ci_high
            assert m.verdict in ("no detectable change", "better", "worse", "higher", "lower")
    rates = {name: hits / runs for name, hits in covered.items()}
    print("coverage under the null:", rates)
    assert all(0.90 <= rate <= 0.99 for rate in rates.values()), rates


def test_a_naive_run_level_interval_is_too_narrow_when_repeats_are_correlated_and_ours_is_not():
    rng = random.Random(5)
    ours = naive = 0
    runs = 200
    for _ in range(runs):
        rows = simulate(rng, n_tasks=12, repeats=10, tiers=("bare",), interaction=0.8)
        m = metric(compare.compare(rows, "v1", "v2"), "tokens_new")
        ours += m.ci_low <= 0 <= m.ci_high
        pairs = {}
        for r in rows:  # pretend every run is independent: pair run k of base with run k of head
            pairs.setdefault((r["task"], r["repeat"]), {})[r["sha"]] = math.log(r["tokens_new"])
        diffs = [p[HEAD] - p[BASE] for p in pairs.values()]
        half = stats.t_quantile(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
        naive += abs(statistics.fmean(diffs)) <= half
    print(f"coverage with correlated repeats: ours {ours / runs:.3f}, naive run-level {naive / runs:.3f}")
    assert 0.90 <= ours / runs <= 0.99
    assert naive / runs < 0.75  # far below the 95% it claims


def test_a_known_40_percent_cut_in_new_tokens_is_recovered_and_called_better():
    rng = random.Random(11)
    estimates, covered, called = [], 0, 0
    for _ in range(50):
        m = metric(compare.compare(simulate(rng, token_factor=0.6), "v1", "v2"), "tokens_new")
        called += m.verdict == "better"  # not when match fell by chance too (decide.py: answering less is no saving)
        estimates.append(m.change)
        covered += m.ci_low <= -40 <= m.ci_high
    print(f"recovered token change (true -40%): {statistics.fmean(estimates):.1f}, interval covers -40 in {covered}/50")
    assert statistics.fmean(estimates) == pytest.approx(-40, abs=3)
    assert covered >= 44 and called >= 48


def test_a_known_30_point_match_gain_on_one_tier_is_recovered_there_only():
    rng = random.Random(12)
    skill, bare, called, covered = [], [], 0, 0
    for _ in range(50):  # probabilities 0.1-0.5 at base, so +30 points never runs into 100%
        rows = simulate(rng, n_tasks=30, match_shift={"skill": 30}, difficulty=(0.1, 0.5))
        on_skill = metric(compare.compare(rows, "v1", "v2", tiers=["skill"]), "match")
        skill.append(on_skill.change)
        called += on_skill.verdict == "better"
        covered += on_skill.ci_low <= 30 <= on_skill.ci_high
        bare.append(metric(compare.compare(rows, "v1", "v2", tiers=["bare"]), "match").change)
    print(f"recovered match change: skill {statistics.fmean(skill):.1f} (true +30), interval covers +30 in {covered}/50, "
          f"called better {called}/50; bare {statistics.fmean(bare):.1f} (true 0)")
    assert statistics.fmean(skill) == pytest.approx(30, abs=3)
    assert abs(statistics.fmean(bare)) < 3
    assert called >= 45 and covered >= 44


def test_uneven_cells_are_dropped_and_named_and_a_metric_without_data_says_so():
    rows = [row(BASE, f"t{t}", tokens_new=None) for t in range(6)] + [row(HEAD, f"t{t}", tokens_new=None) for t in range(5)]
    rows += [row(HEAD, "t0", "skill")]  # head only
    result = compare.compare(rows, "v1", "v2")
    assert result.dropped_cells == ["m · t5 · bare (base only)", "m · t0 · skill (head only)"]
    assert (result.n_tasks, result.n_runs_base, result.n_runs_head) == (5, 5, 5)
    tokens = metric(result, "tokens_new")
    assert (tokens.verdict, tokens.change, tokens.n_tasks) == ("no data", None, 0)  # unknown is not zero


def test_status_rules_setup_and_infra_errors_count_only_as_errors_silent_failures_are_misses():
    rows = []
    for t in range(6):
        rows += [row(BASE, f"t{t}", matched=False, tokens_new=100), row(HEAD, f"t{t}", matched=True, tokens_new=100)]
        rows += [row(HEAD, f"t{t}", repeat=1, status="infra_error", matched=None, tokens_new=0, turns=0)]
        rows += [row(HEAD, f"t{t}", repeat=2, status="silent_failure", matched=False, tokens_new=100)]
    result = compare.compare(rows, "v1", "v2")
    match, errors, tokens = metric(result, "match"), metric(result, "errors"), metric(result, "tokens_new")
    assert (match.base, match.head, match.n_runs_head) == (0.0, 50.0, 12)  # the silent failure is a miss; the infra error is out
    assert errors.head == pytest.approx(200 / 3) and errors.verdict == "higher"  # both count as errors (exploratory: not primary)
    assert tokens.change == pytest.approx(0.0) and tokens.n_runs_head == 12  # the infra error's 0 tokens are not the agent's


def test_fewer_than_5_shared_tasks_give_no_confident_interval():
    rows = [row(BASE, f"t{t}", matched=False) for t in range(4)] + [row(HEAD, f"t{t}", matched=True) for t in range(4)]
    m = metric(compare.compare(rows, "v1", "v2"), "match")
    assert (m.change, m.verdict, m.ci_low, m.ci_high) == (100.0, "unreliable", None, None)


def test_flips_movers_and_the_sample_needed_for_10_points():
    rng = random.Random(3)
    result = compare.compare(simulate(rng, token_factor=0.5), "v1", "v2")
    for flip in result.flips:
        assert (flip.base > 50) != (flip.head > 50) and flip.now == ("fixed" if flip.head > 50 else "broken")
    movers = [m for m in result.movers if m.metric == "tokens_new"]
    assert len(movers) == 5 and all(abs(a.change) >= abs(b.change) for a, b in zip(movers, movers[1:]))
    match = metric(result, "match")
    assert match.mde > 0 and result.tasks_for_10_points > result.n_tasks  # 20 tasks cannot see 10 points here


def test_other_axes_and_bad_references():
    rows = [row(BASE, f"t{t}", model=m, matched=m == "big") for t in range(6) for m in ("big", "small")]
    result = compare.compare(rows, "small", "big", axis="model")
    assert metric(result, "match").change == 100.0 and metric(result, "match").verdict == "better"
    with pytest.raises(compare.CompareError, match="no revision 'v9'"):
        compare.compare(rows, "v9", "v1")
    with pytest.raises(compare.CompareError, match="name the same"):
        compare.compare(rows + [row(HEAD, "t0")], "v1", BASE[:7])
    with pytest.raises(compare.CompareError, match="no cell in common"):
        compare.compare([row(BASE, "t0"), row(HEAD, "t1")], "v1", "v2")
    with pytest.raises(compare.CompareError, match="no results yet"):
        compare.compare([], "v1", "v2")


def test_agent_versions_are_an_axis_and_never_mixed_in_one_cell():
    def at(version: str, sha: str, t: int) -> dict:
        r = row(sha, f"t{t}", tokens_new=1000 if version == "0.73.1" else 600, matched=not (version == "1.6.0" and sha == HEAD and t == 0))
        return {**r, "agent": "pi", "agent_version": version}

    rows = [at(v, sha, t) for v in ("0.73.1", "1.6.0") for sha in (BASE, HEAD) for t in range(6)]
    by_agent = compare.compare(rows, "0.73.1", "pi 1.6.0", axis="agent")
    assert (by_agent.base, by_agent.head, by_agent.n_runs_base, by_agent.n_runs_head) == ("pi 0.73.1", "pi 1.6.0", 12, 12)
    assert metric(by_agent, "tokens_new").change == pytest.approx(-40.0) and metric(by_agent, "tokens_new").verdict == "better"
    by_revision = compare.compare(rows, "v1", "v2")  # paired within each agent version: its flip is that version's
    assert [(f.task, f.cell, f.now) for f in by_revision.flips] == [("t0", "m · bare · pi 1.6.0", "broken")]
    assert metric(by_revision, "tokens_new").change == pytest.approx(0.0)
