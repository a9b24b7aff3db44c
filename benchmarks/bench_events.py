"""Event validation throughput: msgspec (our model) vs an equivalent pydantic v2 model.

Both validate the same realistic canonical JSON lines (chat messages, client, account,
params, answer, usage; RFC 3339 and epoch timestamps) from bytes to a typed object, with the
same field types. The msgspec column is the raw decoder, our full ``decode_event`` (which
also keeps unknown fields, normalises timestamps to UTC and checks text sizes) and the
ingest fast path (``decode_line_fast``); pydantic uses ``model_validate_json``. One table.

    .venv/bin/python benchmarks/bench_events.py [--small]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict

from distillguard.events import Event, decode_event
from distillguard.ingest.jsonl import decode_line_fast


class _P(BaseModel):
    model_config = ConfigDict(extra="allow")


class PMessage(_P):
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class PClient(_P):
    ip: str | None = None
    user_agent: str | None = None
    asn: int | str | None = None
    country: str | None = None


class PAccount(_P):
    created_at: datetime | float | int | None = None
    email_domain: str | None = None
    payment_fingerprint: str | None = None
    tier: str | None = None
    verified: bool | None = None


class PParams(_P):
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    stream: bool | None = None
    seed: int | None = None
    reasoning_effort: str | None = None
    tools: list[Any] | None = None


class PResponse(_P):
    text: str | None = None
    finish_reason: str | None = None


class PUsage(_P):
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None


class PEvent(_P):
    ts: datetime | float | int
    account_id: str
    request_id: str | None = None
    org_id: str | None = None
    api_key_id: str | None = None
    endpoint: str | None = None
    model: str | None = None
    messages: list[PMessage] | None = None
    prompt: str | None = None
    client: PClient | None = None
    account: PAccount | None = None
    params: PParams | None = None
    response: PResponse | None = None
    usage: PUsage | None = None
    status: int | None = None
    latency_ms: float | None = None
    decision: dict[str, Any] | None = None
    extra: dict[str, Any] = {}


def make_lines(n: int, seed: int = 3) -> list[bytes]:
    """Realistic canonical event lines (about 1 KB each)."""
    rng = random.Random(seed)
    words = [
        "step",
        "proof",
        "code",
        "test",
        "answer",
        "reason",
        "explain",
        "list",
        "grade",
        "rubric",
        "model",
        "data",
    ]
    enc = msgspec.json.Encoder()

    def text(k: int) -> str:
        return " ".join(rng.choices(words, k=k))

    out = []
    for i in range(n):
        ts: Any = f"2026-01-0{1 + i % 7}T{i % 24:02d}:{i % 60:02d}:00Z" if i % 2 else 1767225600 + i
        out.append(
            enc.encode(
                {
                    "ts": ts,
                    "account_id": f"acct-{rng.randrange(5000)}",
                    "request_id": f"req-{i}",
                    "org_id": f"org-{rng.randrange(300)}",
                    "endpoint": "/v1/chat/completions",
                    "model": rng.choice(["large", "mini"]),
                    "messages": [
                        {"role": "system", "content": text(10)},
                        {"role": "user", "content": text(rng.randrange(10, 80))},
                    ],
                    "client": {"ip": "10.1.2.3", "user_agent": "httpx", "asn": 13335},
                    "account": {"created_at": "2025-10-01T00:00:00Z", "tier": "free"},
                    "params": {"temperature": 0.7, "max_tokens": 512},
                    "response": {"text": text(rng.randrange(20, 120)), "finish_reason": "stop"},
                    "usage": {"input_tokens": 50, "output_tokens": 120},
                    "status": 200,
                    "latency_ms": 900.5,
                }
            )
        )
    return out


def _rate(fn: Callable[[bytes], object], lines: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for line in lines:
            fn(line)
        best = min(best, time.perf_counter() - start)
    return len(lines) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    n, repeat = (5_000, 2) if args.small else (50_000, 3)
    lines = make_lines(n)
    raw = msgspec.json.Decoder(Event)
    contenders: list[tuple[str, Callable[[bytes], object]]] = [
        ("msgspec Decoder(Event) (types only)", raw.decode),
        ("distillguard decode_event (full rules)", decode_event),
        ("distillguard ingest fast path", lambda b: decode_line_fast(b, 1_000_000)),
        ("pydantic v2 model_validate_json (types only)", PEvent.model_validate_json),
    ]
    rates = [(name, _rate(fn, lines, repeat)) for name, fn in contenders]
    base = rates[-1][1]
    avg = sum(map(len, lines)) / len(lines)
    print(f"{n:,} lines, {avg:,.0f} bytes on average; best of {repeat}")
    print(f"{'validator':<46} {'events/s':>10} {'MB/s':>7} {'vs pydantic':>12}")
    print("-" * 78)
    for name, rate in rates:
        print(f"{name:<46} {rate:>10,.0f} {rate * avg / 1e6:>7.1f} {rate / base:>11.1f}x")


if __name__ == "__main__":
    main()
