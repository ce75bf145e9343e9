"""agent-eval: measure how much work a coding agent needs to use a library.

The package's folders are the pipeline's stages, lowest first; a stage imports only from its own
floor and the floors below it (tests/test_layout.py checks it):

  suite/  what to run: the files a user writes, profiles, releases, the library's git history
  store/  the records (Cell, Result), the store, its index, flat rows, export, redaction
  grade/  reading pi's trace, scoring an answer and markers, re-grading
  run/    planning, the workspace, the sandbox, the metering proxy, pi, the offline model, the worker
  read/   compare, sessions, explain, the report
  hub/    Hugging Face Jobs, Storage Buckets, publishing
  cli/    the `agent-eval` command, thin over the rest
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def load_results(store: str | Path = "agent-eval-results"):
    """Every result of a store as flat rows (dicts with the columns of `agent-eval results --format
    json`), read through the store's index; `.to_pandas()` gives a DataFrame when pandas is installed."""
    from agent_eval.store.export import load_results as load

    return load(store)
