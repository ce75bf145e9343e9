"""Text read from files or the store, made safe to show: a control character (an escape sequence,
a newline, a bidi override) in a name could rewrite the terminal or forge a line of output."""

from __future__ import annotations

import unicodedata


def is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def visible(text: object, newlines: bool = False) -> str:
    """`text` with every control character written out (\\x1b, \\n, \\u202e), so it shows instead of
    acting; with `newlines`, line breaks stay (inside a table cell they cannot forge a line of output)."""
    return "".join(_escaped(c) if is_control(c) and not (newlines and c == "\n") else c for c in str(text))


def console(width: int):
    """A rich Console for text read from files or the store: no markup, so `[bold]` in a task id
    prints as written; no highlighting or emoji codes. Piped, it is `width` wide, never squeezed."""
    import sys

    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else width, markup=False, highlight=False, emoji=False)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def first_control(text: str) -> str | None:
    """The first control character of `text`, written out; None when there is none."""
    return next((_escaped(c) for c in text if is_control(c)), None)
