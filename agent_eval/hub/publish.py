"""Publish: the results table to a Dataset (Parquet and a card, for the dataset viewer and its SQL
console), the report to a static Hugging Face Space, the pi sessions to a Dataset.

Every Hub call goes through huggingface_hub (it honours HF_ENDPOINT and HF_TOKEN). A repository
is created private unless asked otherwise, and an existing one keeps its visibility unless asked
(--public, --private); what is said is the visibility it has. Traces are redacted again on the way
out, with whatever secrets this environment holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import orjson

from agent_eval import __version__
from agent_eval.read import report
from agent_eval.store import columns, environments, results
from agent_eval.store.export import DOCS, PARQUET_FILE, ExportError, ordered, write_parquet
from agent_eval.store.redact import held, redact

SPACE_CARD = """---
title: {title_json}
emoji: 📊
colorFrom: blue
colorTo: green
sdk: static
pinned: false
tags: [agent-eval]
---
agent-eval report of {suites}: {runs} runs. Built with agent-eval {version}.
"""

DATASET_CARD = """---
tags: [agent-traces, agent-eval, pi]
pretty_name: {title}
---
pi coding-agent sessions recorded by agent-eval ({count} runs), one `trace.jsonl` per run at
`runs/<revision>/<model>/<tier>/<task>/r<repeat>-<key>/`. Secrets known to the harness were
redacted; traces hold prompts, model output, commands and their output, and local paths.
"""


TITLE_LIMIT = 60  # characters of a Space's title on the Hub


def hub(endpoint: str | None = None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint)


def repository(api, repo_id: str, repo_type: str, public: bool | None, dry_run: bool, **create) -> str:
    """Make the repository ready for a commit: created private unless `public`; an existing one's
    visibility changed only when asked (`public` True or False, not None). Returns how to name it,
    e.g. "the public Dataset org/x (was private)", from the Hub's own answer."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        now = "private" if api.repo_info(repo_id, repo_type=repo_type).private else "public"
    except RepositoryNotFoundError:
        now = None
    wanted = now if public is None and now else "public" if public else "private"
    if not dry_run and now is None:
        api.create_repo(repo_id, repo_type=repo_type, private=wanted == "private", exist_ok=True, **create)
    elif not dry_run and wanted != now:
        api.update_repo_settings(repo_id, repo_type=repo_type, private=wanted == "private")
    note = " (new)" if now is None else f" (was {now})" if wanted != now else ""
    return f"the {wanted} {'Dataset' if repo_type == 'dataset' else 'static Space'} {repo_id}{note}"


def space_title(suites: list[str]) -> str:
    """"agent-eval: a, b +3 more": as many whole suite names as fit the Hub's limit, never one cut."""
    for shown in range(len(suites), 0, -1):
        more = f" +{len(suites) - shown} more" if shown < len(suites) else ""
        if len(title := f"agent-eval: {', '.join(suites[:shown])}{more}") <= TITLE_LIMIT:
            return title
    return f"agent-eval: {len(suites)} suites" if suites else "agent-eval: report"


def publish_report(store: Path, space: str, public: bool | None, dry_run: bool, traces_dataset: str | None, say: Callable[[str], None]) -> str:
    """The report in one commit that leaves the Space holding exactly it: the files of an earlier
    report that this one does not have are deleted in the same commit (.gitattributes stays)."""
    api = hub()
    trace_base = f"{api.endpoint}/datasets/{traces_dataset}/blob/main/" if traces_dataset else ""  # "": no links
    with tempfile.TemporaryDirectory(prefix="agent-eval-report-") as tmp:
        site = Path(tmp)
        built = report.build(store, site, trace_base=trace_base, say=say)
        suites = sorted(columns.read(store).values("suite"))  # the suites with runs, not every plan.json
        (site / "README.md").write_text(SPACE_CARD.format(title_json=orjson.dumps(space_title(suites)).decode(), suites=", ".join(suites) or "a store",
                                                          runs=built.size, version=built.meta["harness_version"]))
        files = sorted(p for p in site.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        where = repository(api, space, "space", public, dry_run, space_sdk="static")
        if dry_run:
            for path in files:
                say(f"  {path.relative_to(site)}  {path.stat().st_size / 1e3:.1f} kB")
            say(f"dry run: would upload {len(files)} files ({size / 1e6:.1f} MB) to {where}, replacing what it holds")
            return ""
        api.upload_folder(repo_id=space, repo_type="space", folder_path=site, delete_patterns="*", commit_message=f"agent-eval report: {built.size} runs")
        say(f"uploaded {len(files)} files ({size / 1e6:.1f} MB) to {where}")
    return f"{api.endpoint}/spaces/{space}"


def upload_traces(store: Path, dataset: str, public: bool | None, push: bool, say: Callable[[str], None]) -> str:
    traces = sorted(store.glob("runs/*/*/*/*/*/trace.jsonl"))
    if not traces:
        raise FileNotFoundError(f"{store}: no runs/**/trace.jsonl to upload")
    size = sum(p.stat().st_size for p in traces)
    api = hub()
    where = repository(api, dataset, "dataset", public, dry_run=not push)
    if not push:
        for path in traces[:20]:
            say(f"  {path.relative_to(store)}")
        more = f" (and {len(traces) - 20} more)" if len(traces) > 20 else ""
        say(f"dry run{more}: would upload {len(traces)} traces ({size / 1e6:.1f} MB), redacted, to {where}; add --push")
        return ""
    secrets = held()
    with tempfile.TemporaryDirectory(prefix="agent-eval-traces-") as tmp:
        staging = Path(tmp)
        for path in traces:
            dest = staging / path.relative_to(store)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(redact(path.read_bytes(), secrets))
        (staging / "README.md").write_text(DATASET_CARD.format(title=f"agent-eval traces ({store.name})", count=len(traces)))
        api.upload_folder(repo_id=dataset, repo_type="dataset", folder_path=staging, commit_message=f"agent-eval: {len(traces)} pi sessions")
    say(f"uploaded {len(traces)} traces ({size / 1e6:.1f} MB) to {where}")
    return f"{api.endpoint}/datasets/{dataset}"


CARD = """---
pretty_name: {quoted_title}
tags: [agent-eval, evaluation, coding-agents]
configs:
- config_name: default
  data_files: {file}
---
# {title}

Results of agent-eval runs: how much work a coding agent needed to use a library. One row per run ({runs} runs), written by agent-eval {version}.

- Suites: {suites}
- Models: {models}
- Revisions: {revisions}
{report}
Statuses `setup_error` and `infra_error` are the harness's or the provider's failures, not the
agent's: leave them out of match rates and medians. `tokens_*` are null when the provider reported
no usage (unknown, never zero).

## Columns

| column | meaning |
| --- | --- |
{columns}
"""


def card(rows: list[dict], title: str, report_space: str | None, endpoint: str) -> str:
    def listed(column: str) -> str:
        return ", ".join(f"`{v}`" for v in dict.fromkeys(r[column] for r in rows)) or "none"

    revisions = ", ".join(f"`{name}` ({sha[:10]})" for name, sha in dict.fromkeys((r["revision"], r["sha"]) for r in rows)) or "none"
    report = f"- The report: {endpoint}/spaces/{report_space}\n" if report_space else ""
    return CARD.format(title=title, quoted_title=orjson.dumps(title).decode(), file=PARQUET_FILE, runs=len(rows), version=__version__, suites=listed("suite"), models=listed("model"),
                       revisions=revisions, report=report, columns="\n".join(f"| `{c}` | {DOCS[c]} |" for c in results.COLUMNS))


def records(store: Path, rows: list[dict]) -> dict[str, str]:
    """The environment records the rows name (envs/<digest>.txt), published beside the table."""
    found = {}
    for row in rows:
        if row.get("environment") and row["environment"] not in found:
            if (text := environments.read(store, row["environment"], row["folder"])) is not None:
                found[row["environment"]] = text
    return found


def publish_results(store: Path, dataset: str, public: bool | None, dry_run: bool, report_space: str | None, say: Callable[[str], None]) -> str:
    """The table as one Parquet file plus a card, in one commit that replaces the previous data."""
    from huggingface_hub import CommitOperationAdd, HfApi


    rows = ordered(store, say)  # as `results` lists them
    if not rows:
        raise ExportError(f"{store}: no results to publish")
    api = HfApi()
    with tempfile.TemporaryDirectory(prefix="agent-eval-results-") as tmp:
        parquet = Path(tmp) / "results.parquet"
        write_parquet(rows, parquet)
        readme = card(rows, f"agent-eval results: {dataset.split('/')[-1]}", report_space, api.endpoint)
        where = repository(api, dataset, "dataset", public, dry_run)
        if dry_run:
            say(f"dry run: would commit {PARQUET_FILE} ({len(rows)} rows, {parquet.stat().st_size / 1e3:.1f} kB) and README.md to {where}")
            return ""
        operations = [CommitOperationAdd(PARQUET_FILE, str(parquet)), CommitOperationAdd("README.md", readme.encode())]
        operations += [CommitOperationAdd(f"{environments.FOLDER}/{name}.txt", text.encode()) for name, text in records(store, rows).items()]
        api.create_commit(dataset, operations, repo_type="dataset", commit_message=f"agent-eval results: {len(rows)} runs")
    say(f"committed {len(rows)} rows to {where}")
    return f"{api.endpoint}/datasets/{dataset}"
