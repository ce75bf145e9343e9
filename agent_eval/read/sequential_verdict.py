"""compare on a store a suite ran in rounds (`run --until-decided`): the sequential interval and
verdict at the round it stopped, never the fixed-design ones, which after an early stop would be
too narrow (the stop itself chose a look where the change looked large)."""

from __future__ import annotations

from .claims import Claim
from .compare import Comparison, as_columns, compare, distinct
from .sequential import Design, interval, look
from .sides import SIDES, aliases, resolve
from .stats import holm

FUTILE = "smaller than min_effect"


def matching(plans: list[dict], rows, axis: str, base: str, head: str) -> dict | None:
    """The plan whose rounds compared exactly what --base and --head name, along this axis. rows:
    the runs, as columns (or flat rows)."""
    ran = [p for p in plans if isinstance(p.get("sequential"), dict) and p["sequential"].get("round") and p["sequential"].get("axis") == axis]
    if not ran or not len(rows):  # the usual case, and cheap: the report asks for every pair of a large store
        return None
    known = aliases(axis, set(distinct(as_columns(rows), *SIDES[axis])))
    sides = (resolve(known, axis, base), resolve(known, axis, head))
    return next((p for p in ran if sides == (p["sequential"].get("base"), p["sequential"].get("head"))), None)


def apply(c: Comparison, plan: dict, rows, directions: dict[str, str], decision) -> Comparison:
    """c with every interval and verdict the sequential design's at the round the suite stopped."""
    seq = plan["sequential"]
    design = Design.model_validate({k: v for k, v in seq.items() if k in Design.model_fields})
    k = seq["round"]
    keys = set(plan.get("cells", []))
    cols = as_columns(rows)
    used = cols.take(cols.isin("key", keys) & (cols["repeat"] < k))
    at = compare(used, design.base, design.head, design.axis, directions=directions, decision=decision)
    seen = look(at.metrics, decision.effects(), design, k)
    states = {m.metric: m.state for m in seen.metrics}
    alpha = design.spent[k - 1]
    for m in at.metrics:
        bounds = interval(m, alpha)
        m.ci_low, m.ci_high = bounds if bounds else (None, None)
        state = states.get(m.metric)
        m.verdict = (state if state in ("better", "worse") else FUTILE if state == "futile" else
                     m.verdict if bounds is None else "no detectable change" if m.ci_low <= 0 <= m.ci_high else
                     "higher" if m.ci_low > 0 else "lower")
    for m in at.metrics:  # a p-value at the look's level: p ≤ its alpha exactly when p × α / alpha ≤ α (so --fail-on keeps its rate)
        m.p = None if m.p is None else min(1.0, m.p * design.alpha / alpha)
    tested = [m for m in at.metrics if m.primary and m.p is not None and m.direction != "neutral"]
    adjusted = dict(zip([m.metric for m in tested], holm([m.p for m in tested], design.alpha)[1], strict=True))
    at.headline = [Claim(metric=m.metric, model="all", verdict=m.verdict, change=m.change, ci_low=m.ci_low, ci_high=m.ci_high,
                         p_adjusted=adjusted[m.metric]) for m in at.metrics if m.verdict in ("better", "worse")]
    at.decision = {**c.decision, "family": len(tested), "alpha": alpha, "sequential": {
        "method": design.method, "round": k, "rounds": design.looks, "stopped": seq.get("stopped", ""), "runs": seq.get("runs"),
        "max_runs": seq.get("max_runs"), "alpha_spent": design.spent, "suite": plan.get("suite")}}
    at.method = (f"{at.method.split(' Headline:')[0]} Sequential: suite {plan.get('suite')} ran in rounds ({design.method}, alpha "
                 f"{design.alpha:g} over at most {design.looks} looks); every interval here is the one of round {k}, at its alpha "
                 f"{alpha:.2g} (the intervals of all looks hold the truth together at least {1 - design.alpha:.0%} of the time), "
                 f"claims Holm-corrected over the primary metrics at that alpha; p-values scaled to it (p × {design.alpha:g} / {alpha:.2g}).")
    return at


def note(c: Comparison) -> str | None:
    """The sentence the table and the PR comment say about the rounds: "decided after 2 of 5 rounds (38% of the maximum runs)"."""
    seq = c.decision.get("sequential")
    if not seq:
        return None
    share = f" ({seq['runs'] / seq['max_runs']:.0%} of the maximum runs)" if seq.get("max_runs") else ""
    word = {"decided": "decided", "futile": "stopped for futility (no change as large as min_effect)",
            "max": "not decided by the maximum"}.get(seq["stopped"], "still running")
    return (f"{word} after {seq['round']} of {seq['rounds']} rounds{share}; intervals are the sequential design's at that round "
            f"(alpha {c.decision['alpha']:.2g}), wider than a fixed design's")
