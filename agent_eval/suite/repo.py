"""The library's git history: one bare mirror per repository in the cache, refs resolved to SHAs."""

from __future__ import annotations

import difflib
import io
import shutil
import tarfile
from contextlib import contextmanager
from pathlib import Path

import git

from . import unpack
from .cache import cache_dir, locked, mirror_path


class RepoError(Exception):
    """The repository or a ref cannot be used. One line, says what to do."""


@contextmanager
def opened(url: str):
    with git.Repo(mirror_path(url)) as repo:
        yield repo


def fetch(url: str) -> None:
    """A bare mirror of `url` in the cache, fetched now so branch names mean what they mean today."""
    path = mirror_path(url)
    with locked(path):
        try:
            if path.is_dir():
                with git.Repo(path) as repo:
                    repo.git.fetch("--prune", "--tags", "--force", "origin")
            else:
                git.Repo.clone_from(url, path, mirror=True).close()
        except git.GitCommandError as err:
            raise RepoError(f"cannot fetch {url}: {git_said(err)}") from None
        except git.UnsafeProtocolError as err:
            raise RepoError(f"cannot fetch {url}: git refuses that transport ({err})") from None


def latest_tags(url: str, count: int) -> list[str]:
    """The repository's newest `count` tags by date, oldest first (fetch it first)."""
    with opened(url) as repo:
        tags = repo.git.for_each_ref("--sort=creatordate", "--format=%(refname:short)", "refs/tags").split()
    return tags[-count:]


def git_said(err: git.GitCommandError) -> str:
    """git's own words (its `fatal:`/`error:` lines), not GitPython's wrapping of them."""
    lines = [line.strip().removeprefix("stderr:").strip().strip("'").strip() for line in (err.stderr or "").splitlines()]
    said = [line for line in lines if line]
    wanted = [line for line in said if line.startswith(("fatal:", "error:", "remote:"))] or said
    return " ".join(wanted)[:300] or f"git exited with {err.status}"


def ensure(url: str, sha: str) -> None:
    """The mirror holds `sha` (a worker on a fresh machine fetches it; a warm one does nothing)."""
    if (cache_dir() / "src" / sha).is_dir():
        return
    if mirror_path(url).is_dir():
        with opened(url) as repo:
            try:
                repo.commit(sha)
                return
            except ValueError:
                pass
    fetch(url)


def resolve(url: str, ref: str) -> str:
    with opened(url) as repo:
        try:
            return repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
        except git.GitCommandError:
            names = [h.name for h in repo.heads] + [t.name for t in repo.tags]
    close = difflib.get_close_matches(ref, names, n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}" if close else f"; known: {', '.join(names[:10]) or 'none'}"
    raise RepoError(f"unknown revision '{ref}'{hint}")


def path_kind(url: str, sha: str, path: str) -> str | None:
    """What `path` is at `sha`: 'tree' (a folder), 'blob' (a file), 'commit' (a submodule), or None when absent."""
    with opened(url) as repo:
        try:
            return (repo.commit(sha).tree / path.strip("/")).type
        except KeyError:
            return None


def export(url: str, sha: str) -> Path:
    """The tree at `sha` as plain files in the cache (what pip installs from); made once per SHA."""
    dest = cache_dir() / "src" / sha
    if dest.is_dir():
        return dest
    with locked(dest), opened(url) as repo:
        if not dest.is_dir():
            buffer = io.BytesIO()
            repo.archive(buffer, treeish=sha, format="tar")
            buffer.seek(0)
            partial = dest.with_name(dest.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            try:
                with tarfile.open(fileobj=buffer) as tar:
                    unpack.extract_tar(tar, partial)
            except unpack.UnsafeArchive as err:
                raise RepoError(f"the archive of revision {sha[:10]}: {err}") from None
            partial.rename(dest)
    return dest


def tree_without(url: str, sha: str, dest: Path, exclude: list[str]) -> None:
    """The tree at `sha` minus `exclude`, as a repository of one commit: a checkout whose history
    would hand the agent back what was left out (`git show <sha>:skills/…`)."""
    source = export(url, sha)
    left_out = {(source / item).resolve() for item in exclude}
    shutil.copytree(source, dest, symlinks=True, ignore=lambda folder, names: [n for n in names if (Path(folder) / n).resolve() in left_out])
    with git.Repo.init(dest) as repo:
        repo.git.add("-A")
        repo.git.commit("--quiet", "--allow-empty", "-m", f"{sha[:10]} without {', '.join(exclude)}",
                        env={"GIT_AUTHOR_NAME": "agent-eval", "GIT_AUTHOR_EMAIL": "agent-eval@localhost",
                             "GIT_COMMITTER_NAME": "agent-eval", "GIT_COMMITTER_EMAIL": "agent-eval@localhost"})


def checkout(url: str, sha: str, dest: Path) -> None:
    """A real git checkout (history included) at `sha`, sharing objects with the mirror."""
    with git.Repo.clone_from(str(mirror_path(url)), dest, shared=True, no_checkout=True) as clone:
        clone.git.checkout("--quiet", "--detach", sha)
