"""The sequential design against a known truth (tests/rounds_sim.py), 1,000 simulated comparisons
per design, through the same look a run makes: false claims, coverage, runs spent."""

from __future__ import annotations

import math

import pytest

from agent_eval.read import sequential
from agent_eval.read.stats import t_two_sided
from rounds_sim import Truth, many

N = 1000
DESIGN = dict(tasks=40, effects=(15.0, 15.0))  # 40 tasks × at most 5 rounds; min_effect 15 points, 15%


def test_spending_sums_to_alpha_and_is_small_early():
    d = sequential.design(5)
    assert math.isclose(sum(d.spent), 0.05, rel_tol=1e-12)
    assert d.spent[0] < 1e-4 < d.spent[1] < d.spent[2] < d.spent[3]  # O'Brien-Fleming-like: almost nothing at the first look


@pytest.mark.parametrize("alpha,df", [(0.05, 4), (1e-5, 11), (0.002, 39)])
def test_t_critical_is_the_exact_tail(alpha, df):
    assert math.isclose(t_two_sided(sequential.t_critical(alpha, df), df), alpha, rel_tol=1e-6)


@pytest.mark.parametrize("truth", [Truth(**DESIGN), Truth(tasks=12, effects=(20.0, 25.0))], ids=["40 tasks", "12 tasks"])
def test_no_change_no_claim_and_the_interval_covers(truth):
    found = many(truth, N, seed=3)
    assert found["false_claim"] <= 0.05  # family-wise over both primary metrics and every look
    assert min(found["coverage"].values()) >= 0.95
    assert found["most"] <= truth.looks


def test_a_strong_effect_is_decided_in_half_the_runs():
    found = many(Truth(**DESIGN, match=30, tokens=-40), N, seed=4)
    assert found["runs"] <= 0.5 and found["most"] <= 5
    assert min(found["claimed"].values()) >= 0.99 and found["false_claim"] == 0
    assert min(found["coverage"].values()) >= 0.95


def test_no_effect_stops_early_for_futility():
    found = many(Truth(**DESIGN), N, seed=5)
    assert found["runs"] <= 0.8
