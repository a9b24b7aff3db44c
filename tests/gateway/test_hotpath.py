"""Hot-path pieces: pre-packed limiter commands, the RESP watchdog, one-timer body reads,
memoised policy resolution."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from distillguard.gateway.limits import Limits, RedisLimiter, Subject
from distillguard.gateway.resp import RespClient, RespError, _pack, parse_redis_url
from distillguard.gateway.upstream import RawUpstream
from distillguard.policy import make_decision
from distillguard.policy.enforce import ResolveCache, resolve

SUBJECTS = [
    Subject("key", "k_1", Limits(100, 0, 0)),
    Subject("account", "acct-1", Limits(0, 5000, 4)),
    Subject("org", "org-1", Limits(0, 0, 10)),
]


class _Recorder:
    """A RespClient stand-in that records the RESP payloads and answers like the scripts."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    async def call_packed(self, payload: bytes, name: str) -> Any:
        self.payloads.append(payload)
        return [1, 0, 0, 0, 0, 99, 100, 4999, 5000, 60000]

    async def call(self, *args: Any) -> Any:
        return await self.call_packed(_pack(args), str(args[0]))


def test_packed_limiter_commands_equal_the_plain_encoding() -> None:
    rec = _Recorder()
    lim = RedisLimiter(None, lease_s=600, fast=rec)  # type: ignore[arg-type]

    async def run() -> None:
        for rid, cost in (("req_a", 7), ("req_b", 12345)):
            d = await lim.acquire(SUBJECTS, rid, cost)
            assert d.allowed and d.remaining_requests == 99
            await lim.release(SUBJECTS, rid, -3, "redis")

    asyncio.run(run())
    sha_a, sha_r = lim._acquire.sha, lim._release.sha
    keys = [f"dg:rl:{s.scope}:{s.id}:{k}" for s in SUBJECTS for k in "rtc"]
    lims = [v for s in SUBJECTS for v in (s.limits.rpm, s.limits.tpm, s.limits.concurrency)]
    held = SUBJECTS[1:]  # release touches only subjects with a token or concurrency limit
    rkeys = [f"dg:rl:{s.scope}:{s.id}:{k}" for s in held for k in "tc"]
    rlims = [v for s in held for v in (s.limits.tpm, s.limits.concurrency)]
    assert rec.payloads == [
        _pack(("EVALSHA", sha_a, 9, *keys, "req_a", 600000, 7, *lims)),
        _pack(("EVALSHA", sha_r, 4, *rkeys, "req_a", -3, *rlims)),
        _pack(("EVALSHA", sha_a, 9, *keys, "req_b", 600000, 12345, *lims)),
        _pack(("EVALSHA", sha_r, 4, *rkeys, "req_b", -3, *rlims)),
    ]


def test_a_command_nobody_answers_times_out_within_a_quarter_timeout() -> None:
    async def run() -> None:
        async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await r.read(65536)  # reads the command, never answers
                await r.read(65536)  # until the client closes
            finally:
                w.close()

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        c = RespClient(parse_redis_url(f"redis://127.0.0.1:{port}/0"), timeout_s=0.4)  # type: ignore[arg-type]
        t0 = time.monotonic()
        with pytest.raises(RespError, match="did not answer PING in 0.4 s"):
            await c.call("PING")
        took = time.monotonic() - t0
        assert 0.4 <= took < 2.0  # 0.4-0.5 s by design; generous bound for a loaded box
        await c.aclose()
        server.close()
        await server.wait_closed()

    asyncio.run(run())


def test_whole_body_read_is_bounded_by_the_total_timeout() -> None:
    async def run() -> None:
        async def slow_body(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await r.readuntil(b"\r\n\r\n")
                await r.readexactly(2)
                w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345")
                await w.drain()
                await r.read(65536)  # half the body sent; wait until the client closes
            finally:
                w.close()

        server = await asyncio.start_server(slow_body, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        up = RawUpstream(f"http://127.0.0.1:{port}", connect_timeout_s=1, read_timeout_s=30)
        reply = await up.post("/p", b"{}", {})
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await reply.aread(0.3)  # the per-read bound (30 s) would wait far longer
        assert time.monotonic() - t0 < 5
        await up.aclose()
        server.close()
        await server.wait_closed()

    asyncio.run(run())


def test_resolve_cache_returns_the_same_enforcement_as_resolve() -> None:
    acct = make_decision("account", "a1", "throttle+strip", params={"rpm": 5}, reason="r1")
    org = make_decision("org", "o1", "cap_max_tokens", params={"max_tokens": 64}, reason="r2")
    cache = ResolveCache(max_entries=2)
    for ds in ([acct, org], [acct], [org], [], [acct, org]):
        assert cache(ds) == resolve(ds)
    assert cache([acct, org]) is cache([acct, org])  # memoised
    replaced = make_decision("account", "a1", "block", reason="new")
    assert cache([replaced, org]).refusal is not None  # a new decision id, a new answer
