"""Small pure helpers of the request path: limit arithmetic, headers, prompt joining."""

from __future__ import annotations

import math
from typing import Any

from distillguard.gateway.limits import LimitDecision


def tighter(a: int, b: int) -> int:
    """The tighter of two limits, where 0 means none."""
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def joined(items: list[Any]) -> str | None:
    """The string items of a prompt list joined by newlines (None when there are none)."""
    strs = [x for x in items if isinstance(x, str)]
    return "\n".join(strs) if strs else None


def estimate_tokens(body: bytes) -> int:
    """A cheap upper-bound-ish estimate of input tokens (4 bytes per token)."""
    return max(1, len(body) // 4)


def limit_headers(ld: LimitDecision, *, retry: bool = False) -> dict[str, str]:
    """The ``x-ratelimit-*`` (and, when refused, ``retry-after``) headers of a decision."""
    h: dict[str, str] = {}
    if ld.limit_requests:
        h["x-ratelimit-limit-requests"] = str(ld.limit_requests)
        h["x-ratelimit-remaining-requests"] = str(ld.remaining_requests)
        h["x-ratelimit-reset-requests"] = f"{ld.reset_s:.3f}s"
    if ld.limit_tokens:
        h["x-ratelimit-limit-tokens"] = str(ld.limit_tokens)
        h["x-ratelimit-remaining-tokens"] = str(ld.remaining_tokens)
    if retry:
        h["retry-after"] = str(max(1, math.ceil(ld.retry_after_s)))
        if ld.dimension == "concurrency":
            h["x-ratelimit-limit-concurrency"] = str(ld.limit)
    return h
