"""The pipelined RESP client against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from distillguard.gateway.resp import FastScript, RespClient, RespError, parse_redis_url

from .helpers import free_port, require_binary, start_redis, stop


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    binary = require_binary("redis-server")
    port = free_port()
    proc = start_redis(binary, port)
    try:
        yield port
    finally:
        stop(proc)


def test_parse_redis_url() -> None:
    a = parse_redis_url("redis://:s%40cret@10.0.0.1:6380/3")
    assert a is not None
    assert (a.host, a.port, a.db, a.password) == ("10.0.0.1", 6380, 3, "s@cret")
    assert parse_redis_url("rediss://h:6379/0") is None
    assert parse_redis_url("unix:///tmp/r.sock") is None
    assert parse_redis_url("redis://h/0?ssl_cert_reqs=none") is None


def test_concurrent_commands_get_their_own_answers(redis_port: int) -> None:
    async def run() -> None:
        c = RespClient(parse_redis_url(f"redis://127.0.0.1:{redis_port}/2"), timeout_s=5)  # type: ignore[arg-type]
        await asyncio.gather(*(c.call("SET", f"k{i}", i) for i in range(200)))
        got = await asyncio.gather(*(c.call("GET", f"k{i}") for i in range(200)))
        assert got == [str(i).encode() for i in range(200)]
        assert await c.call("INCRBY", "n", 5) == 5
        with pytest.raises(RespError, match="WRONGTYPE|ERR"):
            await c.call("LPUSH", "k1", "x")
        assert await c.call("GET", "k1") == b"1"  # order intact after an error reply
        await c.aclose()
        # the database number was selected: db 0 does not have the keys
        c0 = RespClient(parse_redis_url(f"redis://127.0.0.1:{redis_port}/0"), timeout_s=5)  # type: ignore[arg-type]
        assert await c0.call("GET", "k1") is None
        await c0.aclose()

    asyncio.run(run())


def test_script_loads_itself_on_noscript(redis_port: int) -> None:
    async def run() -> None:
        c = RespClient(parse_redis_url(f"redis://127.0.0.1:{redis_port}/0"), timeout_s=5)  # type: ignore[arg-type]
        await c.call("SCRIPT", "FLUSH")
        s = FastScript(c, "return {KEYS[1], tonumber(ARGV[1]) + 1}")
        assert await s(keys=["a"], args=[41]) == [b"a", 42]
        assert await c.call("SCRIPT", "EXISTS", s.sha) == [1]
        assert await s(keys=["b"], args=[1]) == [b"b", 2]
        await c.aclose()

    asyncio.run(run())


def test_unreachable_server_is_a_resp_error_and_recovers() -> None:
    async def run() -> None:
        port = free_port()
        c = RespClient(parse_redis_url(f"redis://127.0.0.1:{port}/0"), timeout_s=1)  # type: ignore[arg-type]
        with pytest.raises(RespError, match="cannot connect"):
            await c.call("PING")
        await c.aclose()

    asyncio.run(run())


def test_reconnects_after_the_server_restarts() -> None:
    binary = require_binary("redis-server")
    port = free_port()
    proc = start_redis(binary, port)

    async def run() -> None:
        c = RespClient(parse_redis_url(f"redis://127.0.0.1:{port}/0"), timeout_s=2)  # type: ignore[arg-type]
        assert await c.call("PING") == b"PONG"
        stop(proc)
        await asyncio.sleep(0.2)
        with pytest.raises(RespError):
            await c.call("PING")
        proc2 = start_redis(binary, port)
        try:
            assert await c.call("PING") == b"PONG"
        finally:
            await c.aclose()
            stop(proc2)

    asyncio.run(run())
