"""The raw keep-alive upstream client against a real loopback HTTP/1.1 server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from distillguard.gateway.upstream import RawUpstream

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int, list[int]]:
    """A server that reads one request head+body at a time; ``handler`` answers it and says
    whether to keep the connection. Returns the server, its port and a list of connection ids
    seen per request."""
    seen: list[int] = []
    counter = [0]

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        counter[0] += 1
        cid = counter[0]
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await r.readexactly(length)
                seen.append(cid)
                if not await handler(r, w, head + body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()
            await asyncio.sleep(0)

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, seen


async def _shutdown(server: asyncio.Server, *ups: RawUpstream) -> None:
    for up in ups:
        await up.aclose()
    server.close()
    await asyncio.sleep(0.1)  # let the handlers see EOF and finish


def _client(port: int, read: float = 2.0) -> RawUpstream:
    return RawUpstream(f"http://127.0.0.1:{port}", connect_timeout_s=1.0, read_timeout_s=read)


def test_content_length_keepalive_and_headers() -> None:
    async def run() -> None:
        got: list[bytes] = []

        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            got.append(req)
            w.write(b'HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{"a":1}')
            await w.drain()
            return True

        server, port, seen = await _serve(h)
        up = _client(port)
        for _ in range(3):
            reply = await up.post("/v1/chat", b'{"x":1}', {"x-request-id": "req_1"})
            assert reply.status_code == 200
            assert await reply.aread() == b'{"a":1}'
        assert seen == [1, 1, 1]  # one connection reused
        assert b"POST /v1/chat HTTP/1.1\r\n" in got[0]
        assert b"x-request-id: req_1\r\n" in got[0] and got[0].endswith(b'{"x":1}')
        await _shutdown(server, up)

    asyncio.run(run())


def test_chunked_stream_is_dechunked() -> None:
    async def run() -> None:
        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in (b"data: 1\n\n", b"data: [DONE]\n\n"):
                w.write(b"%x\r\n%b\r\n" % (len(part), part))
                await w.drain()
            w.write(b"0\r\n\r\n")
            return True

        server, port, seen = await _serve(h)
        up = _client(port)
        reply = await up.post("/s", b"{}", {})
        parts = [c async for c in reply.aiter_raw()]
        await reply.aclose()
        assert parts == [b"data: 1\n\n", b"data: [DONE]\n\n"]
        reply = await up.post("/s", b"{}", {})
        assert await reply.aread() == b"data: 1\n\ndata: [DONE]\n\n"
        assert seen == [1, 1]
        await _shutdown(server, up)

    asyncio.run(run())


def test_idle_connection_closed_by_upstream_is_retried_on_a_new_one() -> None:
    async def run() -> None:
        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await w.drain()
            return False  # close after each answer, without saying so

        server, port, seen = await _serve(h)
        up = _client(port)
        for _ in range(3):
            reply = await up.post("/p", b"{}", {})
            assert await reply.aread() == b"ok"
            await asyncio.sleep(0.05)
        assert seen == [1, 2, 3]  # each request reached the server exactly once
        await _shutdown(server, up)

    asyncio.run(run())


def test_timeouts_and_errors_are_httpx_errors() -> None:
    async def run() -> None:
        async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            await asyncio.sleep(5)
            return False

        server, port, _ = await _serve(slow)
        with pytest.raises(httpx.ReadTimeout):
            await _client(port, read=0.2).post("/p", b"{}", {})
        server.close()

        async def garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            w.write(b"NOT HTTP\r\n\r\n")
            await w.drain()
            return False

        server, port, _ = await _serve(garbage)
        with pytest.raises(httpx.RemoteProtocolError):
            await _client(port).post("/p", b"{}", {})
        server.close()
        with pytest.raises(httpx.ConnectError):
            await _client(port).post("/p", b"{}", {})

    asyncio.run(run())


def test_half_read_reply_is_not_pooled() -> None:
    async def run() -> None:
        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
            w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd")
            await w.drain()
            return True

        server, port, seen = await _serve(h)
        up = _client(port)
        reply = await up.post("/p", b"{}", {})
        await reply.aclose()  # body never read: the connection must not be reused
        reply = await up.post("/p", b"{}", {})
        assert await reply.aread() == b"abcd"
        assert seen == [1, 2]
        await _shutdown(server, up)

    asyncio.run(run())


def test_rejects_non_http_url() -> None:
    with pytest.raises(ValueError, match="upstream_url"):
        RawUpstream("ftp://x", connect_timeout_s=1, read_timeout_s=1)
