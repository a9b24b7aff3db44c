"""A small HTTP/1.1 client for the upstream over asyncio streams, with a keep-alive pool.

httpx/httpcore cost more CPU per proxied request than the rest of the gateway together
(connection-pool bookkeeping, anyio wrappers, per-request models). The gateway only ever
POSTs a JSON body to one origin and reads a ``content-length``, chunked or close-delimited
answer, so this client does just that: idle connections wait in a LIFO list, a reused
connection that the upstream closed while idle is retried once on a fresh one (nothing of
the request reached the model), every connect and read is bounded by a timeout, and a
cancelled or half-read exchange closes its connection instead of returning it to the pool.

Errors are raised as ``httpx`` exceptions (``ConnectTimeout``, ``ReadTimeout``,
``ConnectError``, ``ReadError``, ``RemoteProtocolError``) so callers handle both clients
the same way.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import urlsplit

import httpx

#: longest status line + headers accepted from the upstream
MAX_HEAD_BYTES = 65536
_READ = 65536


class UpstreamReply(Protocol):
    """What the forwarding code needs of an upstream answer (httpx.Response fits too)."""

    @property
    def status_code(self) -> int: ...

    async def aread(self) -> bytes: ...

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class RawReply:
    """One upstream answer; its body is read with :meth:`aread` or :meth:`aiter_raw`."""

    def __init__(
        self,
        pool: RawUpstream,
        conn: _Conn,
        status: int,
        headers: dict[str, str],
        reusable: bool,
    ) -> None:
        self._pool, self._conn = pool, conn
        self.status_code = status
        self.headers = headers
        te = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        cl = headers.get("content-length")
        self._left = int(cl) if cl is not None and cl.isdigit() and not self._chunked else -1
        if status in (204, 304):
            self._left = 0
        self._reusable = reusable and (self._chunked or self._left >= 0)
        self._done = False
        self._closed = False

    async def _read(self, coro: object, limit_s: float | None = None) -> bytes:
        timeout = self._pool.read_timeout_s if limit_s is None else limit_s
        try:
            async with asyncio.timeout(timeout):
                return await coro  # type: ignore[misc, no-any-return]
        except TimeoutError as exc:
            raise httpx.ReadTimeout("upstream read timed out") from exc
        except asyncio.IncompleteReadError as exc:
            raise httpx.RemoteProtocolError("upstream closed the connection mid-body") from exc
        except (ConnectionError, OSError) as exc:
            raise httpx.ReadError(f"upstream read failed: {exc}") from exc

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (de-chunked)."""
        r = self._conn.reader
        if self._chunked:
            while True:
                line = await self._read(r.readline())
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError as exc:
                    raise httpx.RemoteProtocolError("bad chunk size from upstream") from exc
                if size == 0:
                    while (await self._read(r.readline())) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    return
                data = await self._read(r.readexactly(size + 2))
                yield data[:-2]
        elif self._left >= 0:
            while self._left > 0:
                data = await self._read(r.read(min(self._left, _READ)))
                if not data:
                    raise httpx.RemoteProtocolError("upstream closed the connection mid-body")
                self._left -= len(data)
                yield data
            self._done = True
        else:
            while True:
                data = await self._read(r.read(_READ))
                if not data:
                    self._done = True
                    return
                yield data

    async def aread(self, total_s: float | None = None) -> bytes:
        """The whole body (the connection returns to the pool afterwards).

        Args:
            total_s: bound on reading the whole body as well as each read; with a
                ``content-length`` body (one read) a single timer covers both.
        """
        try:
            if self._left >= 0 and not self._chunked:
                limit = self._pool.read_timeout_s
                data = await self._read(
                    self._conn.reader.readexactly(self._left),
                    limit if total_s is None else min(limit, total_s),
                )
                self._left = 0
                self._done = True
                return data
            if total_s is None:
                return b"".join([c async for c in self.aiter_raw()])
            async with asyncio.timeout(total_s):
                return b"".join([c async for c in self.aiter_raw()])
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Give the connection back when the body was read whole, else close it."""
        if self._closed:
            return
        self._closed = True
        if self._done and self._reusable:
            self._pool.put(self._conn)
        else:
            self._conn.close()


class RawUpstream:
    """POSTs to one ``http://`` or ``https://`` origin over pooled keep-alive connections.

    Args:
        base_url: the upstream origin (a path prefix is kept in front of every path).
        connect_timeout_s: bound on opening a connection.
        read_timeout_s: bound on each read (the head, each body read).
        keepalive: idle connections kept.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        keepalive: int = 32,
    ) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"upstream_url must be http(s)://host[:port], got {base_url!r}")
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if u.scheme == "https" else None
        )
        self.prefix = u.path.rstrip("/")
        default_port = self.port == (443 if self.ssl else 80)
        self._host_header = self.host if default_port else f"{self.host}:{self.port}"
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.keepalive = keepalive
        self._idle: list[_Conn] = []
        self._heads: dict[str, bytes] = {}

    def put(self, conn: _Conn) -> None:
        """Return an idle connection to the pool (closed when the pool is full)."""
        if len(self._idle) < self.keepalive and not conn.reader.at_eof():
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Conn:
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                    limit=MAX_HEAD_BYTES,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("upstream connect timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to the upstream: {exc}") from exc
        return _Conn(reader, writer)

    def _head(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        start = self._heads.get(path)
        if start is None:
            start = self._heads[path] = (
                f"POST {self.prefix}{path} HTTP/1.1\r\nhost: {self._host_header}\r\n"
                "accept: */*\r\nconnection: keep-alive\r\n"
            ).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return b"%b%bcontent-length: %d\r\n\r\n" % (start, extra.encode("latin-1"), len(body))

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> RawReply:
        """Send one POST and read the answer's head; the body is read from the reply.

        Raises:
            httpx.HTTPError: connection, timeout or protocol failure.
        """
        data = self._head(path, body, headers) + body
        while self._idle:
            conn = self._idle.pop()
            if conn.reader.at_eof():
                conn.close()
                continue
            try:
                return await self._exchange(conn, data, reused=True)
            except _Stale:
                continue  # closed by the upstream while idle: nothing reached it; retry
        return await self._exchange(await self._connect(), data, reused=False)

    async def _exchange(self, conn: _Conn, data: bytes, *, reused: bool) -> RawReply:
        try:
            conn.writer.write(data)
            try:
                async with asyncio.timeout(self.read_timeout_s):
                    await conn.writer.drain()
                    head = await conn.reader.readuntil(b"\r\n\r\n")
            except TimeoutError as exc:
                raise httpx.ReadTimeout("upstream did not answer in time") from exc
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _Stale from exc
                raise httpx.RemoteProtocolError("upstream closed the connection") from exc
            except asyncio.LimitOverrunError as exc:
                raise httpx.RemoteProtocolError("upstream response head too large") from exc
            except (ConnectionError, OSError) as exc:
                if reused:
                    raise _Stale from exc
                raise httpx.ReadError(f"upstream connection failed: {exc}") from exc
            return self._reply(conn, head)
        except BaseException:
            conn.close()
            raise

    def _reply(self, conn: _Conn, head: bytes) -> RawReply:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"bad status line from upstream: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            k, sep, v = line.partition(":")
            if not sep:
                raise httpx.RemoteProtocolError("bad header line from upstream")
            headers[k.strip().lower()] = v.strip()
        reusable = parts[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return RawReply(self, conn, int(parts[1]), headers, reusable)

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for c in idle:
            c.close()


class _Stale(Exception):
    """A reused keep-alive connection turned out closed before any answer byte."""
