"""The headline's claims. Only the suite's primary metrics can be called better or worse, and the
claims the headline could make — primary metrics × (all models, and each model when there are
several) — are one family whose error rate Holm's step-down holds under 5%: with no true change
anywhere, the headline claims nothing at least 95% of the time, whatever the number of metrics and
models. A claim also needs a change at least the suite's min_effect. Every other interval is shown
as it is (higher / lower), exploratory. A head that answers less is never called cheaper-and-better:
a cost's claim is withheld where match fell or errors rose.

Apart from compare.py (which builds on it) so that compare and decide can both use it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from agent_eval.suite.decision import Decision

from .stats import holm

# Holm at 4%, not 5%: the task-clustered t test each claim rests on runs slightly liberal at 8-20
# tasks (5.0-5.9% false verdicts per metric where 5% is nominal, benchmarks/verdict.py, 6,000 stores);
# at 5% the headline claimed something in 5.4% of 1-model null stores, at 4% it stays under 5%.
ALPHA = 0.04


class Claim(BaseModel):
    """One claim the headline makes: a primary metric better or worse, for all models or one."""

    metric: str
    model: str  # "all", or one model's name
    verdict: Literal["better", "worse"]
    change: float
    ci_low: float
    ci_high: float
    p_adjusted: float  # Holm-adjusted over the family of claims the headline could make


def apply(pooled, by_model: dict, decision: Decision):
    """Make the headline's claims across `pooled` (a compare.Comparison) and, when there are several,
    each model's of `by_model`; set every metric's verdict to match; return `pooled`, its headline filled in."""
    slices = [("all", pooled)] + (list(by_model.items()) if len(by_model) > 1 else [])
    effects = decision.effects()
    for _, c in slices:
        for m in c.metrics:
            m.primary = m.metric in effects
            if m.verdict in ("better", "worse"):  # claimed in an earlier, smaller family
                m.verdict = "higher" if m.change > 0 else "lower"
    tests = [(model, c, m) for model, c in slices for m in c.metrics if m.primary and m.p is not None and m.direction != "neutral"]
    rejected, adjusted = holm([m.p for _, _, m in tests], ALPHA)
    claims = []
    for (model, c, m), rejects, p in zip(tests, rejected, adjusted, strict=True):
        if rejects and abs(m.change) >= effects[m.metric] and not _answers_less(c, m):
            m.verdict = "better" if (m.change > 0) == (m.direction == "up") else "worse"
            claims.append(Claim(metric=m.metric, model=model, verdict=m.verdict, change=m.change, ci_low=m.ci_low, ci_high=m.ci_high,
                                p_adjusted=p))
    for model, c in slices:  # each model's comparison holds its share of the one family's claims
        c.headline = [x for x in claims if x.model == model] if c is not pooled else claims
        c.decision = {"primary": decision.primary, "min_effect": effects, "correction": "holm", "alpha": ALPHA, "family": len(tests)}
    pooled.method = pooled.method.split(" Headline:")[0] + (
        f" Headline: only the primary metrics ({', '.join(decision.primary)}) are called better/worse, each when its change "
        f"is at least its min_effect and survives Holm's step-down correction over the {len(tests)} tests the headline could "
        f"make (primary metrics × all models{' and each model' if len(slices) > 1 else ''}) at a family-wise {ALPHA:.0%}; "
        "other intervals are exploratory (higher/lower).")
    return pooled


def _answers_less(c, m) -> bool:
    """A cost that fell while head answered less — match lower or errors (silent failures included)
    higher, each by its own 95% interval — is a trade, not an improvement: not claimed better."""
    worse = {x.metric: x.ci_low is not None and (x.ci_high < 0 if x.metric == "match" else x.ci_low > 0) for x in c.metrics}
    return m.kind == "cost" and m.change < 0 and (worse.get("match", False) or worse.get("errors", False))
