"""Open-loop HTTP/1.1 load generator, run as its own process (cheap: raw asyncio streams).

Sends ``rate`` POSTs per second for ``seconds`` at fixed intervals, never waiting for answers
(an idle keep-alive connection is reused, else a new one opened), and prints one JSON line:
latencies in ms of the 200 answers, statuses, errors by kind, achieved rate, sent count.

Like common HTTP clients, it drops a pooled connection the server has already closed, and a
request on a reused connection that the server closed before sending any byte of an answer
is retried once on a new connection (counted in ``retried``): then "unanswered" means lost,
not the keep-alive race of an idle connection closed by the server as it was reused.

    python benchmarks/gateway/loadgen.py URL KEY RATE SECONDS [--max-tokens N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from urllib.parse import urlsplit

BODY = (
    b'{"model":"standin-1","max_tokens":%d,"messages":[{"role":"user","content":'
    b'"Explain step by step how a cache works."}]}'
)


class Conn:
    """One keep-alive connection."""

    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w


async def _read_response(r: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for ln in lines[1:]:
        if ln[:15].lower() == b"content-length:":
            length = int(ln[15:].strip())
    body = await r.readexactly(length) if length else b""
    return status, body


async def run(
    url: str, key: str, rate: float, seconds: float, max_tokens: int
) -> dict[str, object]:
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    body = BODY % max_tokens
    req = (
        f"POST {u.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    idle: list[Conn] = []
    lat: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    kinds: dict[str, int] = {}
    counts = {"retried": 0, "stale_dropped": 0}

    def kind(name: str) -> None:
        kinds[name] = kinds.get(name, 0) + 1

    def take_idle() -> Conn | None:
        # like urllib3/httpcore: a pooled connection the server has closed (EOF already
        # seen) is dropped instead of reused
        while idle:
            c = idle.pop()
            if c.r.at_eof() or c.w.is_closing():
                c.w.close()
                counts["stale_dropped"] += 1
                continue
            return c
        return None

    async def exchange(c: Conn) -> int:
        c.w.write(req)
        status, _ = await asyncio.wait_for(_read_response(c.r), timeout=30)
        return status

    async def one() -> None:
        nonlocal errors
        t = time.perf_counter()
        c = take_idle()
        reused = c is not None
        try:
            if c is None:
                c = Conn(*await asyncio.open_connection(host, port))
        except OSError as exc:
            errors += 1
            kind("connect:" + type(exc).__name__)
            return
        try:
            try:
                status = await exchange(c)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                closed_unread = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if not (reused and closed_unread):
                    raise
                # the server closed this reused connection before answering anything (the
                # keep-alive race): retry once on a new connection, as real clients do
                c.w.close()
                counts["retried"] += 1
                c = Conn(*await asyncio.open_connection(host, port))
                status = await exchange(c)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            errors += 1
            kind(type(exc).__name__)
            c.w.close()
            return
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            lat.append((time.perf_counter() - t) * 1000)
        else:
            errors += 1
        idle.append(c)

    for _ in range(20):  # warm a few connections and both servers
        await one()
    lat.clear()
    warm_answered = sum(statuses.values())
    statuses.clear()
    kinds.clear()
    counts.update(retried=0, stale_dropped=0)
    errors = 0
    n = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter()
    late = 0
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1
        tasks.append(asyncio.create_task(one()))
    sent_s = time.perf_counter() - t0
    done, pending = await asyncio.wait(tasks, timeout=seconds + 30)
    for t in pending:
        t.cancel()
    errors += len(pending)
    if pending:
        kinds["no_answer_in_time"] = len(pending)
    for c in idle:
        c.w.close()
    return {
        "lat_ms": lat,
        "errors": errors,
        "sent": n,
        "statuses": statuses,
        "error_kinds": kinds,
        "send_rate": n / sent_s if sent_s else 0.0,
        "late_sends": late,
        "answered": sum(statuses.values()),
        "warmup_sent": 20,
        "warmup_answered": warm_answered,
        **counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("key")
    ap.add_argument("rate", type=float)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    coro = run(a.url, a.key, a.rate, a.seconds, a.max_tokens)
    try:
        import uvloop
    except ImportError:
        out = asyncio.run(coro)
    else:
        out = uvloop.run(coro)
    out["lat_ms"] = [round(x, 3) for x in out["lat_ms"]]  # type: ignore[attr-defined]
    # the event loop may leave stdout non-blocking: a pipe then takes only 64 KiB of the line
    os.set_blocking(sys.stdout.fileno(), True)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
