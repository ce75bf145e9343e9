"""Redaction: the secret values this process holds, and every common spelling of them, replaced by
[REDACTED] before anything is stored or published.

The sandbox keeps the agent away from the keys; this is the second line of defence, for whatever
still reaches a trace: a key printed as is, JSON-escaped, URL-encoded, in hex, or in base64 at any
alignment inside a longer encoded string.
"""

from __future__ import annotations

import base64
import configparser
import os
from pathlib import Path
from urllib.parse import quote, quote_plus

import orjson

MIN_LENGTH = 8  # shorter values would redact ordinary words; no real key is this short
MARK = b"[REDACTED]"


def is_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret (HF_TOKEN, *_KEY, *_SECRET…)."""
    return any(word in name.upper() for word in ("TOKEN", "KEY", "SECRET", "PASSWORD"))


def held(names: set[str] = frozenset()) -> list[str]:
    """The values of the variables named, of every variable whose name says it is secret, and every
    Hub token huggingface_hub could use: everything this process could leak."""
    values = {v for k, v in os.environ.items() if (is_secret(k) or k in names)} | hub_tokens()
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


def hub_tokens() -> set[str]:
    """Whichever token huggingface_hub would pick (HF_TOKEN, OIDC, the saved login…) and, even when
    HF_TOKEN is set, the saved ones an unsandboxed agent can read: the login `hf auth login` saved
    (HF_TOKEN_PATH, default ~/.cache/huggingface/token) and every token and refresh token in its
    stored_tokens file beside it."""
    from huggingface_hub import constants, get_token

    found: set[str] = set()
    try:
        found.add(get_token() or "")
    except Exception:  # an OIDC exchange that failed, an unreadable file: nothing to redact from it
        pass
    try:
        found.add(Path(constants.HF_TOKEN_PATH).read_text().strip())
    except (OSError, UnicodeDecodeError):
        pass
    stored = configparser.ConfigParser(interpolation=None)
    try:
        stored.read(constants.HF_STORED_TOKENS_PATH, encoding="utf-8")  # a missing file reads as empty
    except (configparser.Error, UnicodeDecodeError):
        pass
    found |= {value.strip() for name in stored.sections() for key, value in stored.items(name) if key != "expires_at"}
    return found - {""}


def spellings(secret: str) -> set[bytes]:
    raw = secret.encode()
    found = {raw, orjson.dumps(secret)[1:-1], quote(secret, safe="").encode(), quote_plus(secret).encode(),
             raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):  # base64 of a longer text: the secret's own characters at each of 3 alignments
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw)
            start, end = (shift * 4 + 2) // 3, (shift + len(raw)) // 3 * 4
            if end - start >= MIN_LENGTH:
                found.add(encoded[start:end])
    return {s for s in found if len(s) >= MIN_LENGTH}


def redact(data: bytes, secrets: list[str]) -> bytes:
    for secret in secrets:
        for spelled in sorted(spellings(secret), key=len, reverse=True):
            data = data.replace(spelled, MARK)
    return data
