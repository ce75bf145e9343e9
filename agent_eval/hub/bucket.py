"""The store on a Hugging Face Storage Bucket: the local store's layout and contract, remotely.

A Job mounts its own run folder at its place under /store and its worker writes there, result.json
last, exactly as on a local disk; so a cell is done iff `runs/…/result.json` exists in the bucket.
From the submitting machine everything goes through huggingface_hub's bucket API: one listing to
learn what is done, one batch to put the snapshot, the cells and the wheel, a sync to pull.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Hub client costs a quarter second to import: `report STORE` only needs PREFIX
    from huggingface_hub import HfApi

PREFIX = "hf://buckets/"


class BucketError(Exception):
    pass


def check_id(bucket_id: str) -> str:
    """ORG/NAME, with or without the hf://buckets/ prefix, by the Hub's own rules for repo ids."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    bare = bucket_id.removeprefix(PREFIX).strip("/")
    try:
        validate_repo_id(bare)
        ok = bare.count("/") == 1
    except HFValidationError:
        ok = False
    if not ok:
        raise BucketError(f"bucket '{bucket_id}' is not a valid ORG/NAME (letters, digits, - _ . ; no '--' or '..'; e.g. --bucket my-org/agent-eval)")
    return bare


class BucketStore:
    def __init__(self, bucket_id: str, api: HfApi | None = None):
        from huggingface_hub import HfApi

        self.id = check_id(bucket_id)
        self.api = api or HfApi()

    @property
    def uri(self) -> str:
        return f"{PREFIX}{self.id}"

    def ensure(self) -> None:
        """Create the bucket, private, if it does not exist yet."""
        self.api.create_bucket(self.id, private=True, exist_ok=True)

    def done(self) -> set[str]:
        """The run folders whose result.json is in the bucket: one paginated listing."""
        return {
            entry.path.removesuffix("/result.json")
            for entry in self.api.list_bucket_tree(self.id, prefix="runs", recursive=True)
            if entry.path.endswith("/result.json")
        }

    def read(self, path: str) -> bytes | None:
        """One small file of the bucket (a suite's plan.json), or None when it has none."""
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / "file"
            self.api.download_bucket_files(self.id, [(path, local)])
            return local.read_bytes() if local.is_file() else None

    def has(self, path: str) -> bool:
        return any(True for _ in self.api.get_bucket_paths_info(self.id, [path]))

    def put(self, files: list[tuple[Path | bytes, str]]) -> None:
        if files:
            self.api.batch_bucket_files(self.id, add=files)

    def pull(self, dest: Path, exact: bool = False, say=lambda line: None) -> tuple[int, int]:
        """Bring the bucket down to a local store, incrementally: (files fetched, results among them).
        result.json files come last, so an interrupted pull never leaves a result without its trace.
        `exact` also deletes local files the bucket no longer has (for a mirror, not a user's store).
        One look at the bucket first, which the client does not retry: an unreachable Hub or a
        missing bucket is one error at once, and no folder is made for it."""
        self.api.bucket_info(self.id)
        say(f"pulling {self.uri} into {dest} …")
        made = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        skip = ["wheels/*", "snapshots/*", "*.partial", "index.sqlite*"]  # the Jobs' own copies; the index is derived here, never synced
        try:
            rest = self.api.sync_bucket(self.uri, str(dest), exclude=[*skip, "*/result.json"], delete=exact, quiet=True)
            results = self.api.sync_bucket(self.uri, str(dest), include=["runs/*/result.json"], exclude=skip, delete=exact, quiet=True)
        except BaseException:
            if made and not any(dest.iterdir()):
                dest.rmdir()
            raise
        fetched = rest.summary()["downloads"], results.summary()["downloads"]
        return fetched[0] + fetched[1], fetched[1]
