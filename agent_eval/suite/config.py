"""The files a user writes — suite, profile, marker (a task: task.py) — as pydantic models. load.py reads
them from disk; a wrong value is one ConfigError line that names the file, the field and the fix.
Nothing here runs anything.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from .decision import Decision
from .text import first_control

THINKING_LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh")


class ConfigError(Exception):
    """A user file is wrong. The message is one line: file, field, what to do."""


NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"  # becomes a folder name: no separators, no leading dot or dash
NAME_RULE = "letters, digits, _ . - (no slashes or spaces), not starting with . or -"
Name = Annotated[str, Field(pattern=NAME, max_length=100)]


def _printable(value: str) -> str:
    # Shown on the terminal by validate, run and the readers: an escape sequence or a newline in it
    # could clear the screen or forge a line of output.
    if (char := first_control(value)) is not None:
        raise ValueError(f"holds a control character ({char}); remove it")
    return value


Text = Annotated[str, AfterValidator(_printable)]  # free text shown to the user: a display name, a description
Count = Annotated[int, Field(strict=True)]  # strict: `repeats: true` is a mistake, not 1

MIN_SECONDS, MAX_SECONDS = 1, 7 * 24 * 3600


def _seconds(value: float) -> float:
    # A timeout below a second ends every run before pi starts; NaN fails every comparison, so say what it is.
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value} is not a number; give seconds, e.g. 300")
    if not MIN_SECONDS <= value <= MAX_SECONDS:
        raise ValueError(f"{value:g} seconds is out of range; give from {MIN_SECONDS} second to {MAX_SECONDS} (a week), e.g. 300")
    return value


Seconds = Annotated[float, Field(strict=True), AfterValidator(_seconds)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when first used: a command that never makes one never pays for it


# --- profile -----------------------------------------------------------------------------------


class Marker(Strict):
    name: Name
    where: Literal["command", "code", "file_read", "answer"]
    pattern: str
    description: Text = ""
    direction: Literal["up", "down"] | None = None  # is more adoption better (up) or worse (down)? compare's verdict; None: neutral

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regex ({err}); escape special characters like ( [ . with \\") from None
        return value


SPEC_PLACEHOLDERS = ("source", "sha", "repo")  # what run/prepare.py's install_requirements fills in


class Install(Strict):
    # A pip requirement. {source} is the library's tree at the revision, {sha} the full SHA, {repo}
    # the git URL; extras are appended to it as [a,b].
    spec: str = "{source}"
    extras: list[str] = []
    packages: list[str] = []  # more requirements installed beside the library
    constraints: str | None = None  # a pip constraints file (relative to the profile folder) every install obeys
    python: str | None = None  # e.g. "3.11"; default: the Python running agent-eval

    @field_validator("spec")
    @classmethod
    def _template(cls, value: str) -> str:
        # run/prepare.py fills it with str.format: an unknown {name} or a lone brace would crash every run.
        allowed = ", ".join(f"{{{p}}}" for p in SPEC_PLACEHOLDERS)
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
            unknown = next((n for n in names if n not in SPEC_PLACEHOLDERS), None)
            if unknown is None:
                value.format(source=Path("src"), sha="0" * 40, repo="repo")  # a bad format spec or conversion, as prepare.py fills it
        except (ValueError, TypeError) as err:
            raise ValueError(f"'{value[:60]}' is not a valid template ({err}); write a literal brace as {{{{ or }}}}, placeholders: {allowed}") from None
        if unknown is not None:
            raise ValueError(f"unknown placeholder {{{unknown}}}; the placeholders are {allowed}")
        return value


class Skill(Strict):
    # Exactly one of: a folder in the repository at the revision, or a folder in the profile.
    path: str | None = None
    dir: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Skill:
        if (self.path is None) == (self.dir is None):
            raise ValueError("give exactly one of path (in the repo) or dir (in the profile folder)")
        if self.path is not None and (Path(self.path).is_absolute() or ".." in Path(self.path).parts):
            raise ValueError(f"path '{self.path}' must be relative to the repository's root, without '..'")
        return self


class Tier(Strict):
    checkout: bool = False  # the source at the revision, checked out under <workdir>/<profile name>
    exclude: list[str] = []  # paths of the checkout left out of it (e.g. skills/: an arm that must not see the Skill)
    skill: bool = False  # the profile's Skill passed to pi with --skill
    skill_dir: str | None = None  # this tier's own Skill: a folder of the profile passed with --skill (an older version of it…)
    files: list[str] = []  # files or folders of the profile copied into the working dir


class Profile(Strict):
    name: Name
    description: Text = ""
    repo: str | None = None  # git URL or local path; needed when a suite names a git revision (ref:)
    install: Install = Install()
    skill: Skill | None = None
    tiers: dict[Name, Tier] = Field(default={}, min_length=1)  # default: bare, clone, and skill when the profile has a Skill
    markers: list[Marker] = []
    network: Literal["host", "none"] = "host"  # none: the sandboxed agent reaches the metering proxy only

    # Set by the loader, not by the YAML.
    root: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)
    content_hash: SkipJsonSchema[str] = Field(default="", exclude=True)
    action_hash: SkipJsonSchema[str] = Field(default="", exclude=True)  # identity.py: the run key's part
    tier_skills: SkipJsonSchema[dict[str, str]] = Field(default={}, exclude=True)  # identity.py: a tier's own Skill, in its cells' keys
    # Set by the plan: each local path among install.packages, as written -> the digest of its content.
    local: SkipJsonSchema[dict[str, str]] = Field(default={}, exclude=True)

    @field_validator("repo")
    @classmethod
    def _fetchable(cls, value: str | None) -> str | None:
        if value is None:
            return value
        # git's `transport::address` form runs programs (ext::sh -c …): only plain URLs and paths.
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)(://|::)", value)
        if "::" in value.split("/")[0] or (scheme and scheme[1].lower() not in ("https", "http", "ssh", "git", "file")):
            raise ValueError(f"'{value[:60]}' is not a repository URL git may fetch safely; use https://, ssh://, git@host:path or a local path")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_tiers(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tiers" not in data:
            tiers = {"bare": {}, "clone": {"checkout": True}}
            data = {**data, "tiers": {**tiers, "skill": {"skill": True}} if data.get("skill") else tiers}
        return data

    @model_validator(mode="after")
    def _skill_declared(self) -> Profile:
        for name, tier in self.tiers.items():
            if tier.skill and self.skill is None:
                raise ValueError(f"tier '{name}' uses a skill but the profile has no 'skill:' section")
        names = [m.name for m in self.markers]
        if len(names) != len(set(names)):
            raise ValueError(f"marker names must be unique, got {names}")
        if self.repo is None and "{repo}" in self.install.spec:
            raise ValueError("install.spec uses {repo} but the profile has no repo: set repo to the library's git URL or path")
        return self


# --- suite -------------------------------------------------------------------------------------


class ModelSpec(Strict):
    # `local/<name>` is the offline model agent-eval serves itself; an id with base_url is any
    # OpenAI-compatible endpoint; any other id is a Hub model, through pi's built-in `huggingface`
    # provider. Either way pi only ever talks to our metering proxy.
    id: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
    name: Text | None = None
    base_url: str | None = None
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None  # the *name* of the variable holding the key, never the key
    context_window: Count = Field(default=32768, ge=1024)
    max_tokens: Count = Field(default=4096, ge=16)

    @field_validator("base_url")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", value):
            raise ValueError(f"'{value}' is not an http(s) URL; give the endpoint's base, e.g. http://127.0.0.1:8000/v1")
        return value

    @property
    def display(self) -> str:
        return self.name or self.id

    @property
    def slug(self) -> str:
        # A folder name: bounded, so a long id never makes a path the filesystem refuses.
        # It must be a plain name like any other path part (NAME): never '.', '..' or a hidden folder.
        slug = re.sub(r"[^A-Za-z0-9._-]+", "--", self.id).strip("-.") or "model"
        slug = slug if len(slug) <= 80 else f"{slug[:71]}-{hashlib.sha256(self.id.encode()).hexdigest()[:8]}"
        return slug if re.fullmatch(NAME, slug) else f"model-{hashlib.sha256(self.id.encode()).hexdigest()[:8]}"

    @property
    def is_local(self) -> bool:
        return self.id.startswith("local/")

    @property
    def is_hub(self) -> bool:
        return self.base_url is None and not self.is_local

    @property
    def key_env(self) -> str:
        return self.api_key_env or ("HF_TOKEN" if self.is_hub else "")


class RevisionSpec(Strict):
    ref: Text | None = None  # a git tag, branch or SHA
    release: Text | None = None  # or a released version, NAME==VERSION, installed from the package index
    name: Text | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RevisionSpec:
        if (self.ref is None) == (self.release is None):
            raise ValueError("give exactly one of ref (a git tag, branch or SHA) or release (NAME==VERSION)")
        return self


class Budgets(Strict):
    timeout: Seconds = 600.0  # wall-clock seconds per cell
    max_turns: Count | None = Field(default=None, ge=1)  # model calls
    max_tool_calls: Count | None = Field(default=None, ge=1)
    # A trigger query's run ends at its first read of a SKILL.md: whether the Skill was activated is
    # then known, and the rest of the run would cost tokens for nothing. Other tasks run to the end.
    until_activated: bool = False


class AgentSpec(Strict):
    version: list[Text] | None = None  # pi versions, an axis like models; default: the one agent-eval pins (checked by suite/load.py)

    @field_validator("version", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [str(value)] if isinstance(value, (str, int, float)) else value


class Sessions(Strict):
    """Groups of `tasks` tasks run one after another in one pi session; each group in `orders`
    orders (rotations of a shuffled base order, seeded by `seed`), so position and task are not
    confounded. plan.py draws them; the README says how."""

    tasks: Count = Field(le=50)  # tasks per session
    orders: Count = Field(default=1, ge=1)  # orders per group; at most `tasks`
    seed: Count = 0  # the shuffle's seed: recorded, so the same suite always draws the same orders

    @field_validator("tasks")
    @classmethod
    def _several(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"a session of {value} task is no session; give 2 or more, or leave sessions out for one-shot runs")
        return value

    @model_validator(mode="after")
    def _orders_fit(self) -> Sessions:
        if self.orders > self.tasks:
            raise ValueError(f"orders ({self.orders}) cannot exceed tasks ({self.tasks}): a group of {self.tasks} tasks has "
                             f"{self.tasks} rotations; lower orders or raise tasks")
        return self


def moment(value: Any) -> str:
    """A date or a time (YAML gives either, or text) as UTC ISO 8601, to the second: what uv takes."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, datetime):
        raise ValueError("not a date; write a date (2026-01-31) or a UTC time (2026-01-31T12:00:00Z)")
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Suite(Strict):
    name: Name
    profile: str  # a name (profiles/<name>/ beside the suite, or an installed plugin) or a path
    models: list[ModelSpec] = Field(min_length=1)
    revisions: list[RevisionSpec] = Field(min_length=1)
    tasks: list[Text] = Field(default=["*"], min_length=1)
    tiers: list[Text] | None = Field(default=None, min_length=1)  # default: every tier of the profile (bare, clone, skill)
    repeats: Count = Field(default=1, ge=1, le=1000)
    budgets: Budgets = Budgets()
    thinking: Literal[THINKING_LEVELS] = "off"  # type: ignore[valid-type]
    agent: AgentSpec = AgentSpec()
    sessions: Sessions | None = None  # default: every task a run of its own (one-shot)
    decision: Decision = Decision()  # what compare's headline decides on
    judges: dict[Name, ModelSpec] = {}  # models a task's judge: names, any OpenAI-compatible endpoint (or a Hub model)
    store: str = "agent-eval-results"
    tasks_dir: str | None = None  # default: tasks/<profile> beside the suite
    network: Literal["host", "none"] = "host"  # none: every task as if it said network: none
    # Every environment resolves its dependencies as of this moment (uv --exclude-newer), the library
    # under test exempt; default: when the suite was first planned (its plan.json keeps it).
    resolve_at: str | None = None

    path: SkipJsonSchema[Path] = Field(default=Path("suite.yaml"), exclude=True)

    @field_validator("resolve_at", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> Any:
        return None if value is None else moment(value)

    @field_validator("models", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        return [{"id": m} if isinstance(m, str) else m for m in value] if isinstance(value, list) else value

    @field_validator("judges", mode="before")
    @classmethod
    def _judge_shorthand(cls, value: Any) -> Any:
        return {k: {"id": m} if isinstance(m, str) else m for k, m in value.items()} if isinstance(value, dict) else value

    @field_validator("sessions", mode="before")
    @classmethod
    def _sessions_shorthand(cls, value: Any) -> Any:
        return {"tasks": value} if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("revisions", mode="before")
    @classmethod
    def _revision_shorthand(cls, value: Any) -> Any:
        return [{"ref": r} if isinstance(r, str) else r for r in value] if isinstance(value, list) else value

    @property
    def store_path(self) -> Path:
        return (self.path.parent / self.store).resolve()
