"""Export: the results table (one flat row per run, results.COLUMNS) as a file — Parquet, CSV or
JSON Lines — for any tool, and for hub/publish.py, which puts it in a Dataset on the Hugging Face
Hub. Parquet needs pyarrow, an optional extra: `pip install 'agent-eval[parquet]'`."""

from __future__ import annotations

from pathlib import Path

from . import columns, results
from .store import read_plans

# What each column holds: the dataset card and the README say the same.
DOCS = {
    "key": "the cell's key: a hash of everything that defines the cell",
    "folder": "the run folder in the store, `runs/<sha10>/<model>/<tier>/<task>/r<repeat>-<key8>`",
    "suite": "the suite that first planned the cell", "profile": "the library profile",
    "model": "the model id", "model_name": "the model's display name (its id when none)",
    "revision": "the library revision's name", "ref": "the git ref asked for", "sha": "the commit it resolved to",
    "tier": "what the agent was given: bare, clone, skill…", "task": "the task id", "repeat": "the repeat number, from 0",
    "status": "ok, agent_error, timeout, setup_error, silent_failure or infra_error",
    "ended_by": "the budget that stopped the run (wall_clock, max_turns, max_tool_calls), or null",
    "matched": "whether every declared grader (answer, verifier, judge) passed; null: behaviour-only, or a grader could not grade",
    "wall_seconds": "the whole cell, setup included", "agent_seconds": "the agent process alone",
    "turns": "successful model calls", "tool_calls": "tool calls, every tool",
    "tokens_new": "uncached input tokens (null: the provider reported no usage)", "tokens_cached": "cache-read input tokens",
    "tokens_generated": "output tokens, reasoning included", "requests": "model requests, retries included",
    "cost": "cost in USD as the provider reported it, or null", "markers": "the profile's markers that fired",
    "agent": "the coding agent", "agent_version": "its version", "isolation": "how the agent was isolated, when recorded",
    "environment": "digest of what the revision's environment resolved to (envs/<digest>.txt in the store), or null: not recorded",
    "session_position": "the run's position in a shared session, when sessions are used",
    "session": "the shared session's id (every task of one session has it), or null",
    "harness_version": "the agent-eval version that ran the cell", "finished_at": "when the result was stored (UTC, ISO 8601)",
    "score": "the graders' mean partial credit, 0 to 1; null: no grader, or one could not grade",
    "activated": "whether the agent read a Skill's SKILL.md (any tool); null: not recorded",
    "trigger": "a trigger query's should_trigger: should the agent have read the Skill; null: not a trigger query",
    "grading": "digest of the grading the run was graded under (markers, expected answer, verifier, judge); null: stored before gradings were recorded",
}
FORMATS = ("parquet", "csv", "jsonl")
PARQUET_FILE = "data/results.parquet"


class ExportError(Exception):
    pass


def schema():
    pa = pyarrow()
    text, number, whole = pa.string(), pa.float64(), pa.int64()
    types = {c: text for c in results.COLUMNS}
    types.update({c: whole for c in ("repeat", "turns", "tool_calls", "tokens_new", "tokens_cached", "tokens_generated", "requests", "session_position")})
    types.update({c: number for c in ("wall_seconds", "agent_seconds", "cost", "score")})
    types.update(matched=pa.bool_(), activated=pa.bool_(), trigger=pa.bool_(), markers=pa.list_(text))
    return pa.schema([pa.field(c, types[c], metadata={"description": DOCS[c]}) for c in results.COLUMNS])


def pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise ExportError("Parquet needs pyarrow: pip install 'agent-eval[parquet]' (or use --format csv or jsonl)") from None
    return pyarrow


def write_parquet(rows: list[dict], out: Path) -> None:
    table = pyarrow().Table.from_pylist(rows, schema=schema())
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")


def ordered(store: Path, say=lambda line: None) -> list[dict]:
    """Every current run of a store as flat rows, in the suites' order (results.in_suite_order):
    what results, export, publish-results and reads list. `say` gets a line for each plan.json left out."""
    cols = columns.read(store)
    return cols.take(results.suite_order(cols, read_plans(store, say))).rows(results.COLUMNS)


def export(store: Path, format: str, out: Path | None) -> bytes | None:
    """Write the table to `out` (or return its bytes, for stdout; Parquet always needs a file)."""
    if format not in FORMATS:
        raise ExportError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    if out is not None and out.is_dir():
        raise ExportError(f"--out {out} is a folder; give a file, e.g. --out {out / ('results.' + format)}")
    rows = ordered(store)  # as `results` lists them
    if format == "parquet":
        if out is None:
            raise ExportError("Parquet is binary: give a file with --out, e.g. --out results.parquet")
        write_parquet(rows, out)
        return None
    data = results.as_jsonl(rows) if format == "jsonl" else results.as_csv(rows).encode()
    if out is None:
        return data
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return None


class Rows(list):
    """What load_results returns: a list of flat rows (dicts), and `to_pandas()` when pandas is there."""

    def to_pandas(self):
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        return pandas.DataFrame(list(self), columns=results.COLUMNS)


def load_results(store: str | Path = "agent-eval-results") -> Rows:
    """Every result of a store as flat rows (see results.COLUMNS), read through its index."""
    store = Path(store)
    if not (store / "runs").is_dir():
        raise FileNotFoundError(f"{store}: no runs/ folder here; is this a store?")
    return Rows(columns.rows(store))
