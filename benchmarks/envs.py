"""What keying environments by content costs: the digest of a local package of 10,000 files
(a plain folder, and the same folder as a git work tree with one uncommitted edit), warm and from a
cold page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`, root only; skipped otherwise). Files
are 2 KiB of Python-like text in 100 folders, plus a build/ and __pycache__ the digest skips.
Then what recording an environment costs: its record (every distribution's name and version, read
from the venv's metadata) for an environment as big as this Python's own site-packages, and keeping
it in a store. Five runs of each: min/median/max of the wall time.

    python benchmarks/envs.py [--files 10000] [--repeat 5]

Target: under 1 s warm for 10,000 files; it is paid once per plan and once per environment build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's agent_eval, whatever is installed

from agent_eval.run import envs  # noqa: E402
from agent_eval.run.prepare import Env  # noqa: E402
from agent_eval.store import environments  # noqa: E402
from agent_eval.suite import local  # noqa: E402
from agent_eval.suite.config import Profile  # noqa: E402


def make_folder(root: Path, files: int) -> Path:
    for n in range(files):
        path = root / f"pkg{n % 100}" / f"module{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# module {n}\n" + "VALUE = 'x' * 64\n" * 120)
    for junk in ("build/lib/pkg0/module0.py", "pkg0/__pycache__/module0.cpython-311.pyc"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("built")
    return root


def timed(run, repeat: int, cold: bool) -> list[float]:
    times = []
    for _ in range(repeat):
        if cold:
            subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def line(name: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(f"{name:58s} min {min(ms):8.1f} ms  median {statistics.median(ms):8.1f} ms  max {max(ms):8.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    can_drop = os.geteuid() == 0 and Path("/proc/sys/vm/drop_caches").exists()
    print(f"{options.files} files; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        plain = make_folder(Path(tmp) / "plain", options.files)
        size = sum(p.stat().st_size for p in plain.rglob("*") if p.is_file())
        print(f"  {size / 1e6:.1f} MB in the folder", flush=True)
        line("plain folder, warm", timed(lambda: local.digest(plain), options.repeat, cold=False))
        if can_drop:
            line("plain folder, cold page cache", timed(lambda: local.digest(plain), options.repeat, cold=True))
        tree = make_folder(Path(tmp) / "tree", options.files)
        git = ["git", "-C", str(tree), "-c", "user.name=b", "-c", "user.email=b@example.org", "-c", "gc.auto=0"]
        (tree / ".gitignore").write_text("build/\n__pycache__/\n")
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "bench"], check=True)
        (tree / "pkg1" / "module1.py").write_text("VALUE = 2\n")  # one uncommitted edit
        line("git work tree, one uncommitted edit, warm", timed(lambda: local.digest(tree), options.repeat, cold=False))
        if can_drop:
            line("git work tree, one uncommitted edit, cold page cache", timed(lambda: local.digest(tree), options.repeat, cold=True))
        record(Path(tmp), options.repeat)


def record(tmp: Path, repeat: int) -> None:
    """An environment that is this Python's site-packages (linked, not copied), described and kept."""
    env = Env(path=tmp / "env")
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    (env.path / "lib" / site.parent.name).mkdir(parents=True)
    (env.path / "lib" / site.parent.name / "site-packages").symlink_to(site)
    (env.path / "pyvenv.cfg").write_text(f"version_info = {sys.version.split()[0]}\n")
    profile = Profile(name="bench", repo=".")
    text = envs.describe(env, "0" * 40, "numpy", profile, {})
    print(f"  an environment of {len(text.splitlines()) - 2} distributions, a record of {len(text):,} bytes", flush=True)
    line("describe the environment (its record)", timed(lambda: envs.describe(env, "0" * 40, "numpy", profile, {}), repeat, cold=False))
    store, run = tmp / "store", tmp / "store" / "run"
    run.mkdir(parents=True)
    line("keep it in a store (first time: written)", timed(lambda: (environments.keep(store, text, run), shutil.rmtree(store / "envs")), repeat, cold=False))
    environments.keep(store, text, run)
    line("keep it in a store (then: already there)", timed(lambda: environments.keep(store, text, run), repeat, cold=False))


if __name__ == "__main__":
    main()
