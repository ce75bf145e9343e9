"""A task file (tasks/<profile>/<id>.yaml) as a pydantic model: the prompt and inputs the agent is
given, and the graders that score what it did — an expected answer, a verifier, a judge, assertions,
a trigger query's activation. load.py reads it; identity.py splits what the agent is given (the run
key) from what grades it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from .config import Count, Name, Seconds, Strict, Text


class Verify(Strict):
    """A verifier: a script run after the agent, on the working dir it left (run/verifier.py)."""

    script: Annotated[str, Field(min_length=1)]  # a file of `dir`: run with the revision's python (.py), sh (.sh), or as a program
    args: list[str] = []
    dir: str | None = None  # the verifier's folder, beside the task; default: <task id>/verify
    timeout: Seconds = 60.0


class Judge(Strict):
    """A judge: a model of the suite's `judges:` scores the agent's work against a rubric, or gives a
    verdict with evidence on each of a list of expectations (the Agent Skills guide's), its score the
    share of them met (run/judge.py)."""

    model: Name  # a name among the suite's judges
    rubric: str | None = None
    expectations: list[Annotated[str, Field(min_length=1)]] = []
    files: bool = False  # show the judge the text files the agent created or changed, besides its answer
    threshold: float = Field(default=0.5, ge=0, le=1)  # passed: a score at least this

    @field_validator("rubric")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty; write what a good answer does, e.g. 'names the three columns and their types'")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _something_to_judge(self) -> Judge:
        if not self.rubric and not self.expectations:
            raise ValueError("give a rubric (what a good answer does) or expectations (statements the judge checks one by one)")
        return self


class Assertion(Strict):
    """A deterministic expectation (grade/assertions.py): exactly one of `contains` (text, any case),
    `regex`, both looked for in the answer and the text files the agent left, or `tool` (the agent
    called this pi tool: bash, read, write, edit…)."""

    text: Text  # the statement as its author wrote it: the check's name in the result
    contains: str | None = None
    regex: str | None = None
    tool: str | None = None

    @model_validator(mode="after")
    def _one_check(self) -> Assertion:
        given = [k for k in ("contains", "regex", "tool") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of contains, regex or tool")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as err:
                raise ValueError(f"regex is not valid ({err})") from None
        return self


class Task(Strict):
    id: Name = ""  # from the file name (load.py checks it first, to say so)
    prompt: Annotated[str, Field(min_length=1)]
    expected: str | None = None  # None: behaviour-only, never counted in match %
    match: Literal["substring", "regex", "exact"] = "substring"
    timeout: Seconds | None = None  # overrides the suite's budget
    tags: list[Text] = []
    files: list[str] = []  # input files beside the task, copied into the working dir
    repeats: Count | None = Field(default=None, ge=1)  # more runs than the suite's `repeats`, for a cheap or noisy task
    network: Literal["host", "none"] = "host"  # none: the sandboxed agent reaches the metering proxy only
    verify: Verify | None = None  # a verifier of what the agent left; matched needs every grader to pass
    judge: Judge | None = None  # a model's score against a rubric
    assertions: list[Assertion] = []  # deterministic checks of the answer, the files left and the tools called
    trigger: bool | None = None  # a trigger query: should the agent read the Skill's SKILL.md for this prompt? graded as activation

    root: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)
    content_hash: SkipJsonSchema[str] = Field(default="", exclude=True)  # the whole file and inputs: the run key before graders left it
    action_hash: SkipJsonSchema[str] = Field(default="", exclude=True)  # identity.py: what the agent is given, the run key's part
    grading_hash: SkipJsonSchema[str] = Field(default="", exclude=True)  # identity.py: what grades it

    @property
    def verify_dir(self) -> Path | None:
        return self.root / (self.verify.dir or f"{self.id}/verify") if self.verify else None

    @field_validator("prompt", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("expected", mode="before")
    @classmethod
    def _number_is_text(cls, value: Any) -> Any:
        # `expected: 1626` in YAML is a number; the answer it is matched against is text.
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _regex_compiles(self) -> Task:
        if self.match == "regex" and self.expected is not None:
            try:
                re.compile(self.expected)
            except re.error as err:
                raise ValueError(f"expected is not a valid regex ({err})") from None
        if self.prompt.lstrip().startswith("-"):
            raise ValueError("prompt must not start with '-' (pi would read it as an option)")
        return self
