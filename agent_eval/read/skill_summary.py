"""What a Skill suite found, per model and arm: the numbers a Skill author asks for, with intervals.

    summarize(store: Path, suite: str) -> SkillSummary   # SkillSummary.model_dump(mode="json"): the JSON
    text(summary: SkillSummary, width: int = 120) -> str  # the terminal tables
    SkillReadError (skill_runs.py): one line for the user, when the store has no such suite

Arms are the suite's tiers (with_skill, without_skill, old_skill). Runs are read by skill_runs.load
(setup and infra errors left out). Every rate is a share in [0, 1]; every interval is 95%, over
clusters (skill_stats.py), and None when fewer than 5 clusters (then the number is shown alone).

- pass_rate (eval cases): a run's pass rate is the share of its expectations passed (the guide's
  grading.json pass_rate: a judge's expectations, each assertion, a verifier's checks); a case's
  score is the mean over its repeats; pass_rate is the mean over cases, its interval a Student t
  interval over cases. n = cases; runs = runs counted (a run a grader could not grade is left out).
- recall: the share of should-trigger query runs that activated (read a SKILL.md), as the mean over
  queries of each query's trigger rate; interval over queries; n = should-trigger queries.
- false_activation: the same over should-not-trigger queries.
- precision: activations that were wanted, a·R/(a·R + b·F) (R recall, F false activation, a and b
  the query counts); a conservative interval from R's and F's (skill_stats.precision_ci); n = queries.
- deltas: with_skill − without_skill and with_skill − old_skill of pass_rate (paired by case),
  recall and false_activation (paired by query): one difference per cluster both arms ran, mean over
  its repeats on each side, a Student t interval over clusters (compare's paired.measure); n = clusters.
- queries: each query's trigger rate over its repeats, passed at the guide's 0.5 (>= for
  should-trigger, < for should-not), `near` when one run going the other way would flip it.
- expectations (the guide's analysis), per model and case, over the arms that ran it: `passes in
  every arm` (it measures nothing), `fails in every arm` (broken or too hard), `flaky` (passes in
  some repeats and fails in others within an arm; needs 2 repeats).
- leaks: runs of without_skill whose agent read a SKILL.md (activated_at set): the Skill-free arm saw a Skill.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from . import skill_stats
from agent_eval.suite.text import visible

from .skill_runs import Loaded, SkillRun, load

METHOD = __doc__.split("\n\n", 2)[2].strip()
WITH, WITHOUT, OLD = "with_skill", "without_skill", "old_skill"
ARMS = (WITH, WITHOUT, OLD)


class Rate(BaseModel):
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int  # clusters: cases or queries
    runs: int


class ArmStats(BaseModel):
    model: str
    arm: str
    pass_rate: Rate | None = None  # None: the arm ran no eval case
    recall: Rate | None = None  # None: no should-trigger query
    false_activation: Rate | None = None
    precision: Rate | None = None
    tokens: float | None = None  # mean per eval-case run
    seconds: float | None = None


class Delta(BaseModel):
    model: str
    head: str
    base: str
    metric: str  # pass_rate, recall, false_activation
    change: float | None
    low: float | None
    high: float | None
    p: float | None
    verdict: str  # paired.py's: higher, lower, no detectable change, unreliable (< 5 clusters), no data
    n: int


class QueryStat(BaseModel):
    model: str
    arm: str
    query: str  # task id
    text: str
    should_trigger: bool
    triggers: int
    runs: int
    trigger_rate: float
    passed: bool
    near: bool


class ExpectationFlag(BaseModel):
    model: str
    case: str
    text: str
    flag: str  # passes in every arm | fails in every arm | flaky
    arms: dict[str, list[int]]  # arm -> [passed, of] over its repeats


class Leak(BaseModel):
    model: str
    task: str
    repeat: int
    folder: str
    activated_at: int


class SkillSummary(BaseModel):
    suite: str
    arms: list[str]
    models: list[str]
    stats: list[ArmStats]
    deltas: list[Delta]
    queries: list[QueryStat]
    flags: list[ExpectationFlag]
    leaks: list[Leak]
    runs: int
    skipped: int  # setup and infra errors
    bad: list[str]
    method: str = ""  # how each number is computed: this module's docstring


def summarize(store: Path, suite: str) -> SkillSummary:
    return summary_of(load(store, suite))


def summary_of(loaded: Loaded) -> SkillSummary:
    runs = loaded.runs
    arms = sorted({r.arm for r in runs}, key=lambda a: (ARMS.index(a) if a in ARMS else len(ARMS), a))
    models = list(dict.fromkeys(r.model_name for r in runs))
    stats, deltas, queries, flags = [], [], [], []
    for model in models:
        mine = [r for r in runs if r.model_name == model]
        clusters = {arm: _clusters([r for r in mine if r.arm == arm]) for arm in arms}
        stats += [_arm_stats(model, arm, clusters[arm], [r for r in mine if r.arm == arm]) for arm in arms]
        for base in (WITHOUT, OLD):
            if WITH in clusters and base in clusters:
                deltas += [_delta(model, metric, direction, clusters[base][metric], clusters[WITH][metric], base)
                           for metric, direction in (("pass_rate", "up"), ("recall", "up"), ("false_activation", "down"))]
        queries += _queries(model, mine)
        flags += _flags(model, [r for r in mine if r.kind == "eval"], arms)
    leaks = [Leak(model=r.model_name, task=r.task, repeat=r.repeat, folder=r.folder, activated_at=r.activated_at)
             for r in runs if r.arm == WITHOUT and r.activated]
    return SkillSummary(suite=loaded.suite, arms=arms, models=models, stats=stats, deltas=deltas, queries=queries, flags=flags,
                        leaks=leaks, runs=len(runs), skipped=loaded.skipped, bad=loaded.bad, method=METHOD)


def _clusters(runs: list[SkillRun]) -> dict[str, dict[str, list[float]]]:
    """Per metric, each cluster's values over its repeats: pass_rate by case, recall and false activation by query."""
    out: dict[str, dict[str, list[float]]] = {"pass_rate": defaultdict(list), "recall": defaultdict(list), "false_activation": defaultdict(list)}
    for r in runs:
        if r.kind == "eval" and r.pass_rate is not None:
            out["pass_rate"][r.case].append(r.pass_rate)
        elif r.kind == "query" and r.trigger is not None:
            out["recall" if r.trigger else "false_activation"][r.case].append(float(r.activated))
    return out


def _rate(values: dict[str, list[float]]) -> Rate | None:
    if not values:
        return None
    value, low, high = skill_stats.mean_ci([statistics.fmean(v) for v in values.values()])
    return Rate(value=value, low=low, high=high, n=len(values), runs=sum(map(len, values.values())))


def _precision(positive: dict[str, list[float]], negative: dict[str, list[float]]) -> Rate | None:
    if not positive or not negative:
        return None
    value, low, high = skill_stats.precision_ci(*([statistics.fmean(v) for v in side.values()] for side in (positive, negative)))
    return Rate(value=value, low=low, high=high, n=len(positive) + len(negative), runs=sum(map(len, [*positive.values(), *negative.values()])))


def _arm_stats(model: str, arm: str, c: dict, runs: list[SkillRun]) -> ArmStats:
    cases = [r for r in runs if r.kind == "eval"]
    tokens = [r.tokens for r in cases if r.tokens is not None]
    return ArmStats(model=model, arm=arm, pass_rate=_rate(c["pass_rate"]), recall=_rate(c["recall"]), false_activation=_rate(c["false_activation"]),
                    precision=_precision(c["recall"], c["false_activation"]), tokens=statistics.fmean(tokens) if tokens else None,
                    seconds=statistics.fmean(r.seconds for r in cases) if cases else None)


def _delta(model: str, metric: str, direction: str, base: dict, head: dict, base_arm: str) -> Delta:
    m = skill_stats.delta(metric, direction, base, head)
    return Delta(model=model, head=WITH, base=base_arm, metric=metric, change=m.change, low=m.ci_low, high=m.ci_high, p=m.p,
                 verdict=m.verdict, n=m.n_tasks)


def _queries(model: str, runs: list[SkillRun]) -> list[QueryStat]:
    by: dict[tuple[str, str], list[SkillRun]] = defaultdict(list)
    for r in runs:
        if r.kind == "query" and r.trigger is not None:
            by[r.arm, r.task].append(r)
    out = []
    for (arm, task), rs in by.items():
        k, n = sum(r.activated for r in rs), len(rs)
        rate = k / n
        out.append(QueryStat(model=model, arm=arm, query=task, text=rs[0].prompt, should_trigger=rs[0].trigger, triggers=k, runs=n,
                             trigger_rate=rate, passed=(rate >= skill_stats.THRESHOLD) == rs[0].trigger,
                             near=skill_stats.near_threshold(k, n)))
    return sorted(out, key=lambda q: (q.query, q.arm))


def _flags(model: str, runs: list[SkillRun], order: list[str]) -> list[ExpectationFlag]:
    """The guide's analysis of expectations: over the arms that ran a case, one that passes in every
    run of every arm, fails in every run of every arm, or passes and fails between repeats of one arm."""
    tally: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in runs:
        if r.pass_rate is None:
            continue
        for item in r.items:
            counts = tally[r.case, item.text][r.arm]
            counts[0] += item.passed
            counts[1] += 1
    out = []
    for (case, text), counted in tally.items():
        arms = {arm: counted[arm] for arm in order if arm in counted}
        if len(arms) >= 2 and all(k == n for k, n in arms.values()):
            out.append(ExpectationFlag(model=model, case=case, text=text, flag="passes in every arm", arms=arms))
        elif len(arms) >= 2 and all(k == 0 for k, _ in arms.values()):
            out.append(ExpectationFlag(model=model, case=case, text=text, flag="fails in every arm", arms=arms))
        if any(0 < k < n for k, n in arms.values()):
            out.append(ExpectationFlag(model=model, case=case, text=text, flag="flaky", arms=arms))
    return out


# --- text -------------------------------------------------------------------------------------------


def text(summary: SkillSummary, width: int = 120) -> str:
    """The summary as terminal tables: per model its arms, the deltas, the queries; then the flags and leaks."""
    from agent_eval.suite.text import console

    out = console(width)
    with out.capture() as captured:
        left_out = f" ({summary.skipped} setup/infra errors left out)" if summary.skipped else ""
        out.print(f"Skill suite {visible(summary.suite)}: {summary.runs} runs{left_out}" + ("" if summary.runs else "; nothing to summarize yet"))
        for model in summary.models:
            _model_part(out, summary, model)
        for f in summary.flags:
            counts = ", ".join(f"{arm} {k}/{n}" for arm, (k, n) in f.arms.items())
            out.print(f"{f.flag}: {visible(f.model)} · eval-{visible(f.case)} · {visible(f.text)} ({counts})")
        for leak in summary.leaks:
            out.print(f"leak: {visible(leak.model)} · {leak.task} r{leak.repeat}: the without_skill agent read a SKILL.md "
                      f"at turn {leak.activated_at} ({leak.folder})")
        for line in summary.bad:
            out.print(f"warning: skipped {line}")
    return captured.get()


def _model_part(out, summary: SkillSummary, model: str) -> None:
    from rich.table import Table

    table = Table(title=visible(model), title_justify="left", box=None)
    for column in ("arm", "pass rate (n cases)", "recall (n queries)", "false activation", "precision", "tokens", "seconds"):
        table.add_column(column)
    for s in (s for s in summary.stats if s.model == model):
        table.add_row(s.arm, _rate_text(s.pass_rate), _rate_text(s.recall), _rate_text(s.false_activation),
                      _rate_text(s.precision), _number(s.tokens, "{:,.0f}"), _number(s.seconds, "{:.1f}"))
    out.print(table)
    for d in (d for d in summary.deltas if d.model == model and d.n):
        unit = "cases" if d.metric == "pass_rate" else "queries"
        out.print(f"  {d.head} − {d.base}: {d.metric.replace('_', ' ')} {_points(d)} over {d.n} {unit}: {d.verdict}")
    _queries_table(out, [q for q in summary.queries if q.model == model], summary.arms)


def _queries_table(out, queries: list[QueryStat], arms: list[str]) -> None:
    from rich.table import Table

    if not queries:
        return
    arms = [a for a in arms if any(q.arm == a for q in queries)]
    table = Table(box=None)
    for column in ("query", "should trigger", *arms, "prompt"):
        table.add_column(column)
    by = {(q.query, q.arm): q for q in queries}
    for task in dict.fromkeys(q.query for q in queries):
        first = next(q for q in queries if q.query == task)
        cells = [_query_cell(by.get((task, arm))) for arm in arms]
        table.add_row(task, "yes" if first.should_trigger else "no", *cells, visible(first.text)[:60])
    out.print(table)
    out.print("  a query's triggers/runs, pass or FAIL at the 0.5 threshold; ~: one run the other way would flip it")


def _query_cell(q: QueryStat | None) -> str:
    return "—" if q is None else f"{q.triggers}/{q.runs} {'pass' if q.passed else 'FAIL'}{' ~' if q.near else ''}"


def _rate_text(r: Rate | None) -> str:
    if r is None or r.value is None:
        return "—"
    interval = f" [{100 * r.low:.0f}, {100 * r.high:.0f}]" if r.low is not None else ""
    return f"{100 * r.value:.0f}%{interval} n={r.n}"


def _points(d: Delta) -> str:
    if d.change is None:
        return "—"
    interval = f" [{100 * d.low:+.0f}, {100 * d.high:+.0f}]" if d.low is not None else ""
    return f"{100 * d.change:+.0f} pts{interval}"


def _number(x: float | None, fmt: str) -> str:
    return "—" if x is None else fmt.format(x)
