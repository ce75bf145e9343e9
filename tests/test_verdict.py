"""What compare claims, against a known truth, by simulation (tests/synthetic.py `simulated`, fixed
seeds, a few seconds): the headline and the example's gate under no true change, costs that count
their zeros, columns that agree with the change, silent failures that never read as better.
benchmarks/verdict.py measures the same at scale (the README's numbers)."""

from __future__ import annotations

import math
import random

import pytest

from agent_eval.read import compare, compare_render, decide, stats
from agent_eval.suite.decision import Decision
from synthetic import simulated

GATE = ["match:-5", "errors:+5", "tokens_new:+20%", "turns:+20%"]  # examples/ci/agent-eval.yml's rules


def metric(c: compare.Comparison, name: str) -> compare.Metric:
    return next(m for m in c.metrics if m.metric == name)


def null_designs(rng: random.Random, stores: int, models) -> list[list[dict]]:
    """Stores with no true change, cycling through 8 and 20 tasks, 1 and 3 repeats, one tier or two,
    heavy-tailed sizes and silent failures on both sides."""
    designs = [dict(n_tasks=n, repeats=r, tiers=tiers, size_sd=sd, silent=s) for n in (8, 20) for r in (1, 3)
               for tiers, sd, s in ((("bare",), 1.0, 0.0), (("bare", "skill"), 2.0, 0.1))]
    return [simulated(rng, models=models, **designs[i % len(designs)]) for i in range(stores)]


@pytest.mark.parametrize("models, stores", [(("m",), 320), (("a", "b", "c"), 160)])
def test_under_no_change_the_headline_claims_nothing_and_the_gate_passes_at_least_95_percent_of_the_time(models, stores):
    rng = random.Random(2312 + len(models))
    claimed = gated = 0
    for rows in null_designs(rng, stores, models):
        c, _ = decide.verdict(rows, "v1", "v2")
        claimed += bool(c.headline)
        gated += bool(compare_render.fired(c, [compare_render.parse_rule(r, [m.metric for m in c.metrics]) for r in GATE])[0])
    print(f"{len(models)} model(s), {stores} null stores: headline claims in {claimed / stores:.3f}, the gate fails {gated / stores:.3f}")
    # Holm holds 5% for the family; 0.065 leaves two binomial standard errors of room at these counts
    assert claimed / stores <= 0.065 and gated / stores <= 0.05


def test_costs_count_their_zeros_a_head_that_needs_no_tool_call_on_4_of_10_tasks_is_cheaper():
    rng = random.Random(4)
    lower = 0
    for _ in range(30):  # before: the tasks at 0 were dropped, and the rest read "+26% worse"
        rows = simulated(rng, n_tasks=20, head_no_tools=0.4, interaction=0.1)
        c, _ = decide.verdict(rows, "v1", "v2")
        tools = metric(c, "tool_calls")
        assert tools.change < 0 and tools.head < tools.base and tools.verdict in ("lower", "no detectable change"), tools
        lower += tools.verdict == "lower"
        rules = [compare_render.parse_rule("tool_calls:+10%", [m.metric for m in c.metrics])]
        assert compare_render.fired(c, rules) == ([], [])
    assert lower >= 27


@pytest.mark.parametrize("design", [dict(no_tools=0.3, size_sd=2.0), dict(silent=0.15, size_sd=1.0), dict(size_sd=2.0, interaction=0.8)])
def test_coverage_of_a_true_zero_with_zeros_heavy_tails_and_silent_failures(design):
    rng = random.Random(7)
    names, runs = ("match", "tool_calls", "tokens_new") + (("tokens_generated",) if "silent" in design else ()), 240
    covered = dict.fromkeys(names, 0)
    for i in range(runs):
        c = compare.compare(simulated(rng, n_tasks=(8, 20)[i % 2], repeats=(1, 3)[i // 2 % 2], **design), "v1", "v2")
        for name in names:
            m = metric(c, name)
            covered[name] += m.ci_low <= 0 <= m.ci_high
    rates = {name: hits / runs for name, hits in covered.items()}
    print(design, rates)
    assert all(0.91 <= rate <= 0.99 for rate in rates.values()), rates  # 95% ± 3 binomial standard errors (1.4% each)


def test_base_and_head_columns_never_move_against_the_change_even_with_heavy_tails():
    rng = random.Random(9)
    for _ in range(60):
        c = compare.compare(simulated(rng, n_tasks=8, repeats=1, size_sd=2.0, interaction=0.8, no_tools=0.2), "v1", "v2")
        for m in c.metrics:
            if m.kind == "cost" and m.change is not None and m.base > 0:
                assert m.head / m.base - 1 == pytest.approx(m.change / 100, abs=1e-9), m


def test_detectable_is_the_asymmetric_pair_of_a_ratio_and_no_spread_detects_nothing():
    c = compare.compare(simulated(random.Random(3), n_tasks=12), "v1", "v2")
    tokens = metric(c, "tokens_new")
    assert (1 + tokens.mde / 100) * (1 + tokens.mde_down / 100) == pytest.approx(1.0)
    assert compare_render.mde(tokens) == f"+{tokens.mde:.1f}% / {tokens.mde_down:.1f}%" and tokens.mde_down > -tokens.mde
    assert compare_render.mde(metric(c, "tokens_cached")) == "—"  # 0 everywhere: no spread to size a change from
    assert compare_render.mde(metric(c, "match")).startswith("±")


def test_a_head_that_answers_fewer_tasks_never_reads_as_better():
    rng = random.Random(5)
    drops = []
    for _ in range(60):  # before: silent failures left match and read "better: tokens_generated"
        rows = simulated(rng, n_tasks=24, repeats=3, silent=0.1, head_silent=0.35)
        c, _ = decide.verdict(rows, "v1", "v2", decision=Decision(primary=["match", "tokens_new", "tokens_generated"]))
        assert not [x for x in c.headline if x.verdict == "better"], c.headline
        drops.append(metric(c, "match").change)
    assert sum(drops) / len(drops) < -8  # the silent failures are misses: match shows them


def test_only_primary_metrics_are_called_better_or_worse():
    rows = simulated(random.Random(6), n_tasks=40, match_shift=40, token_factor=0.5, p_range=(0.1, 0.5))
    c, _ = decide.verdict(rows, "v1", "v2", decision=Decision(primary=["tokens_new"]))
    assert [(x.metric, x.model, x.verdict) for x in c.headline] == [("tokens_new", "all", "better")]
    assert metric(c, "match").verdict == "higher" and not metric(c, "match").primary  # shown, not claimed
    assert c.decision["family"] == 1 and c.decision["correction"] == "holm"
    both, _ = decide.verdict(rows, "v1", "v2")
    assert {x.metric for x in both.headline} == {"match", "tokens_new"} and both.decision["min_effect"] == {"match": 5.0, "tokens_new": 10.0}


def test_a_change_smaller_than_min_effect_is_shown_not_claimed():
    rows = simulated(random.Random(8), n_tasks=40, repeats=10, token_factor=0.93, interaction=0.02)
    c, _ = decide.verdict(rows, "v1", "v2")
    tokens = metric(c, "tokens_new")
    assert tokens.ci_high < 0 and tokens.change > -10 and tokens.verdict == "lower" and not c.headline


def test_each_model_is_claimed_within_the_same_family():
    rng = random.Random(10)
    rows = [r for r in simulated(rng, n_tasks=20, models=("big",), token_factor=0.5)] + simulated(rng, n_tasks=20, models=("small",))
    c, by_model = decide.verdict(rows, "v1", "v2")
    assert ("tokens_new", "big", "better") in [(x.metric, x.model, x.verdict) for x in c.headline]
    assert not [x for x in c.headline if x.model == "small"] and c.decision["family"] == 6  # 2 metrics × (all, big, small)
    assert by_model["big"].metrics[0].primary and compare_render.verdicts(c, "small") == "no detectable change"


def test_t_tail_probabilities_agree_with_the_quantiles():
    from agent_eval.read.stats import t_two_sided

    for df, t in [(1, 12.7062), (2, 4.3027), (3, 3.1824)] + [(df, stats.t_quantile(0.975, df)) for df in (4, 7, 10, 30)]:
        assert t_two_sided(t, df) == pytest.approx(0.05, abs=2e-4)
    assert math.isclose(t_two_sided(0.0, 5), 1.0)


@pytest.mark.parametrize("block, message", [
    ({"primary": ["nope"]}, "no metric 'nope'"),
    ({"min_effect": {"match": "5%"}}, "a rate changes in points"),
    ({"min_effect": {"tokens_new": 10}}, "a cost changes in percent; write 10.0%"),
    ({"primary": ["match"], "min_effect": {"turns": "5%"}}, "not a primary metric"),
])
def test_the_decision_block_refuses_what_it_would_misread(block, message):
    with pytest.raises(ValueError, match=message):
        Decision.model_validate(block)


def test_cache_reads_that_start_from_zero_are_seen():
    """A provider that reported no cache reads at base: the head's cache use counts, it is not dropped."""
    rows = simulated(random.Random(12), n_tasks=10)
    for r in rows:
        r["tokens_cached"] = 0 if r["revision"] == "base" else (500 if r["task"] < "t06" else 0)
    c = compare.compare(rows, "v1", "v2")
    cached = metric(c, "tokens_cached")
    assert cached.n_tasks == 10 and cached.change > 0 and cached.base < cached.head and cached.verdict == "higher"
    everywhere = [r | {"tokens_cached": 500} if r["revision"] == "head" else r for r in rows]
    shown = compare_render.change(metric(compare.compare(everywhere, "v1", "v2"), "tokens_cached"))
    assert shown.startswith("from 0"), shown
