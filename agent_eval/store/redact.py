"""Redaction: the secret values this process holds, and every common spelling of them, replaced by
[REDACTED] before anything is stored or published.

The sandbox keeps the agent away from the keys; this is the second line of defence, for whatever
still reaches a trace: a key printed as is, JSON-escaped, URL-encoded, in hex, or in base64 at any
alignment inside a longer encoded string.
"""

from __future__ import annotations

import base64
import os
from urllib.parse import quote, quote_plus

import orjson

MIN_LENGTH = 8  # shorter values would redact ordinary words; no real key is this short
MARK = b"[REDACTED]"


def is_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret (HF_TOKEN, *_KEY, *_SECRET…)."""
    return any(word in name.upper() for word in ("TOKEN", "KEY", "SECRET", "PASSWORD"))


def held(names: set[str] = frozenset()) -> list[str]:
    """The values of the variables named, of every variable whose name says it is secret, and the
    Hub token `hf auth login` saved: everything this process could leak."""
    values = {v for k, v in os.environ.items() if (is_secret(k) or k in names) and len(v) >= MIN_LENGTH}
    try:
        from huggingface_hub import get_token

        token = get_token()
    except Exception:  # no huggingface_hub config to read: nothing saved to redact
        token = None
    if token and len(token) >= MIN_LENGTH:
        values.add(token)
    return sorted(values, key=len, reverse=True)


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
