"""Several real gateway processes against one real redis-server: shared limits, propagation of
revocations and decisions, fail-open when Redis dies, client disconnects mid-stream."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend
from distillguard.gateway.limits import Limits, RedisLimiter, Subject
from distillguard.gateway.sink import SpoolLoader
from distillguard.store import DuckDBStore

from .helpers import SECRET, free_port, require_binary, start_cli, start_redis, stop

ADMIN = "admin-token-for-tests"
REPLICAS = 3
RPM = 20


def _env(redis_port: int, upstream: int, spool: Path, **extra: str) -> dict[str, str]:
    env = {
        "DISTILLGUARD_GATEWAY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DISTILLGUARD_GATEWAY_KEY_SECRET": SECRET,
        "DISTILLGUARD_GATEWAY_ADMIN_TOKEN": ADMIN,
        "DISTILLGUARD_GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{upstream}",
        "DISTILLGUARD_GATEWAY_SPOOL_DIR": str(spool),
        "DISTILLGUARD_GATEWAY_SINK": "false",
        "DISTILLGUARD_GATEWAY_POLICY_REFRESH_S": "0.1",
        "DISTILLGUARD_GATEWAY_COMMIT_WINDOW_MS": "20",
        "DISTILLGUARD_GATEWAY_SEGMENT_MAX_AGE_S": "0.2",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    binary = require_binary("redis-server")
    tmp = tmp_path_factory.mktemp("cluster")
    procs = []
    try:
        rport = free_port()
        procs.append(start_redis(binary, rport))
        uport = free_port()
        procs.append(
            start_cli(
                ["upstream", "--port", str(uport), "--token-interval-ms", "50", "--tokens", "8"],
                {},
                uport,
            )
        )
        ports = [free_port() for _ in range(REPLICAS)]
        env = _env(rport, uport, tmp / "spool", DISTILLGUARD_GATEWAY_ACCOUNT_RPM=str(RPM))
        gws = [start_cli(["serve", "--port", str(p)], env, p) for p in ports]
        procs += gws
        client = redis.Redis(port=rport)
        admin = KeyAdmin(RedisKeyBackend(client), SECRET.encode())
        yield {
            "redis_port": rport,
            "upstream": uport,
            "ports": ports,
            "gws": gws,
            "admin": admin,
            "spool": tmp / "spool",
            "client": client,
        }
        client.close()
    finally:
        for p in reversed(procs):
            stop(p)


def _chat(port: int, key: str, **kw: Any) -> httpx.Response:
    body = {"model": "standin-1", "messages": [{"role": "user", "content": "hi"}], **kw}
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_limit_is_shared_exactly_across_replicas(cluster: dict[str, Any]) -> None:
    key = cluster["admin"].create("shared-acct", org_id="o", actor="t").raw_key
    ports = cluster["ports"]
    with ThreadPoolExecutor(12) as pool:
        codes = list(
            pool.map(lambda i: _chat(ports[i % len(ports)], key).status_code, range(RPM * 3))
        )
    assert codes.count(200) == RPM
    assert codes.count(429) == RPM * 2


def test_revocation_reaches_every_replica(cluster: dict[str, Any]) -> None:
    ports = cluster["ports"]
    r = httpx.post(
        f"http://127.0.0.1:{ports[0]}/admin/v1/keys",
        json={"account_id": "rev-acct"},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["key_id"]
    assert all(_chat(p, key).status_code == 200 for p in ports)
    bad = httpx.post(
        f"http://127.0.0.1:{ports[0]}/admin/v1/keys/{key_id}/revoke",
        headers={"authorization": "Bearer wrong"},
    )
    assert bad.status_code == 401
    httpx.post(
        f"http://127.0.0.1:{ports[0]}/admin/v1/keys/{key_id}/revoke",
        headers={"authorization": f"Bearer {ADMIN}"},
    ).raise_for_status()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        codes = [_chat(p, key).status_code for p in ports]
        if codes == [401] * len(ports):
            break
        time.sleep(0.1)
    assert codes == [401] * len(ports)


def test_decision_from_admin_api_applies_everywhere(cluster: dict[str, Any]) -> None:
    ports = cluster["ports"]
    key = cluster["admin"].create("dec-acct", actor="t").raw_key
    r = httpx.put(
        f"http://127.0.0.1:{ports[1]}/admin/v1/decisions/account/dec-acct",
        json={"actions": "block", "reason": "campaign c9"},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        codes = [_chat(p, key).status_code for p in ports]
        if codes == [403] * len(ports):
            break
        time.sleep(0.1)
    assert codes == [403] * len(ports)


def test_streamed_and_whole_answers_over_the_pooled_upstream(cluster: dict[str, Any]) -> None:
    # real processes: the gateway's own HTTP/1.1 client (keep-alive pool, chunked SSE)
    port = cluster["ports"][1]
    key = cluster["admin"].create("stream-acct", actor="t").raw_key
    whole = [_chat(port, key, max_tokens=4) for _ in range(3)]  # reuses pooled connections
    assert [r.status_code for r in whole] == [200, 200, 200]
    assert all(r.json()["choices"][0]["message"]["content"] for r in whole)
    r = _chat(port, key, stream=True, max_tokens=4)
    assert r.status_code == 200
    events = [ln for ln in r.text.split("\n") if ln.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and len(events) >= 3
    assert _chat(port, key, max_tokens=4).status_code == 200  # the pool is still healthy


def test_client_disconnect_mid_stream_cancels_upstream(cluster: dict[str, Any]) -> None:
    port, up = cluster["ports"][2], cluster["upstream"]
    key = cluster["admin"].create("abort-acct", actor="t").raw_key
    before = httpx.get(f"http://127.0.0.1:{up}/standin/stats").json()
    body = {
        "model": "standin-1",
        "messages": [{"role": "user", "content": "long"}],
        "stream": True,
        "max_tokens": 40,
    }  # 40 tokens x 50 ms = 2 s
    with (
        httpx.Client(timeout=30) as c,
        c.stream(
            "POST",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}"},
        ) as r,
    ):
        first = next(r.iter_raw())
        assert first.startswith(b"data: ")
    time.sleep(3.0)  # longer than the whole stream would take
    after = httpx.get(f"http://127.0.0.1:{up}/standin/stats").json()
    assert after["streams_started"] == before["streams_started"] + 1
    assert after["streams_completed"] == before["streams_completed"]


def test_events_of_all_replicas_reach_the_store(cluster: dict[str, Any]) -> None:
    # graceful shutdown flushes every replica's spool; the loader then sees every exchange
    for p in cluster["gws"]:
        p.send_signal(signal.SIGTERM)
    for p in cluster["gws"]:
        p.wait(30)
    store = DuckDBStore(":memory:")
    res = SpoolLoader(cluster["spool"], lambda: store).run_once()
    assert res.error == "" and res.quarantined == 0
    rows = store.sql(
        "SELECT account_id, status, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    got = {(r["account_id"], r["status"]): r["n"] for r in rows}
    assert got[("shared-acct", 200)] == RPM and got[("shared-acct", 429)] == RPM * 2
    assert got[("abort-acct", 499)] == 1
    assert got[("dec-acct", 403)] >= 3 and got[("rev-acct", 401)] >= 3


def test_redis_limiter_is_atomic_under_concurrency() -> None:
    binary = require_binary("redis-server")
    port = free_port()
    proc = start_redis(binary, port)
    try:
        import redis.asyncio as aredis

        async def main() -> list[bool]:
            pool = aredis.BlockingConnectionPool(port=port, max_connections=16, timeout=5)
            client = aredis.Redis(connection_pool=pool)
            lim = RedisLimiter(client)
            subs = [Subject("account", "x", Limits(rpm=37, concurrency=0))]
            res = await asyncio.gather(*(lim.acquire(subs, f"r{i}", 1) for i in range(200)))
            conc = [Subject("org", "y", Limits(concurrency=5))]
            held = await asyncio.gather(*(lim.acquire(conc, f"c{i}", 1) for i in range(12)))
            assert sum(d.allowed for d in held) == 5
            await lim.release(conc, "c0", 0, "redis")
            assert (await lim.acquire(conc, "c99", 1)).allowed
            await client.aclose()
            await pool.disconnect()
            return [d.allowed for d in res]

        allowed = asyncio.run(main())
        assert sum(allowed) == 37
    finally:
        stop(proc)


def test_redis_down_fails_open_with_local_limits(tmp_path: Path) -> None:
    binary = require_binary("redis-server")
    procs = []
    try:
        rport = free_port()
        rproc = start_redis(binary, rport)
        procs.append(rproc)
        uport = free_port()
        procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
        gport = free_port()
        env = _env(
            rport,
            uport,
            tmp_path / "spool",
            DISTILLGUARD_GATEWAY_ACCOUNT_RPM="5",
            DISTILLGUARD_GATEWAY_REDIS_TIMEOUT_S="0.1",
        )
        procs.append(start_cli(["serve", "--port", str(gport)], env, gport))
        client = redis.Redis(port=rport)
        key = KeyAdmin(RedisKeyBackend(client), SECRET.encode()).create("fo", actor="t").raw_key
        client.close()
        # let the replica see the key version move first (refresh 0.1 s): a request cached
        # before that would be dropped from the cache by the invalidation
        time.sleep(0.6)
        assert _chat(gport, key).status_code == 200  # caches the key
        stop(rproc)
        answers = [_chat(gport, key) for _ in range(8)]
        codes = [r.status_code for r in answers]
        # the local window starts empty: 5 more per minute on this replica, then 429
        assert codes == [200] * 5 + [429] * 3, [r.text[:200] for r in answers]
        metrics = httpx.get(f"http://127.0.0.1:{gport}/metrics").text
        assert 'distillguard_gateway_degraded_requests_total{dependency="redis"}' in metrics
        ready = httpx.get(f"http://127.0.0.1:{gport}/readyz").json()
        assert ready["redis"] == "down" and ready["ready"] is True
    finally:
        for p in reversed(procs):
            stop(p)
