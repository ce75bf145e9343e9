"""Synthetic results written into a real store layout: for report tests (hand-made cases) and the
report benchmark (sweeps of 1k to 100k runs)."""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import orjson

from agent_eval.suite.config import Budgets, ModelSpec
from agent_eval.suite.task import Task
from agent_eval.store.records import Cell, MarkerHit, Result, Revision, Step, Tokens


def revision(i: int) -> Revision:
    return Revision(ref=f"v5.{i}", name=f"v5.{i}", sha=f"{i:04x}" + "ab" * 18)


def result(model: str, rev: Revision, task: str, tier: str, repeat: int = 0, *, status: str = "ok", matched: bool | None = True,
           wall: float = 10.0, tokens: tuple[int, int, int] = (100, 50, 20), turns: int = 3, markers: tuple[str, ...] = (),
           expected: str | None = "x", cost: float | None = None, agent_version: str = "0.73.1") -> Result:
    identity = (model, rev.sha, task, tier, repeat) + ((agent_version,) if agent_version != "0.73.1" else ())  # as before for 0.73.1
    cell = Cell(
        key=hashlib.sha256(repr(identity).encode()).hexdigest(), suite="synthetic", profile="lib",
        model=ModelSpec(id=model), revision=rev, task=Task(id=task, prompt=f"Do {task}.", expected=expected),
        tier=tier, repeat=repeat, budgets=Budgets(), thinking="off", agent_version=agent_version,
    )
    return Result(
        cell=cell, status=status, matched=matched, answer=f"answer of {task}", wall_seconds=wall, agent_seconds=wall - 0.01,
        turns=turns, tool_calls={"bash": turns}, tokens=Tokens(new=tokens[0], cached=tokens[1], generated=tokens[2]),
        requests=turns, cost=cost, markers=[MarkerHit(name=m, where="command", excerpt=f"{m} --x") for m in markers],
        steps=[Step(tool="bash", input=f"{task} step {k}", error=k == 1) for k in range(turns)], finished_at="2026-11-23T00:00:00+00:00",
    )


def plan(name: str, models: list[str], revisions: list[Revision], tasks: list[str], tiers: list[str], repeats: int) -> dict:
    return {
        "suite": name, "profile": "lib", "harness_version": "test", "repeats": repeats, "tiers": tiers, "tasks": tasks,
        "revisions": [r.model_dump() for r in revisions], "models": [{"id": m, "name": None} for m in models],
        "grid": [[m, r.sha, t, tier] for t in tasks for tier in tiers for m in models for r in revisions],
        "markers": [{"name": n, "where": "command", "description": ""} for n in ("cli", "python-api", "skill-read")],
    }


def write(store: Path, results: list[dict], plans: list[dict]) -> Path:
    for r in results:
        folder = store / Cell.model_validate(r["cell"]).folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_bytes(orjson.dumps(r))
    for p in plans:
        (store / "suites" / p["suite"]).mkdir(parents=True, exist_ok=True)
        (store / "suites" / p["suite"] / "plan.json").write_bytes(orjson.dumps(p))
    return store


def sweep(store: Path, runs: int, seed: int = 7) -> Path:
    """About `runs` results over 4 models × 12 revisions (v5.2 … v5.13: not string-sortable) × tasks ×
    3 tiers, with errors, silent failures, behaviour-only tasks and markers, like a real sweep."""
    rng = random.Random(seed)
    models = ["org/large-model", "org/medium-model", "org/small-model", "local/qwen2.5-coder-1.5b"]
    revisions = [revision(i) for i in range(2, 14)]
    tiers = ["bare", "clone", "skill"]
    repeats = 3
    n_tasks = max(1, runs // (len(models) * len(revisions) * len(tiers) * repeats))
    tasks = [f"task-{k:03d}" for k in range(n_tasks)]
    results = []
    for task in tasks:
        for tier in tiers:
            for model in models:
                for rev in revisions:
                    for r in range(repeats):
                        status = rng.choices(["ok", "agent_error", "timeout", "silent_failure"], [90, 4, 4, 2])[0]
                        behaviour = task.endswith("7")
                        results.append(result(
                            model, rev, task, tier, r, status=status, expected=None if behaviour else "x",
                            matched=None if behaviour else rng.random() < 0.6, wall=round(rng.lognormvariate(3, 0.6), 2),
                            tokens=(int(rng.lognormvariate(8, 0.7)), int(rng.lognormvariate(9, 0.8)), int(rng.lognormvariate(6, 0.6))),
                            turns=rng.randint(1, 12), markers=tuple(m for m in ("cli", "python-api", "skill-read") if rng.random() < 0.4),
                            cost=round(rng.random() / 100, 5) if model.startswith("org/") else None,
                        ).model_dump(mode="json"))
    return write(store, results, [plan("synthetic", models, revisions, tasks, tiers, repeats)])


def simulated(rng: random.Random, *, n_tasks: int = 20, repeats: int = 3, models=("m",), tiers=("bare",), match_shift: float = 0.0,
              token_factor: float = 1.0, size_sd: float = 1.0, interaction: float = 0.3, p_range=(0.2, 0.8), no_tools: float = 0.0,
              head_no_tools: float = 0.0, silent: float = 0.0, head_silent: float | None = None) -> list[dict]:
    """Flat rows (results.flat() rows, for compare straight away) of a sweep with a known truth.
    Tasks differ in difficulty (p_range) and size (log-normal, sd size_sd: heavy tails at 2); each
    (model, task, tier, side) has its own twist of sd `interaction` shared by its repeats. Head adds
    `match_shift` points and multiplies new tokens by `token_factor`. A share `no_tools` of tasks
    needs no tool call on either side, a share `head_no_tools` of the others none at head only. A
    run is a silent failure (a miss, no generated tokens) with probability `silent` (`head_silent`
    at head)."""
    from agent_eval.store.results import COLUMNS

    rows = []
    for t in range(n_tasks):
        p_task, size, kind = rng.uniform(*p_range), rng.gauss(7.0, size_sd), rng.random()
        for model in models:
            for tier in tiers:
                for sha, head in (("a" * 40, False), ("b" * 40, True)):
                    twist = rng.gauss(0, interaction)
                    p = min(1.0, max(0.0, p_task + twist / 3 + (match_shift / 100 if head else 0)))
                    tools = 0 if kind < no_tools or (head and kind < no_tools + head_no_tools) else None
                    for k in range(repeats):
                        r = dict.fromkeys(COLUMNS)
                        failed = rng.random() < (head_silent if head and head_silent is not None else silent)
                        calls = tools if tools is not None else max(1, round(math.exp(1.3 + twist + rng.gauss(0, 0.3))))
                        tokens = math.exp(size + twist + rng.gauss(0, 0.3)) * (token_factor if head else 1.0)
                        r.update(model=model, model_name=model, revision="head" if head else "base", ref="v2" if head else "v1", sha=sha,
                                 tier=tier, task=f"t{t:02d}", repeat=k, status="silent_failure" if failed else "ok",
                                 matched=False if failed else rng.random() < p, wall_seconds=10.0, turns=calls + 1, tool_calls=calls,
                                 tokens_new=round(tokens), tokens_cached=0, tokens_generated=0 if failed else 100, cost=None, markers=[])
                        rows.append(r)
    return rows
