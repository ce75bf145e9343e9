"""What a comparison decides: the metrics compare knows, the unit each changes in (points for a
rate, percent for a cost), and a suite's `decision:` — the primary metrics its headline and the
words better/worse speak of, and the smallest change of each that matters."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# and marker:NAME: changes in points. score: the graders' mean credit, in % (a Skill's expectation pass rate);
# recall: runs of should-trigger queries that read the Skill's SKILL.md; false_activation: of should-not-trigger ones.
RATE_METRICS = ("match", "score", "errors", "silent_failures", "recall", "false_activation")
COST_METRICS = ("turns", "tool_calls", "tokens_new", "tokens_cached", "tokens_generated", "wall_seconds", "cost")  # changes in %
DEFAULT_EFFECTS: dict[str, float | str] = {"match": 5, "tokens_new": "10%"}


def metric_kind(name: str) -> str | None:
    """rate, cost, or None for a name that is no metric."""
    return "rate" if name in RATE_METRICS or name.startswith("marker:") else "cost" if name in COST_METRICS else None


def effect_size(metric: str, value: float | str) -> float:
    """A threshold as the metric's unit reads it: points for a rate (5), percent for a cost ("10%").
    A % on a rate or a bare number on a cost is refused: each would silently mean the other unit."""
    kind, text = metric_kind(metric), str(value).strip()
    percent = text.endswith("%")
    if kind == "rate" and percent:
        raise ValueError(f"{metric} {text}: a rate changes in points, not percent; write {text.rstrip('%')} (points)")
    if kind == "cost" and not percent:
        raise ValueError(f"{metric} {text}: a cost changes in percent; write {text}%")
    try:
        return float(text.rstrip("%"))
    except ValueError:
        raise ValueError(f"{metric} {text!r} is not a number; write e.g. {'5' if kind == 'rate' else '10%'}") from None


class Decision(BaseModel):
    """What a comparison decides (compare reads it from the plan): the primary metrics, the only ones the
    headline and the words better/worse speak of, and the smallest change of each that matters (a
    significant change smaller than that is shown, not claimed). Defaults: match (5 points) and
    tokens_new (10%)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    primary: list[str] = Field(default=["match", "tokens_new"], min_length=1)
    min_effect: dict[str, float | str] = {}  # default: DEFAULT_EFFECTS for the primary metrics it names, else 0

    @field_validator("primary")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if metric_kind(name) is None:
                raise ValueError(f"no metric {name!r}; give some of {', '.join(RATE_METRICS + COST_METRICS)}, marker:NAME")
        return value

    @model_validator(mode="after")
    def _effects_of_primaries(self) -> Decision:
        for name, value in self.min_effect.items():
            if name not in self.primary:
                raise ValueError(f"min_effect names {name!r}, which is not a primary metric; add it to primary or remove it")
            effect_size(name, value)
        return self

    def effects(self) -> dict[str, float]:
        """Each primary metric's smallest change that matters, in its unit, as a magnitude."""
        given = {**{k: v for k, v in DEFAULT_EFFECTS.items() if k in self.primary}, **self.min_effect}
        return {name: abs(effect_size(name, given[name])) if name in given else 0.0 for name in self.primary}
