"""The Agent Skills guide's workspace ("Evaluating skills"), written from a Skill suite's runs, so an
author's viewer and habits keep working.

    write(store: Path, suite: str, dest: Path) -> list[Path]   # the iteration folders it wrote; [] before any run
                                                               # SkillReadError (one line): no such suite in the store

    dest/iteration-N/                  N: the next free number in dest (1 in an empty one)
      eval-<id>/<arm>/                 <id>: the case's id in evals.json (the task's id when that is no safe folder name);
                                       <arm>: with_skill, without_skill, old_skill
        outputs/                       the agent's files (its run's workspace.tar.gz, extracted) and answer.md, its
                                       final answer (answer.agent-eval.md when the agent left an answer.md of its own)
        timing.json                    {total_tokens, duration_ms} (+ status, ours; total_tokens null when not reported)
        grading.json                   {expectations: [{text, passed, evidence}], summary: {passed, failed, total, pass_rate}}
                                       (+ summary.graded, ours: false when a grader could not grade)
        (a case run more than once: each repeat in <arm>/run-<r>/, r from 1, each holding those three)
      benchmark.json                   {run_summary: {<arm>: {pass_rate, time_seconds, tokens: {mean, stddev}}, delta:
                                       {pass_rate, time_seconds, tokens}}}, delta = with_skill − without_skill (old_skill
                                       when there is no without_skill); our additions beside the guide's fields, never
                                       instead: pass_rate's ci95_low/ci95_high/cases/runs, each arm's recall,
                                       false_activation, precision, and `deltas` (each baseline, with intervals)
      triggers.json                    the trigger queries as the guide's script prints them, [{query, should_trigger,
                                       triggers, runs, trigger_rate}], + arm, passed, near (one list for every arm)
    A suite of several models (or revisions) gets a workspace per model: dest/<model-slug>[-<sha10>]/iteration-N/.

Numbers are skill_summary's (one model at a time): pass_rate's mean is the mean over cases of each
case's mean over repeats (the runs' mean when every case has the same repeats); stddev is over runs,
as the guide's; time_seconds is the agent's process time; tokens new + cached + generated.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

import orjson

from agent_eval.run.workfiles import restore

from .skill_runs import Loaded, SkillRun, load
from .skill_summary import OLD, WITH, WITHOUT, Rate, SkillSummary, summary_of

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")


def write(store: Path, suite: str, dest: Path) -> list[Path]:
    loaded = load(store, suite)
    groups: dict[tuple[str, str], list[SkillRun]] = defaultdict(list)
    for r in loaded.runs:
        groups[r.folder.split("/")[2], r.sha].append(r)  # runs/<sha10>/<model-slug>/…: the model's slug
    shas = {sha for _, sha in groups}
    written = []
    for (slug, sha), runs in groups.items():
        root = Path(dest) if len(groups) == 1 else Path(dest) / (slug if len(shas) == 1 else f"{slug}-{sha[:10]}")
        written.append(iteration(Path(store), Loaded(suite=suite, runs=runs), root))
    return written


def iteration(store: Path, loaded: Loaded, root: Path) -> Path:
    """One model's iteration folder: every eval case's runs, benchmark.json and triggers.json."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in root.iterdir() if (m := re.fullmatch(r"iteration-(\d+)", p.name))]
    folder = root / f"iteration-{max(taken, default=0) + 1}"
    folder.mkdir()
    cases: dict[tuple[str, str], list[SkillRun]] = defaultdict(list)
    for r in loaded.runs:
        if r.kind == "eval":
            cases[r.case, r.arm].append(r)
    repeated = {case for (case, _), rs in cases.items() if len(rs) > 1}
    for (case, arm), rs in cases.items():
        name = f"eval-{case}" if SAFE.fullmatch(case) else rs[0].task
        for r in sorted(rs, key=lambda r: r.repeat):
            run_dir(store, r, folder / name / arm / (f"run-{r.repeat + 1}" if case in repeated else ""))
    summary = summary_of(loaded)
    _dump(folder / "benchmark.json", benchmark(summary, [r for r in loaded.runs if r.kind == "eval"]))
    if summary.queries:
        _dump(folder / "triggers.json", [{"query": q.text, "should_trigger": q.should_trigger, "triggers": q.triggers, "runs": q.runs,
                                          "trigger_rate": q.trigger_rate, "arm": q.arm, "passed": q.passed, "near": q.near, "task": q.query}
                                         for q in summary.queries])
    return folder


def run_dir(store: Path, r: SkillRun, at: Path) -> None:
    outputs = at / "outputs"
    outputs.mkdir(parents=True)
    restore(store / r.folder, [], outputs)  # the kept files only: an empty listing deletes nothing
    answer = outputs / "answer.md"
    (answer if not answer.exists() else outputs / "answer.agent-eval.md").write_text(r.answer)
    _dump(at / "timing.json", {"total_tokens": r.tokens, "duration_ms": round(r.seconds * 1000), "status": r.status})
    passed = sum(i.passed for i in r.items)
    _dump(at / "grading.json", {
        "expectations": [i.model_dump() for i in r.items],
        "summary": {"passed": passed, "failed": len(r.items) - passed, "total": len(r.items),
                    "pass_rate": passed / len(r.items) if r.items else 0.0, "graded": r.pass_rate is not None},
    })


def benchmark(summary: SkillSummary, runs: list[SkillRun]) -> dict:
    arms = {}
    for s in summary.stats:
        mine = [r for r in runs if r.arm == s.arm]
        if not mine and not s.recall:
            continue
        rates = [r.pass_rate for r in mine if r.pass_rate is not None]
        arm = {"pass_rate": {**_spread(rates, s.pass_rate.value if s.pass_rate else None), **_extra(s.pass_rate, "cases")},
               "time_seconds": _spread([r.seconds for r in mine]), "tokens": _spread([r.tokens for r in mine if r.tokens is not None])}
        for metric in ("recall", "false_activation", "precision"):
            if (rate := getattr(s, metric)) is not None:
                arm[metric] = {"value": rate.value, **_extra(rate, "queries")}
        arms[s.arm] = arm
    base = WITHOUT if WITHOUT in arms else OLD
    out = {"run_summary": dict(arms)}
    if WITH in arms and base in arms:
        guide = {m: _minus(arms[WITH][m]["mean"], arms[base][m]["mean"]) for m in ("pass_rate", "time_seconds", "tokens")}
        out["run_summary"]["delta"] = {**guide, "baseline": base}
    out["deltas"] = {f"{d.head}-{d.base}": {} for d in summary.deltas}
    for d in summary.deltas:
        out["deltas"][f"{d.head}-{d.base}"][d.metric] = {"change": d.change, "ci95_low": d.low, "ci95_high": d.high, "p": d.p,
                                                         "verdict": d.verdict, "n": d.n}
    return {**out, "suite": summary.suite, "model": summary.models[0] if summary.models else None, "method": summary.method}


def _spread(values: list[float], mean: float | None = None) -> dict:
    """The guide's {mean, stddev}: stddev over runs (n - 1), 0 for one run; None for no runs."""
    if not values:
        return {"mean": mean, "stddev": None}
    return {"mean": statistics.fmean(values) if mean is None else mean, "stddev": statistics.stdev(values) if len(values) > 1 else 0.0}


def _extra(rate: Rate | None, unit: str) -> dict:
    return {} if rate is None else {"ci95_low": rate.low, "ci95_high": rate.high, unit: rate.n, "runs": rate.runs}


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _dump(path: Path, data) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
