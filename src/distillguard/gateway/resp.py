"""A pipelined Redis client for the limiter scripts: one connection, hiredis parsing.

redis-py's asyncio client costs about a millisecond of CPU per ``EVALSHA`` with a dozen
arguments (argument encoding, connection-pool checkout, retry and observability layers); the
limiter runs one or two per request. :class:`RespClient` writes each command on one shared
connection without waiting for earlier answers (Redis answers in order) and matches answers
to waiting futures first-in first-out, so concurrent requests pipeline naturally. A command
that times out leaves its slot in the queue (its late answer is dropped), which keeps the
order intact; a broken connection fails every waiting command and the next one reconnects.

Only ``redis://[:password@]host[:port][/db]`` URLs are handled (:func:`parse_redis_url`
returns None otherwise, and callers keep redis-py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


@dataclass(frozen=True)
class RedisAddress:
    """Where a plain-TCP Redis listens."""

    host: str
    port: int
    db: int
    username: str | None
    password: str | None


def parse_redis_url(url: str) -> RedisAddress | None:
    """The address of a ``redis://`` URL; None for TLS, unix sockets or query options."""
    u = urlsplit(url)
    if u.scheme != "redis" or not u.hostname or u.query:
        return None
    path = u.path.strip("/")
    if path and not path.isdigit():
        return None
    return RedisAddress(
        host=u.hostname,
        port=u.port or 6379,
        db=int(path or 0),
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
    )


def _pack(args: tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


class RespClient:
    """Pipelined commands over one connection.

    Args:
        address: the server.
        timeout_s: bound on connecting and on each command's answer.
    """

    def __init__(self, address: RedisAddress, *, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> asyncio.StreamWriter:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return self._writer
            a = self.address
            try:
                async with asyncio.timeout(self.timeout_s):
                    reader, writer = await asyncio.open_connection(a.host, a.port)
            except (OSError, TimeoutError) as exc:
                raise RespError(f"cannot connect to redis {a.host}:{a.port}: {exc!r}") from exc
            parser = hiredis.Reader()
            self._waiting = deque()
            self._reader_task = asyncio.get_running_loop().create_task(
                self._read(reader, parser, writer, self._waiting)
            )
            setup: list[tuple[Any, ...]] = []
            if a.password is not None:
                setup.append(("AUTH", *([a.username] if a.username else []), a.password))
            if a.db:
                setup.append(("SELECT", a.db))
            try:
                for cmd in setup:
                    await self._send(writer, cmd)
            except BaseException:
                writer.close()
                raise
            self._writer = writer  # published only once AUTH/SELECT went first
            return writer

    async def _read(
        self,
        reader: asyncio.StreamReader,
        parser: hiredis.Reader,
        writer: asyncio.StreamWriter,
        waiting: deque[asyncio.Future[Any]],
    ) -> None:
        err: BaseException = RespError("redis closed the connection")
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    fut = waiting.popleft()
                    if fut.done():
                        continue  # its caller timed out
                    if isinstance(reply, hiredis.ReplyError):
                        fut.set_exception(RespError(str(reply)))
                    else:
                        fut.set_result(reply)
        except (OSError, hiredis.ProtocolError, IndexError) as exc:
            err = RespError(f"redis connection failed: {exc!r}")
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            while waiting:
                fut = waiting.popleft()
                if not fut.done():
                    fut.set_exception(err)

    async def _send(self, writer: asyncio.StreamWriter, args: tuple[Any, ...]) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        writer.write(_pack(args))
        try:
            async with asyncio.timeout(self.timeout_s):
                return await fut
        except TimeoutError as exc:
            raise RespError(f"redis did not answer {args[0]!s} in {self.timeout_s} s") from exc

    async def call(self, *args: Any) -> Any:
        """Send one command and return its answer (bytes for strings).

        Raises:
            RespError: an error reply, a timeout or a connection failure.
        """
        writer = self._writer or await self._connect()
        return await self._send(writer, args)

    async def aclose(self) -> None:
        """Close the connection."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


class FastScript:
    """``EVALSHA`` through a :class:`RespClient`, loading the script on ``NOSCRIPT``."""

    def __init__(self, client: RespClient, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        """Run the script with ``keys`` and ``args``."""
        try:
            return await self.client.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.client.call("EVAL", self.source, len(keys), *keys, *args)
