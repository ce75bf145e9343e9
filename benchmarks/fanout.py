"""Fan-out at scale against the Hub stand-in: submitting 1,000 cells, and watching 1,000 live Jobs.

    python benchmarks/fanout.py [--cells 1000] [--job-seconds 2]

1. Submission, unbounded (--max-parallel above the cell count): wall time and Job creations per
   second, the wheel and the 1,000 cell.json files included; the Jobs stay live.
2. Polling cost of those 1,000 live Jobs: one look (requests, bytes, seconds), and per minute at
   the default --poll, and once --watch has backed off (4 × --poll) because nothing changed.
3. Submission with the default --max-parallel and --poll, Jobs lasting --job-seconds: how long
   until every cell is submitted when slots only free up as Jobs end.
The stand-in runs in this process on loopback, so the times are the client's and the stand-in's
costs together, without the Hub's network latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

TOKEN = "hf_bench_token"
os.environ["HF_TOKEN"] = TOKEN
os.environ["BENCH_MODEL_KEY"] = "bench-key"
os.environ.setdefault("AGENT_EVAL_CACHE", str(Path.home() / ".cache" / "agent-eval-bench"))

from hub_standin import HubStandIn  # noqa: E402

HUB = HubStandIn(token=TOKEN, execute=False)
os.environ["HF_ENDPOINT"] = HUB.url  # before huggingface_hub is imported: it reads it once

import minilib  # noqa: E402
import orjson  # noqa: E402
import yaml  # noqa: E402
from huggingface_hub.utils import disable_progress_bars  # noqa: E402

from agent_eval.hub import jobs  # noqa: E402
from agent_eval.run import plan  # noqa: E402
from agent_eval.hub.bucket import BucketStore  # noqa: E402


def project(root: Path, cells: int) -> Path:
    """5 models × 2 revisions × 2 tiers × 1 task × N repeats."""
    repo = minilib.build(root / "minilib")
    (root / "profiles" / "minilib").mkdir(parents=True)
    (root / "profiles" / "minilib" / "profile.yaml").write_text(yaml.safe_dump({"name": "minilib", "repo": str(repo)}))
    (root / "tasks" / "minilib").mkdir(parents=True)
    (root / "tasks" / "minilib" / "checksum.yaml").write_text(yaml.safe_dump({"prompt": "Checksum of 'agent'?", "expected": "1"}))
    models = [{"id": f"org/model-{i}", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "BENCH_MODEL_KEY"} for i in range(5)]
    suite = {"name": "bench", "profile": "minilib", "models": models, "revisions": [{"ref": "v0.1"}, {"ref": "v0.2"}],
             "tiers": ["bare", "clone"], "repeats": max(1, cells // 20)}
    (root / "suite.yaml").write_text(yaml.safe_dump(suite))
    return root / "suite.yaml"


def created() -> int:
    return sum(1 for r in HUB.requests if r["method"] == "POST" and r["path"].startswith("/api/jobs/"))


def submit(suite: Path, bucket: str, max_parallel: int, poll: float) -> tuple[int, float, int, str]:
    store = BucketStore(bucket)
    store.ensure()
    made = plan.make(suite, done=set())
    options = jobs.Options(namespace="tester", timeout=1800, max_parallel=max_parallel, poll=poll)
    before, started, said = created(), time.perf_counter(), []
    jobs.launch(made, made.todo, store, options, say=said.append)
    return len(made.todo), time.perf_counter() - started, created() - before, said[-1]


def polling(poll: float) -> None:
    api = BucketStore("org/bench").api
    before, started = len(HUB.requests), time.perf_counter()
    found = jobs.jobs_of(api, "bench", "tester")
    seconds = time.perf_counter() - started
    requests = len(HUB.requests) - before
    live = sum(1 for j in found.values() if j.status.stage in jobs.LIVE)
    payload = sum(len(orjson.dumps(j.info())) for j in HUB.jobs.values())
    per_minute = 60 / poll
    print(f"  one look at {live} live Jobs: {requests} requests (pages of {HUB.page_size}), {payload / 1e6:.2f} MB, {seconds * 1000:.0f} ms")
    print(f"  per minute at --poll {poll:g}: {per_minute * requests:.0f} requests, {per_minute * payload / 1e6:.1f} MB, {per_minute * seconds:.1f} s of client time")
    print(f"  per minute once nothing changes (looks every {4 * poll:g} s): {per_minute / 4 * requests:.0f} requests, {per_minute / 4 * payload / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    args = parser.parse_args()
    disable_progress_bars()
    defaults = jobs.Options(namespace="-", timeout=1)
    with tempfile.TemporaryDirectory() as scratch:
        suite = project(Path(scratch), args.cells)

        print(f"1. submitting {args.cells} cells, --max-parallel {args.cells}")
        n, seconds, requests, last = submit(suite, "org/bench", args.cells, defaults.poll)
        print(f"  {n} Jobs in {seconds:.2f} s with the wheel and the cells' upload: {n / seconds:.0f} Jobs/s, {requests} creation requests")
        print(f"  the submission alone: {last}")

        print("2. polling")
        polling(defaults.poll)

        print(f"3. submitting {args.cells} cells with the defaults (--max-parallel {defaults.max_parallel}, --poll {defaults.poll:g}), Jobs of {args.job_seconds:g} s")
        for job in HUB.jobs.values():
            HUB.finish(job.id, "CANCELED")
        HUB.jobs.clear()
        stop = threading.Event()

        def scheduler() -> None:
            while not stop.is_set():
                for job in list(HUB.jobs.values()):
                    if job.stage == "RUNNING" and time.time() - job.started > args.job_seconds:
                        HUB.finish(job.id)
                time.sleep(0.05)

        threading.Thread(target=scheduler, daemon=True).start()
        n, seconds, requests, _ = submit(suite, "org/bench2", defaults.max_parallel, defaults.poll)
        stop.set()
        print(f"  {n} Jobs submitted in {seconds:.1f} s ({requests} creation requests)")
    HUB.close()


if __name__ == "__main__":
    main()
