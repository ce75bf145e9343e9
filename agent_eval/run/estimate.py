"""How long the cells to run will take, and what they will cost, judged from the suite's runs already in
the store: each cell is expected to take what stored runs of the same model and task took
(median), else what the model's other stored runs took; a cell with nothing to go by is counted
at its timeout. Cost likewise, where the provider reported one. The ceiling is every cell running
to its timeout."""

from __future__ import annotations

import statistics
from collections import defaultdict

from pydantic import BaseModel

from agent_eval.store.records import Result
from agent_eval.store.store import BadRecord, read_result

from .plan import Plan


SAMPLE = 2000  # stored results read at most


class Estimate(BaseModel):
    cells: int
    seconds: float  # wall clock with `jobs` cells at once
    ceiling: float  # every cell to its timeout, `jobs` at once
    from_runs: int  # cells whose estimate came from stored runs (the others count at their timeout)
    cost: float | None  # USD, over the cells whose model has stored costs
    jobs: int  # cells at once (a local model's cells run one at a time whatever it is)

    def line(self) -> str:
        if not self.cells:
            return ""
        basis = (f"from stored runs for {self.from_runs} of {self.cells} cells, the others at their timeout"
                 if self.from_runs else "nothing stored to go by: every cell at its timeout")
        cost = f", about ${self.cost:.2f}" if self.cost is not None else ""
        return f"estimate: about {duration(self.seconds)} with {self.jobs} at once{cost} ({basis}); at most {duration(self.ceiling)}"


def estimate(made: Plan, jobs: int) -> Estimate:
    seconds: dict[tuple, list[float]] = defaultdict(list)
    costs: dict[str, list[float]] = defaultdict(list)
    for result in _stored(made):
        if result.status in ("ok", "timeout", "silent_failure"):  # the agent's own outcomes: what a cell takes
            model = result.cell.model.id
            seconds[model, result.cell.task.id].append(result.wall_seconds)
            seconds[model,].append(result.wall_seconds)
            if result.cost is not None:
                costs[model].append(result.cost)
    timeouts = {t.id: t.timeout for t in made.tasks}
    # (expected, ceiling) seconds per lane: a local model serves one cell at a time, the rest share --jobs
    lanes: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    known, cost = 0, None
    for cell in made.todo:
        limit = timeouts.get(cell.task.id) or cell.budgets.timeout
        found = seconds.get((cell.model.id, cell.task.id)) or seconds.get((cell.model.id,))
        lane = lanes[cell.model.id if cell.model.is_local else ""]
        lane[0] += min(statistics.median(found), limit) if found else limit
        lane[1] += limit
        known += bool(found)
        if costs.get(cell.model.id):
            cost = (cost or 0.0) + statistics.median(costs[cell.model.id])
    shared = max(1, min(jobs, sum(1 for c in made.todo if not c.model.is_local)))
    wall = [(s / shared, c / shared) if model == "" else (s, c) for model, (s, c) in lanes.items()]
    return Estimate(cells=len(made.todo), seconds=max([s for s, _ in wall], default=0.0), ceiling=max([c for _, c in wall], default=0.0),
                    from_runs=known, cost=cost, jobs=sum(shared if model == "" else 1 for model in lanes))


def _stored(made: Plan, most: int = SAMPLE) -> list[Result]:
    """The suite's done cells' results, read as they are (reading the store's index could rebuild
    it, and an estimate writes nothing); a sample of the first `most` is enough for medians."""
    found = []
    for cell in made.done[:most]:
        try:
            found.append(read_result(made.suite.store_path / cell.folder / "result.json"))
        except BadRecord:
            continue
    return found


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
