"""The verdict compare prints: the comparison over every model and each model's own, with the
headline's claims made across all of them at once (claims.py says how)."""

from __future__ import annotations

from agent_eval.suite.decision import Decision

from .claims import apply
from .compare import Cells, Comparison, compare, per_model, summarize, two_sides


def verdict(rows: list[dict] | Cells, base: str, head: str, axis: str = "revision", *, models: list[str] = (), tiers: list[str] = (),
            tasks: list[str] = (), directions: dict[str, str] | None = None, decision: Decision | None = None
            ) -> tuple[Comparison, dict[str, Comparison]]:
    """The comparison over every model, and each model's own (none along the model axis), with the
    headline's claims made across all of them at once: what compare prints and the PR comment says."""
    decision = decision or Decision()
    cells = rows if isinstance(rows, Cells) else summarize(two_sides(rows, axis, base, head), directions)
    pooled = compare(cells, base, head, axis, models=models, tiers=tiers, tasks=tasks, decision=decision)
    by_model = {} if axis == "model" else per_model(cells, base, head, axis, models=models, tiers=tiers, tasks=tasks, decision=decision)
    return apply(pooled, by_model, decision), by_model
