"""Is this machine fast enough for the suite's budget? Before the first cell, one short request
measures how fast the local model reads a prompt and writes tokens here; pi's first request is
known in size, so its time follows. A busy or slow CPU otherwise shows only as a column of
timeouts (infra_error: the provider sent nothing) with no hint of the cause."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

# pi's first request (system prompt, tool definitions, a short task) is about 1,340 prompt tokens
# for Qwen2.5's tokenizer with pi 1.6, and a first reply is some tens of tokens.
FIRST_PROMPT, FIRST_REPLY = 1400, 60
PROBE = " ".join(f"Item {i} is a plain line of text for timing." for i in range(12)) + " Reply with the word ok."


class Speed(BaseModel):
    prompt_per_second: float
    generated_per_second: float

    @property
    def first_request(self) -> float:
        """Seconds pi's first request takes when nothing of it is cached."""
        return FIRST_PROMPT / self.prompt_per_second + FIRST_REPLY / self.generated_per_second


def measure(url: str) -> Speed | None:
    """One uncached request of ~150 prompt tokens and 8 generated; None when the server gives no
    timings (only llama.cpp's server is asked, and it does)."""
    body = {"model": "probe", "temperature": 0, "max_tokens": 8, "cache_prompt": False, "messages": [{"role": "user", "content": PROBE}]}
    try:
        timings = httpx.post(f"{url}/chat/completions", json=body, timeout=300).json().get("timings") or {}
    except (httpx.HTTPError, ValueError):
        return None
    prompt, generated = timings.get("prompt_per_second"), timings.get("predicted_per_second")
    return Speed(prompt_per_second=prompt, generated_per_second=generated) if prompt and generated else None


def too_slow(model: str, speed: Speed, timeout: float) -> str | None:
    """A warning when pi's first request alone would take more than half a cell's time budget."""
    if speed.first_request <= timeout / 2:
        return None
    return (f"warning: {model} runs slowly here ({speed.prompt_per_second:.0f} prompt tokens/s, {speed.generated_per_second:.1f} "
            f"generated tokens/s): pi's first request alone takes about {speed.first_request:.0f} s of each cell's {timeout:.0f} s; "
            f"cells may end with no reply (infra_error, run again to retry). Raise budgets.timeout to at least "
            f"{4 * speed.first_request:.0f}, or free the CPU of other work")
