"""The records of a cell: what it is (Cell, written to cell.json before it runs) and what came of it
(Result, written to result.json last). Every stage after the plan reads and writes these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, computed_field

from agent_eval.suite.config import Budgets, ModelSpec
from agent_eval.suite.task import Task
from agent_eval.suite.releases import Release

Status = Literal["ok", "agent_error", "timeout", "setup_error", "silent_failure", "infra_error"]
# Whose fault a bad run was. setup_error: the harness could not prepare the cell; infra_error: the
# model provider or the machine failed (5xx after retries, pi killed by a signal or out of memory,
# the local model server died). Neither says anything about the agent: both are retried by the next
# run and kept out of match % and medians, and counted as errors.
RETRIED = ("setup_error", "infra_error")


def run_folder(sha: str, model_slug: str, tier: str, task: str, repeat: int, key: str) -> str:
    return f"runs/{sha[:10]}/{model_slug}/{tier}/{task}/r{repeat}-{key[:8]}"


class Revision(BaseModel):
    ref: str
    name: str
    sha: str  # a git SHA, or for a release the digest of its files' hashes
    release: Release | None = None  # the resolved distribution files, when named by a release


class SessionRef(BaseModel):
    """Where a cell sits in a session: the tasks run one after another in one pi session."""

    id: str  # shared by every task of the session; the hash of their run keys in order
    position: int  # 1: the first task, the one that meets the library fresh
    group: int  # which group of the suite's tasks (orders.py)
    order: int  # which of the group's orders
    tasks: list[str]  # the session's task ids, in the order they run


class Cell(BaseModel):
    """One (model, revision, task, tier, repeat): everything the worker needs besides the snapshot."""

    key: str
    suite: str
    profile: str
    model: ModelSpec
    revision: Revision
    task: Task
    tier: str
    repeat: int
    budgets: Budgets
    thinking: str
    agent: str = "pi"
    agent_version: str
    serving: dict | None = None  # how the offline model was served (engine, weights hash, template…)
    session: SessionRef | None = None  # None: a run of its own (one-shot)
    resolve_at: str | None = None  # its environment's dependencies as of this time (the suite's); None: as the index has them now
    judge: ModelSpec | None = None  # the model its task's judge names (the suite's judges:), never part of the run key

    @computed_field  # stored in cell.json and result.json, so every record says where it lives
    @property
    def folder(self) -> str:
        return run_folder(self.revision.sha, self.model.slug, self.tier, self.task.id, self.repeat, self.key)

    @property
    def unit(self) -> str:
        """The unit of work it is run in (claimed, scheduled, given a Job): its session, or itself."""
        return self.session.id if self.session else self.key


class Tokens(BaseModel):
    new: int = 0  # uncached input
    cached: int = 0  # cache reads
    generated: int = 0  # output, reasoning included

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(new=self.new + other.new, cached=self.cached + other.cached, generated=self.generated + other.generated)


class MarkerHit(BaseModel):
    name: str
    where: str
    excerpt: str


class Step(BaseModel):
    """One tool call, in order: what the report's timeline shows."""

    tool: str
    input: str
    error: bool


class FileChange(BaseModel):
    """A file the agent created, changed or deleted in its working dir (run/workfiles.py)."""

    path: str  # relative to the working dir
    size: int  # bytes after the run; 0 when deleted
    change: Literal["created", "changed", "deleted"]
    kept: bool = True  # in the run's workspace.tar.gz (a deleted file: nothing to keep)


class Check(BaseModel):
    name: str
    passed: bool
    evidence: str = ""  # why, as a judge quotes it for an expectation


class Grader(BaseModel):
    """One grader's outcome (grade/graders.py). `error`: the grader could not grade (a verifier that
    crashed or timed out, a judge's malformed reply): the grading's fault, never the agent's miss."""

    kind: Literal["answer", "verify", "judge", "assertions", "trigger"]
    status: Literal["passed", "failed", "error"]
    score: float | None = None  # partial credit, 0 to 1; None on error
    seconds: float = 0.0
    output: str = ""  # the tail of what it printed, the judge's reason, or why it could not grade
    checks: list[Check] = []  # a verifier's named checks, a judge's expectations, each assertion
    tokens: Tokens | None = None  # a judge's, never counted in the agent's


Where = Literal["library", "installed", "skill", "inputs", "help", "other"]


class Read(BaseModel):
    """A file the agent read, or a help page it asked for, normalised to where it belongs (grade/reads.py):
    the library's checkout (`library`), the installed package by its path inside site-packages
    (`installed`), the Skill folder, the task's inputs, `help` (a pseudo-path: `wfl top` for
    `wfl top --help`), or `other`."""

    where: Where
    path: str
    turn: int | None = None  # the first turn that read it; None: not known (read from the steps of a run without a trace)
    lines: int | None = None  # lines shown, over every read of it that says; None: not known
    times: int = 1

    @property
    def name(self) -> str:
        return f"{self.where}: {self.path}"


class Result(BaseModel):
    cell: Cell
    status: Status
    ended_by: str | None = None  # which budget stopped the run: wall_clock, max_turns, max_tool_calls; activated: until_activated
    matched: bool | None = None  # None: behaviour-only task, or no answer to score
    answer: str = ""
    wall_seconds: float = 0.0  # the whole cell, setup included
    agent_seconds: float = 0.0  # the pi process alone
    turns: int = 0  # successful model calls
    tool_calls: dict[str, int] = {}
    tokens: Tokens | None = Tokens()  # as the metering proxy saw them: ground truth; None: the provider reported no usage
    tokens_trace: Tokens = Tokens()  # as pi's session file reports them
    requests: int = 0  # model requests through the proxy, pi's retries included
    cost: float | None = None
    markers: list[MarkerHit] = []
    graders: list[Grader] = []  # each declared grader's outcome; matched: every one passed (None if one could not grade)
    score: float | None = None  # the graders' mean partial credit; None: no grader, or one could not grade
    tampered: list[str] = []  # input files the agent changed or deleted (checksummed before and after)
    files: list[FileChange] = []  # what the agent left in its working dir, beside the trace as workspace.tar.gz
    files_cut: str | None = None  # why workspace.tar.gz does not hold every created and changed file (its size cap)
    grading: str | None = None  # digest of what graded it (suite/identity.py); None: graded before gradings were recorded
    errors: list[str] = []
    steps: list[Step] = []
    activated_at: int | None = None  # the turn the agent first read a SKILL.md (any tool); None: never, or not recorded
    reads: list[Read] | None = None  # None: not recorded (stored before agent-eval kept it): readers derive it from the trace
    isolation: Literal["bwrap", "none"] | None = None  # how pi was (or, on a setup_error, would have been) sandboxed (sandbox.py); None: unknown
    environment: str | None = None  # digest of what its environment resolved to: <store>/envs/<digest>.txt; None: not recorded
    session_position: int | None = None  # in a session: 1 for the first task; every number above is this task's alone
    trace_from: int = 0  # in a session: trace.jsonl's entries before this task's prompt (the earlier tasks')
    harness_version: str = ""
    finished_at: str = ""


class PlannedModel(BaseModel):
    id: str
    name: str | None = None


class PlannedMarker(BaseModel):
    name: str
    where: str
    description: str = ""
    direction: str | None = None


class PlanFile(BaseModel):
    """What the readers take from a suite's plan.json (run/plan.py's Plan.summary writes it), checked
    before they use it: a damaged one would otherwise fail deep inside them."""

    suite: str
    profile: str
    revisions: list[Revision]
    models: list[PlannedModel]
    repeats: int
    agent_versions: list[str] = []
    tiers: list[str] = []
    markers: list[PlannedMarker] = []
    grid: list[tuple[str, str, str, str]] = []
    task_repeats: dict[str, int] = {}
