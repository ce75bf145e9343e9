"""Synthetic results written into a real store layout: for report tests (hand-made cases) and the
report benchmark (sweeps of 1k to 100k runs)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import orjson

from agent_eval.suite.config import Budgets, ModelSpec, Task
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
