"""Releases: a revision named by a released version (`release: "sqlite-utils==3.36"`) rather than a
git ref — for a library whose history is out of reach, or when what users install is the question.

A release is resolved once per plan, through the package index's JSON simple API (PEP 691), to its
exact distribution files and their sha256. The digest of those hashes stands where a git SHA would
(the run key, the store's runs/<sha10>/ folder): a re-uploaded file is a different revision. The
revision's environment installs the library from the index in hash-checking mode; the clone tier
gets the source distribution, verified and unpacked, as its checkout.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

from . import unpack
from .cache import cache_dir, locked

INDEX = os.environ.get("AGENT_EVAL_INDEX_URL", "https://pypi.org/simple").rstrip("/")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SDIST_SUFFIXES = (".tar.gz", ".zip")


class ReleaseError(Exception):
    """A release cannot be used. One line, says what to do."""


class DistFile(BaseModel):
    filename: str
    url: str
    sha256: str
    kind: Literal["wheel", "sdist"]


class Release(BaseModel):
    requirement: str  # as the suite wrote it
    project: str  # normalized (PEP 503)
    version: str
    files: list[DistFile]

    @property
    def digest(self) -> str:
        """The release's identity: a hash of every file's name and sha256."""
        lines = sorted(f"{f.filename} {f.sha256}\n" for f in self.files)
        return hashlib.sha256("".join(lines).encode()).hexdigest()

    @property
    def sdist(self) -> DistFile | None:
        return next((f for f in self.files if f.kind == "sdist"), None)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(requirement: str) -> tuple[str, str]:
    found = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*", requirement)
    if not found:
        raise ReleaseError(f"release '{requirement}': pin exactly one version as NAME==VERSION, e.g. sqlite-utils==3.36")
    return found[1], found[2]


def resolve(requirement: str, need_sdist: bool = False) -> Release:
    """The release's files and hashes, from the index; `need_sdist` when a tier checks the source out."""
    name, version = pinned(requirement)
    project = normalize(name)
    page = _simple_page(project, requirement)
    files = [_dist(f) for f in page.get("files", []) if _same(_version_of(f["filename"], project), version)]
    files = [f for f in files if f]
    if not files:
        raise ReleaseError(f"release '{requirement}': {name} has no version {version} on {INDEX}; closest: {_closest(version, page.get('versions', []))}")
    release = Release(requirement=requirement, project=project, version=version, files=files)
    if need_sdist and release.sdist is None:
        raise ReleaseError(
            f"release '{requirement}': no source distribution on {INDEX}, so the clone tier has nothing to check out; "
            "leave the clone tier out of this suite or pick a release that has an sdist"
        )
    return release


def latest(project: str, count: int) -> list[str]:
    """The project's newest `count` final releases on the index, oldest first."""
    page = _simple_page(normalize(project), project)
    found = {Version(v) for v in page.get("versions", []) if _valid(v)}
    return [str(v) for v in sorted(v for v in found if not v.is_prerelease and not v.is_devrelease)[-count:]]


def _simple_page(project: str, requirement: str) -> dict:
    import httpx  # here, not at the top: every reader of a store imports Release, few fetch

    try:
        response = httpx.get(f"{INDEX}/{project}/", headers={"Accept": SIMPLE_JSON}, follow_redirects=True, timeout=30)
    except httpx.HTTPError as err:
        raise ReleaseError(f"release '{requirement}': cannot reach the package index {INDEX} ({type(err).__name__}: {err}); check the network or set AGENT_EVAL_INDEX_URL") from None
    if response.status_code == 404:
        raise ReleaseError(f"release '{requirement}': no project '{project}' on {INDEX}; check the name")
    if response.status_code != 200 or SIMPLE_JSON not in response.headers.get("content-type", ""):
        raise ReleaseError(f"release '{requirement}': {INDEX} answered {response.status_code} without a JSON simple page (PEP 691); use an index that serves one")
    return response.json()


def _dist(entry: dict) -> DistFile | None:
    sha = entry.get("hashes", {}).get("sha256")
    name = entry["filename"]
    kind = "wheel" if name.endswith(".whl") else "sdist" if name.endswith(SDIST_SUFFIXES) else None
    return DistFile(filename=name, url=entry["url"], sha256=sha, kind=kind) if sha and kind else None


def _version_of(filename: str, project: str) -> str | None:
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) >= 5 and normalize(parts[0]) == project else None
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem, _, version = filename.removesuffix(suffix).rpartition("-")
            return version if normalize(stem) == project else None
    return None


def _same(found: str | None, wanted: str) -> bool:
    try:
        return found is not None and Version(found) == Version(wanted)  # 3.36 == 3.36.0
    except InvalidVersion:
        return found == wanted


def _closest(version: str, versions: list[str]) -> str:
    """The two releases below and the two above `version`, in PEP 440 order."""
    known = sorted({Version(v) for v in versions if _valid(v)})
    if not known:
        return "none (the project has no releases)"
    wanted = Version(version) if _valid(version) else known[-1]
    below = [str(v) for v in known if v < wanted]
    above = [str(v) for v in known if v >= wanted]
    return ", ".join(below[-2:] + above[:2])


def _valid(version: str) -> bool:
    try:
        Version(version)
        return True
    except InvalidVersion:
        return False


# --- installing and unpacking ------------------------------------------------------------------


def install_steps(release: Release, extras: list[str], packages: list[str]) -> list[list[str]]:
    """`uv pip install` arguments, in order: the library alone, checked against the resolved hashes,
    then its dependencies and the profile's extra packages (the pinned library is already there)."""
    hashed = cache_dir() / "releases" / f"{release.project}-{release.digest[:16]}.txt"
    if not hashed.is_file():
        hashed.parent.mkdir(parents=True, exist_ok=True)
        hashes = " ".join(f"--hash=sha256:{f.sha256}" for f in release.files)
        partial = hashed.with_suffix(".partial")
        partial.write_text(f"{release.project}=={release.version} {hashes}\n")
        partial.replace(hashed)
    extra = f"[{','.join(extras)}]" if extras else ""
    index = ["--index-url", INDEX]
    return [[*index, "--no-deps", "--require-hashes", "-r", str(hashed)], [*index, f"{release.project}{extra}=={release.version}", *packages]]


def source(release: Release) -> Path:
    """The sdist's tree, downloaded once, verified against its sha256 and unpacked in the cache."""
    sdist = release.sdist
    if sdist is None:
        raise ReleaseError(f"release '{release.requirement}': no source distribution to unpack")
    dest = cache_dir() / "src" / f"release-{release.digest[:16]}"
    if dest.is_dir():
        return dest
    with locked(dest):
        if not dest.is_dir():
            archive = _download(sdist)
            partial = dest.with_name(dest.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            try:
                unpack.unpack(archive, partial)
            except unpack.UnsafeArchive as err:
                raise ReleaseError(f"{archive.name}: {err}; this sdist cannot be the clone tier's checkout") from None
            tops = list(partial.iterdir())
            # An sdist holds one top folder, NAME-VERSION/: its contents are the checkout.
            (tops[0] if len(tops) == 1 and tops[0].is_dir() else partial).rename(dest)
            shutil.rmtree(partial, ignore_errors=True)
    return dest


def _download(dist: DistFile) -> Path:
    import httpx

    path = cache_dir() / "releases" / "files" / dist.sha256 / dist.filename
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, partial = hashlib.sha256(), path.with_suffix(".partial")
    try:
        with httpx.stream("GET", dist.url, follow_redirects=True, timeout=60) as response, open(partial, "wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                digest.update(chunk)
                out.write(chunk)
    except httpx.HTTPError as err:
        raise ReleaseError(f"cannot download {dist.filename} ({type(err).__name__}: {err})") from None
    if digest.hexdigest() != dist.sha256:
        partial.unlink()
        raise ReleaseError(f"{dist.filename}: sha256 {digest.hexdigest()} is not the index's {dist.sha256}; the file changed, plan again")
    partial.replace(path)
    return path
