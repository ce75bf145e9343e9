"""Local paths among a profile's install requirements (`install.packages: [./helper]`): which
requirements name one, where it is, and a digest of what it holds, so an edit gives a new
environment and a new run key, and no edit reuses the old ones."""

from __future__ import annotations

import re
from pathlib import Path

EXTRAS = re.compile(r"\[[^\]]*\]$")


def path_text(requirement: str) -> str | None:
    """The path a requirement names, as written, or None: `./x`, `/x`, `~/x`, `x/y[extra]`,
    `name @ file:///x`. A URL (`git+https://…`) or a name with a version is not a path."""
    text = requirement.strip()
    if "@" in text and not text.startswith(("/", ".", "~")):
        text = text.split("@", 1)[1].strip()
    text = text.removeprefix("file://")
    if "://" in text or text.startswith("-") or ";" in text:
        return None
    text = EXTRAS.sub("", text)
    return text if text.startswith((".", "/", "~")) or "/" in text else None


def where(text: str, base: Path) -> Path:
    """A written path, absolute: relative ones are the profile folder's."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else (base / path).absolute()


def absolute(requirement: str, base: Path) -> str:
    """The requirement with its local path made absolute, so the install finds it from anywhere."""
    text = path_text(requirement)
    return requirement if text is None else requirement.replace(text, str(where(text, base)), 1)


def paths(requirements: list[str], base: Path) -> dict[str, Path]:
    """Every local path among the requirements: as written -> where it is."""
    return {text: where(text, base) for text in map(path_text, requirements) if text is not None}
