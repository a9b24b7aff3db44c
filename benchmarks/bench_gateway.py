"""Gateway benchmark: added latency over the upstream, and exact limits across 4 replicas.

One run, one machine, one stand-in upstream (``distillguard upstream``), one redis-server.
For each load level, the same open-loop load (requests at fixed intervals, not waiting for
answers) goes first straight to the upstream, then through one gateway worker with limits,
policy (a decision table with entries) and event capture (spool + loader) on; added latency
is the difference of the percentiles. Then 4 gateway replicas share one account limit and
receive 4x that many requests at once: exact enforcement admits exactly the limit.

    .venv/bin/python benchmarks/bench_gateway.py [--small]

Loopback only; every process is started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen(
        [sys.executable, "-m", "distillguard.cli", *args],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return p


async def load(url: str, key: str, rate: int, seconds: float) -> tuple[np.ndarray, int, float]:
    n = int(rate * seconds)
    lat: list[float] = []
    errors = 0
    body = {
        "model": "standin-1",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Explain step by step how a cache works."}],
    }
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        for _ in range(20):  # warm the connection pool and both servers
            await client.post(url, json=body, headers={"authorization": f"Bearer {key}"})

        async def one() -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                r = await client.post(url, json=body, headers={"authorization": f"Bearer {key}"})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                lat.append(time.perf_counter() - t)
            else:
                errors += 1

        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        try:  # bounded: whatever has not answered by then counts as an error
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds * 3 + 30)
        except TimeoutError:
            errors += sum(1 for t in tasks if not t.done())
        achieved = len(lat) / (time.perf_counter() - t0)
    return np.array(lat) * 1000, errors, achieved


def enforcement(
    env: dict[str, str], rpm: int, procs: list[subprocess.Popen[bytes]], client: redis.Redis
) -> tuple[int, int]:
    from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend

    ports = [free_port() for _ in range(4)]
    e = {**env, "DISTILLGUARD_GATEWAY_ACCOUNT_RPM": str(rpm), "DISTILLGUARD_GATEWAY_SINK": "false"}
    for p in ports:
        procs.append(start(["serve", "--port", str(p)], e, p))
    key = KeyAdmin(RedisKeyBackend(client), SECRET.encode()).create("limit-acct", actor="b").raw_key

    async def burst() -> list[int]:
        body = {
            "model": "standin-1",
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 1,
        }
        async with httpx.AsyncClient(timeout=30) as c:
            rs = await asyncio.gather(
                *(
                    c.post(
                        f"http://127.0.0.1:{ports[i % 4]}/v1/chat/completions",
                        json=body,
                        headers={"authorization": f"Bearer {key}"},
                    )
                    for i in range(rpm * 4)
                )
            )
        return [r.status_code for r in rs]

    codes = asyncio.run(burst())
    return codes.count(200), len(codes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="short run (3 s per level)")
    ap.add_argument("--rates", default="50,100,200,500", help="load levels, req/s")
    args = ap.parse_args()
    seconds = 3.0 if args.small else 10.0
    rates = [int(r) for r in args.rates.split(",")]
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-gw-"))
    procs: list[subprocess.Popen[bytes]] = []
    rows: list[tuple[str, ...]] = []
    try:
        rport = free_port()
        procs.append(
            subprocess.Popen(
                [
                    redis_bin,
                    "--port",
                    str(rport),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_port(rport)
        uport = free_port()
        procs.append(start(["upstream", "--port", str(uport)], {}, uport))
        env = {
            "DISTILLGUARD_GATEWAY_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
            "DISTILLGUARD_GATEWAY_KEY_SECRET": SECRET,
            "DISTILLGUARD_GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{uport}",
            "DISTILLGUARD_GATEWAY_SPOOL_DIR": str(tmp / "spool"),
            "DISTILLGUARD_STORE_DB": str(tmp / "bench.duckdb"),
            # limits on and evaluated on every request, high enough never to refuse
            "DISTILLGUARD_GATEWAY_KEY_RPM": "1000000",
            "DISTILLGUARD_GATEWAY_ACCOUNT_TPM": "1000000000",
            "DISTILLGUARD_GATEWAY_ORG_CONCURRENCY": "10000",
        }
        client = redis.Redis(port=rport)
        from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend
        from distillguard.policy import DecisionTable, MemoryLog, RedisPublisher, make_decision

        key = (
            KeyAdmin(RedisKeyBackend(client), SECRET.encode())
            .create("bench-acct", org_id="bench-org", actor="b")
            .raw_key
        )
        table = DecisionTable(RedisPublisher(client), MemoryLog())
        for i in range(1000):  # a populated decision table; the bench account gets "watermark"
            table.put(
                make_decision("account", f"other-{i}", "throttle", params={"rpm": 5}), actor="b"
            )
        table.put(make_decision("account", "bench-acct", "watermark", reason="bench"), actor="b")
        gport = free_port()
        procs.append(start(["serve", "--port", str(gport)], env, gport))
        direct = f"http://127.0.0.1:{uport}/v1/chat/completions"
        via = f"http://127.0.0.1:{gport}/v1/chat/completions"
        for rate in rates:
            d, de, da = asyncio.run(load(direct, key, rate, seconds))
            g, ge, ga = asyncio.run(load(via, key, rate, seconds))
            dp50, dp99 = np.percentile(d, [50, 99])
            gp50, gp99 = np.percentile(g, [50, 99])
            rows.append(
                (
                    f"{rate} req/s",
                    f"{da:.0f}/{ga:.0f}",
                    f"{dp50:.2f} / {dp99:.2f}",
                    f"{gp50:.2f} / {gp99:.2f}",
                    f"{gp50 - dp50:.2f} / {gp99 - dp99:.2f}",
                    f"{de}/{ge}",
                )
            )
        admitted, sent = enforcement(env, 100, procs, client)
        rows.append(
            (
                "4 replicas, limit 100/min",
                "-",
                "-",
                "-",
                f"admitted {admitted} of {sent}",
                "exact" if admitted == 100 else "NOT EXACT",
            )
        )
        client.close()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    head = (
        "load",
        "achieved direct/gw",
        "direct p50 / p99 ms",
        "gateway p50 / p99 ms",
        "added p50 / p99 ms",
        "errors d/g",
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
