"""CPU per request of the gateway's application code alone, with an optional cProfile.

Starts redis-server and the stand-in upstream as real processes, builds the gateway app
in this process (``create_app()``, same configuration as ``cpu_per_request.py``) and drives
the ASGI app directly (no HTTP server, no client sockets) with ``--concurrency`` closed-loop
callers; prints process CPU µs per request (this process: the app and its spool thread).

    .venv/bin/python benchmarks/gateway/inprocess_cpu.py [--requests 1000] [--concurrency 4]
        [--profile]   # cProfile with a CPU-time timer; prints the top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, load_average, start_cli, start_redis, stop_all  # noqa: E402
from setup import bench_env, seed_redis  # noqa: E402

BODY = (
    b'{"model":"standin-1","messages":[{"role":"user","content":'
    b'"Summarise the history of the printing press in three sentences."}]}'
)


async def call(app: Any, key: str) -> None:
    """One chat request through the ASGI app; asserts a 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8080),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + key.encode()),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    out: list[dict[str, Any]] = []

    async def send(m: dict[str, Any]) -> None:
        out.append(m)

    await app(scope, receive, send)
    if out[0]["status"] != 200:
        raise SystemExit(f"request failed: {out}")


async def run(key: str, a: argparse.Namespace) -> None:
    """Start the app's lifespan, warm up, measure, shut down."""
    from distillguard.gateway.server import create_app

    app = create_app()
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    life = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    await outbox.get()
    for _ in range(50):
        await call(app, key)

    async def worker(n: int) -> None:
        for _ in range(n):
            await call(app, key)

    n = a.requests - a.requests % a.concurrency
    prof = cProfile.Profile(time.process_time) if a.profile else None
    c0 = time.process_time()
    if prof:
        prof.enable()
    await asyncio.gather(*(worker(n // a.concurrency) for _ in range(a.concurrency)))
    if prof:
        prof.disable()
    cpu = time.process_time() - c0
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await life
    print(
        f"{n} requests, concurrency {a.concurrency}: {cpu / n * 1e6:.0f} CPU us/request "
        f"(load average {load_average():.1f}{', profiled' if prof else ''})"
    )
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    procs = []
    with tempfile.TemporaryDirectory(prefix="dg-inproc-") as tmp:
        try:
            rport, uport = free_port(), free_port()
            procs.append(start_redis(rport))
            procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
            os.environ.update(bench_env(rport, uport, Path(tmp)))
            key = seed_redis(rport, decisions=1000)
            try:
                import uvloop

                uvloop.install()
            except ImportError:
                pass
            asyncio.run(run(key, a))
        finally:
            stop_all(procs)


if __name__ == "__main__":
    main()
