"""Harness overhead per cell: the cell's wall time minus the time pi itself ran.

50 cells (one task, 50 repeats, bare tier) against an instant scripted model, on a revision whose
environment is already built; one cell at a time so nothing competes. Prints the median and p90
of the per-cell overhead, and the sweep's own overhead (planning, snapshot, scheduling) per cell.
The sandbox's cost (starting bwrap, building the mount view) is inside pi's own time: compare the
"pi itself" and "cell wall" lines of a run with `--no-sandbox` against one without.

    python benchmarks/overhead.py [--cells 50] [--jobs 1] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("AGENT_EVAL_CACHE", str(Path.home() / ".cache" / "agent-eval-bench"))

import minilib  # noqa: E402
from kit import MODEL_KEY, Project, rules  # noqa: E402
from fake_model import FakeModel  # noqa: E402

from agent_eval.run import agent, local, plan  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="harness overhead per cell")
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--no-sandbox", action="store_true", help="run pi unsandboxed (AGENT_EVAL_SANDBOX=off), to compare")
    options = parser.parse_args()
    if options.no_sandbox:
        os.environ["AGENT_EVAL_SANDBOX"] = "off"

    agent.ensure_pi()
    fake = FakeModel(rules(), api_key=MODEL_KEY)
    os.environ["FAKE_MODEL_KEY"] = MODEL_KEY
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp), minilib.build(Path(tmp) / "minilib-upstream"), fake.url)
        project.profile()
        project.task("checksum", prompt="Use the minilib command-line tool to find the checksum of the text 'agent'.", expected=str(minilib.checksum("agent")))
        suite = project.suite(revisions=["v0.2"], tiers=["bare"], repeats=options.cells)

        warm = plan.make(suite)  # builds the revision's environment outside the measurement
        envs, _ = local.environments(warm)
        if not options.no_sandbox:
            sandbox_start(next(iter(envs.values())), Path(tmp))
        started = time.perf_counter()
        made = plan.make(suite)
        outcome = local.run(made, options.jobs)
        sweep = time.perf_counter() - started
        from agent_eval.store.store import Store

        found = Store(made.suite.store_path).results()
    fake.close()

    per_cell = sorted(r.wall_seconds - r.agent_seconds for r in found)
    pi = sum(r.agent_seconds for r in found)
    walls = sorted(r.wall_seconds for r in found)
    print(f"cells: {len(found)} ({outcome.line()}), jobs {options.jobs}, isolation {found[0].isolation}")
    print(f"pi itself (sandbox start included): median {statistics.median(r.agent_seconds for r in found):.3f} s per cell")
    print(f"cell wall: median {statistics.median(walls):.3f} s, p90 {walls[int(len(walls) * 0.9) - 1]:.3f} s")
    print(f"harness overhead per cell (cell wall - pi): median {statistics.median(per_cell) * 1000:.1f} ms, "
          f"p90 {per_cell[int(len(per_cell) * 0.9) - 1] * 1000:.1f} ms, max {per_cell[-1] * 1000:.1f} ms")
    if options.jobs == 1:
        print(f"whole sweep overhead (plan + snapshot + scheduling + cells, minus pi): {(sweep - pi) / len(found) * 1000:.1f} ms per cell")


def sandbox_start(env, tmp: Path, rounds: int = 40) -> None:
    """The sandbox's own cost, free of pi's noise: `/bin/true` in a cell's bwrap vs bare, interleaved."""
    from agent_eval.run import prepare, sandbox

    if sandbox.isolation().name != "bwrap":
        print(f"sandbox: none ({sandbox.isolation().detail})")
        return
    ws = prepare.Workspace(scratch=tmp / "scratch", workdir=tmp / "scratch" / "work", home=tmp / "scratch" / "home")
    ws.workdir.mkdir(parents=True)
    times: dict[str, list[float]] = {"bare": [], "host": [], "none": []}
    for _ in range(rounds):
        for way in times:
            with sandbox.Box(ws, env, "none" if way == "none" else "host", "http://127.0.0.1:18080/v1") as box:  # a port like the proxy's: one below 1024 cannot be bound in the box
                cmd = ["/bin/true"] if way == "bare" else box.wrap(["/bin/true"])
                started = time.perf_counter()
                subprocess.run(cmd, cwd=ws.workdir, check=True)
                times[way].append(time.perf_counter() - started)
    bare = statistics.median(times["bare"])
    for way in ("host", "none"):
        extra = sorted(t - bare for t in times[way])
        print(f"sandbox start (network {way}), {rounds} rounds: median +{statistics.median(extra) * 1000:.1f} ms, "
              f"p90 +{extra[int(rounds * 0.9) - 1] * 1000:.1f} ms over a bare /bin/true ({bare * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
