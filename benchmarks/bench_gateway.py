"""Gateway benchmark: added latency over the upstream, exact limits across 4 replicas, soak.

One run, one machine, one stand-in upstream (``distillguard upstream``), one redis-server.
For each load level an open-loop load generator in its own process
(``benchmarks/gateway/loadgen.py``: fixed send times, never waiting for answers) sends the
same requests straight to the upstream twice (the spread of the two is the measurement's own
noise) and once through the gateway (``--workers`` processes, default 1) with limits,
policy (1,001 decisions) and event capture (spool + loader) on; added latency is the
difference of the percentiles. Then 4 gateway replicas share one account limit and receive
4x that many requests at once.

``--soak MIN`` instead runs MIN minutes at ``--soak-rate`` through the gateway, restarts the
store loader twice in the middle (killed, down 15 s, restarted), drains, and counts requests
sent vs distinct events in the store.

    .venv/bin/python benchmarks/bench_gateway.py [--small] [--rates 50,100,200,500] [--workers 2]
    .venv/bin/python benchmarks/bench_gateway.py --soak 3 --soak-rate 100

Loopback only; every process is started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "gateway"))
from common import (  # noqa: E402
    ROOT,
    free_port,
    load_average,
    start_cli,
    start_redis,
    stop_all,
)
from setup import bench_env, seed_redis  # noqa: E402

LOADGEN = str(ROOT / "benchmarks" / "gateway" / "loadgen.py")


def run_load(url: str, key: str, rate: float, seconds: float) -> dict[str, object]:
    """One open-loop run from a separate process; its JSON result."""
    p = subprocess.run(
        [sys.executable, LOADGEN, url, key, str(rate), str(seconds)],
        capture_output=True,
        check=True,
        timeout=seconds * 3 + 120,
    )
    return dict(json.loads(p.stdout))


def pct(res: dict[str, object]) -> tuple[float, float]:
    lat = np.asarray(res["lat_ms"], dtype=float)
    if lat.size == 0:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(lat, [50, 99])
    return float(p50), float(p99)


def enforcement(env: dict[str, str], rpm: int, procs: list[subprocess.Popen[bytes]]) -> int:
    """Admitted requests of 4x ``rpm`` sent at once across 4 replicas sharing one limit."""
    ports = [free_port() for _ in range(4)]
    e = {**env, "DISTILLGUARD_GATEWAY_ACCOUNT_RPM": str(rpm), "DISTILLGUARD_GATEWAY_SINK": "false"}
    for p in ports:
        procs.append(start_cli(["serve", "--port", str(p)], e, p))
    key = seed_redis(
        int(env["DISTILLGUARD_GATEWAY_REDIS_URL"].rsplit(":", 1)[1].split("/")[0]),
        decisions=0,
        account="limit-acct",
    )
    return asyncio.run(burst([f"http://127.0.0.1:{p}" for p in ports], key, rpm * 4))


async def burst(bases: list[str], key: str, n: int) -> int:
    """Send ``n`` chat requests at once round-robin over ``bases``; the number of 200s.

    A request that fails (no answer in 180 s, connection error) counts as not admitted; the
    failures are reported on stderr.
    """
    body = {"model": "standin-1", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=180, limits=limits) as c:
        rs = await asyncio.gather(
            *(
                c.post(
                    f"{bases[i % len(bases)]}/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {key}"},
                )
                for i in range(n)
            ),
            return_exceptions=True,
        )
    failed: dict[str, int] = {}
    for r in rs:
        if isinstance(r, BaseException):
            failed[type(r).__name__] = failed.get(type(r).__name__, 0) + 1
    if failed:
        print(f"burst: {sum(failed.values())} of {n} requests failed: {failed}", file=sys.stderr)
    return sum(1 for r in rs if isinstance(r, httpx.Response) and r.status_code == 200)


def soak(
    minutes: float, rate: float, tmp: Path, procs: list[subprocess.Popen[bytes]], workers: int = 1
) -> None:
    """Fixed-rate soak with two loader (store) outages; prints one table."""
    import duckdb

    rport, uport, gport = free_port(), free_port(), free_port()
    procs.append(start_redis(rport))
    procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
    env = bench_env(rport, uport, tmp, DISTILLGUARD_GATEWAY_SINK="false")
    key = seed_redis(rport, decisions=1000)
    gw = start_cli(["serve", "--port", str(gport), "--workers", str(workers)], env, gport)
    procs.append(gw)
    db = tmp / "bench.duckdb"
    sink_args = [sys.executable, "-m", "distillguard.cli", "sink", "--db", str(db)]
    full_env = {**env, "PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    loader = [
        subprocess.Popen(
            sink_args, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    ]
    procs.append(loader[0])  # every loader is in procs: stopped at the end whatever happens
    seconds = minutes * 60
    outages: list[str] = []

    def chaos() -> None:
        for frac in (0.3, 0.6):
            time.sleep(max(seconds * frac - (time.monotonic() - t0), 0))
            loader[-1].send_signal(signal.SIGKILL)
            loader[-1].wait()
            outages.append(f"{time.monotonic() - t0:.0f}s")
            time.sleep(15)
            loader.append(
                subprocess.Popen(
                    sink_args, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            procs.append(loader[-1])

    t0 = time.monotonic()
    th = threading.Thread(target=chaos, daemon=True)
    th.start()
    res = run_load(f"http://127.0.0.1:{gport}/v1/chat/completions", key, rate, seconds)
    th.join()
    gw.send_signal(signal.SIGTERM)  # graceful: flushes and seals the spool
    gw.wait(60)
    loader[-1].send_signal(signal.SIGTERM)
    loader[-1].wait(60)
    subprocess.run([*sink_args, "--once"], env=full_env, check=True, timeout=600)
    con = duckdb.connect(str(db), read_only=True)
    landed, rows = con.execute(
        "SELECT count(DISTINCT request_id), count(*) FROM events WHERE account_id = 'bench-acct'"
    ).fetchall()[0]
    con.close()
    sent = int(res["sent"]) + int(res["warmup_sent"])  # type: ignore[call-overload]
    answered = int(res["answered"]) + int(res["warmup_answered"])  # type: ignore[call-overload]
    p50, p99 = pct(res)
    head = (
        "soak",
        "sent",
        "answered (200)",
        "events landed (rows)",
        "sent - landed",
        "retried (keep-alive race)",
        "p50/p99 ms",
        "loader killed at",
    )
    row = (
        f"{minutes:g} min @ {rate:g} req/s (send rate {float(res['send_rate']):.0f})",  # type: ignore[arg-type]
        str(sent),
        f"{answered} ({len(res['lat_ms'])})",  # type: ignore[arg-type]
        f"{landed} ({rows})",
        str(sent - landed),
        str(res["retried"]),
        f"{p50:.1f}/{p99:.1f}",
        ", ".join(outages),
    )
    table([head, row])
    print(
        f"load generator: statuses {res['statuses']}, errors {res['error_kinds']}, "
        f"stale pooled connections dropped {res['stale_dropped']}, late sends {res['late_sends']}"
    )


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print(" | ".join("-" * w for w in widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="short run (3 s per level)")
    ap.add_argument("--rates", default="50,100,200,500", help="load levels, req/s")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per level [10]")
    ap.add_argument("--soak", type=float, default=0, help="soak minutes instead of levels")
    ap.add_argument("--soak-rate", type=float, default=500, help="soak req/s")
    ap.add_argument("--workers", type=int, default=1, help="gateway worker processes [1]")
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.small else 10.0)
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-gw-"))
    print(f"load average at start {load_average():.1f}")
    try:
        if args.soak:
            soak(args.soak, args.soak_rate, tmp, procs, args.workers)
            return
        rport, uport, gport = free_port(), free_port(), free_port()
        procs.append(start_redis(rport))
        procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
        env = bench_env(rport, uport, tmp)
        key = seed_redis(rport, decisions=1000)
        serve = ["serve", "--port", str(gport), "--workers", str(args.workers)]
        procs.append(start_cli(serve, env, gport))
        direct = f"http://127.0.0.1:{uport}/v1/chat/completions"
        via = f"http://127.0.0.1:{gport}/v1/chat/completions"
        rows = [
            (
                "load",
                "sent/s d/gw",
                "direct p50/p99 ms (2 runs)",
                "direct p99 spread",
                "gateway p50/p99 ms",
                "added p50/p99 ms",
                "errors d/gw",
                "loadavg",
            )
        ]
        for rate in [int(r) for r in args.rates.split(",")]:
            d1 = run_load(direct, key, rate, seconds)
            g = run_load(via, key, rate, seconds)
            d2 = run_load(direct, key, rate, seconds)
            (a50, a99), (b50, b99), (g50, g99) = pct(d1), pct(d2), pct(g)
            d50, d99 = (a50 + b50) / 2, (a99 + b99) / 2
            rows.append(
                (
                    f"{rate} req/s",
                    f"{float(d1['send_rate']):.0f}/{float(g['send_rate']):.0f}",
                    f"{a50:.2f}/{a99:.2f}, {b50:.2f}/{b99:.2f}",
                    f"{abs(a99 - b99):.2f}",
                    f"{g50:.2f}/{g99:.2f}",
                    f"{g50 - d50:.2f}/{g99 - d99:.2f}",
                    f"{int(d1['errors']) + int(d2['errors'])}/{g['errors']}",  # type: ignore[call-overload]
                    f"{load_average():.1f}",
                )
            )
        admitted = enforcement(env, 100, procs)
        rows.append(
            (
                "4 replicas, account limit 100/min",
                "-",
                "-",
                "-",
                "-",
                f"admitted {admitted} of 400",
                "exact" if admitted == 100 else "NOT EXACT",
                f"{load_average():.1f}",
            )
        )
        table(rows)
    finally:
        stop_all(procs)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
