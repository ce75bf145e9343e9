"""`fanout --jobs --until-decided`: read/rounds.py's round loop with each round's cells run as Jobs.

A round is submitted, watched until none of its Jobs is live, and pulled into the suite's local
store, where the look is made; the plan with the design and its looks is put back in the bucket
(and kept locally), so `status`, `pull` and `compare` on either see where it stopped. A cell whose
Job failed (a harness, provider or machine failure) is submitted again, like `retry --failed`.
"""

from __future__ import annotations

import orjson

from agent_eval.read import rounds
from agent_eval.run.plan import Plan
from agent_eval.store.records import Cell
from agent_eval.store.store import Store

from . import jobs
from .bucket import BucketStore


def fanout(made: Plan, store: BucketStore, options: jobs.Options, say) -> rounds.Rounds:
    local = Store(made.suite.store_path)

    def undone() -> list[Cell]:
        in_bucket, newest = store.done(), jobs.jobs_of(store.api, made.suite.name, options.namespace)
        return [c for c in made.done + made.todo if jobs.state(c, in_bucket, newest.get(c.unit)) != "done"]

    def as_jobs(current: Plan, todo: list[Cell]) -> list[Cell]:
        jobs.launch(current, todo, store, options, say)
        jobs.watch(current, todo, store, options, say)
        store.pull(local.root)
        wanted = {c.key for c in todo}
        return [c for c in undone() if c.key in wanted]

    def keep(plan: Plan) -> None:
        rounds.save(local, plan)
        store.put([(orjson.dumps(plan.summary(), option=orjson.OPT_INDENT_2), f"suites/{plan.suite.name}/plan.json")])

    store.ensure()
    local.root.mkdir(parents=True, exist_ok=True)
    store.pull(local.root)  # the rounds already in the bucket, looked at again
    return rounds.in_rounds(made, say, undone, as_jobs, keep)
