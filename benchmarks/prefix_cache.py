"""How much of each cell's prompt the local model server reuses from the cells before it.

Runs the quickstart's tasks on one revision and tier with the offline model, one cell at a time,
then reads each cell's proxy log: for the cell's first request (pi's system prompt, the tools and
the task), how many prompt tokens the server took from its prefix cache, and how long the request
took. Run it twice to compare: in the sandbox every cell works in /cell/work, so pi's system prompt
is the same from cell to cell; with `--no-sandbox` every cell has a scratch path of its own.

    python benchmarks/prefix_cache.py [--model local/qwen2.5-coder-0.5b] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "quickstart"
        shutil.copytree(ROOT / "examples" / "quickstart", folder)
        suite = yaml.safe_load((folder / "suite.yaml").read_text())
        suite.update(models=[args.model], revisions=[{"ref": "v1.1"}], tiers=["bare"], store="results",
                     budgets={"timeout": 300, "max_turns": 1})
        (folder / "bench.yaml").write_text(yaml.safe_dump(suite))
        env = {**os.environ, **({"AGENT_EVAL_SANDBOX": "off"} if args.no_sandbox else {})}
        done = subprocess.run([sys.executable, "-m", "agent_eval", "run", str(folder / "bench.yaml"), "--jobs", "1"], env=env,
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        firsts = []
        for log in (folder / "results").glob("runs/**/proxy.jsonl"):
            entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
            result = orjson.loads((log.parent / "result.json").read_bytes())
            if entries:
                firsts.append((result["finished_at"], entries[0], log.parent.parent.name))
    firsts.sort(key=lambda found: found[0])
    print(f"{'cell':12} {'prompt':>7} {'cached':>7} {'reused':>7} {'seconds':>8}")
    for _, entry, task in firsts:
        share = entry["cached_tokens"] / entry["prompt_tokens"] if entry["prompt_tokens"] else 0
        print(f"{task:12} {entry['prompt_tokens']:7} {entry['cached_tokens']:7} {share:7.0%} {entry['seconds']:8.1f}")
    later = firsts[1:]  # the first cell has nothing before it to reuse
    if later:
        print(f"after the first cell: median {statistics.median(e['cached_tokens'] / e['prompt_tokens'] for _, e, _ in later):.0%} "
              f"of the first prompt reused, median {statistics.median(e['seconds'] for _, e, _ in later):.1f} s for it "
              f"({'no sandbox' if args.no_sandbox else 'sandbox'}, {len(firsts)} cells, {args.model})")


if __name__ == "__main__":
    main()
