"""Unpacking archives we did not make — a revision's `git archive`, a release's sdist — without
trusting them. tarfile's filter="data" would check each member, but Python gained it only in 3.11.4
and 3.10.12 (Debian 12's own Python is 3.11.2), so the checks are here, the same on every Python:
no absolute path, no `..`, no device or fifo, no link that leads out of the folder, no setuid bit,
and no owner taken from the archive."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath


class UnsafeArchive(Exception):
    """A member that would land outside the folder, or is not a file, folder or link. One line."""


def unpack(archive: Path, dest: Path) -> None:
    """A .zip, or a tar of any compression, into `dest` (made here, must not exist)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            extract_zip(zipped, dest)
    else:
        with tarfile.open(archive) as tar:
            extract_tar(tar, dest)


def extract_tar(tar: tarfile.TarFile, dest: Path) -> None:
    dest.mkdir(parents=True)
    root = os.path.realpath(dest)
    links = []
    for member in tar:
        target = _target(root, member.name)
        if member.isdir():
            os.makedirs(target, exist_ok=True)
        elif member.isreg():
            _write(tar.extractfile(member), target, member.mode)
        elif member.islnk():
            _hard_link(root, member, target)
        elif member.issym():
            links.append((member, target))
        else:
            raise UnsafeArchive(f"unsafe member: {member.name} (a device or fifo)")
    # Symlinks last, so nothing above is written through one; each is checked once all are there,
    # since a link may lead through another made after it.
    for member, target in links:
        if os.path.isabs(member.linkname):
            raise UnsafeArchive(f"unsafe member: {member.name} (a link to the absolute path {member.linkname})")
        if os.path.lexists(target):  # the archive also writes through this path, as if it were a folder
            raise UnsafeArchive(f"unsafe member: {member.name} (a link where the archive also has a file or folder)")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(member.linkname, target)
    for member, target in links:
        if not _inside(os.path.realpath(target), root):
            raise UnsafeArchive(f"unsafe member: {member.name} (a link to {member.linkname}, outside the folder)")


def extract_zip(zipped: zipfile.ZipFile, dest: Path) -> None:
    """zipfile makes no links and sets no modes: the names are what need checking."""
    dest.mkdir(parents=True)
    root = os.path.realpath(dest)
    for info in zipped.infolist():
        target = _target(root, info.filename)
        if info.is_dir():
            os.makedirs(target, exist_ok=True)
        else:
            with zipped.open(info) as data:
                _write(data, target, 0o644)


def _target(root: str, name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchive(f"unsafe member: {name} (a path outside the folder)")
    return os.path.join(root, *path.parts)


def _hard_link(root: str, member: tarfile.TarInfo, target: str) -> None:
    path = PurePosixPath(member.linkname)
    source = os.path.join(root, *path.parts)
    # No symlink is made yet: a file found here is a file inside the folder.
    if path.is_absolute() or ".." in path.parts or not os.path.isfile(source):
        raise UnsafeArchive(f"unsafe member: {member.name} (a hard link to {member.linkname}, which is no file of the archive before it)")
    os.link(source, target)


def _write(data, target: str, mode: int) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(data, out)
    os.chmod(target, mode & 0o755 | 0o600)  # no setuid, setgid or sticky bit, nobody else may write


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)
