"""A pipelined Redis client for the limiter scripts: one connection, hiredis parsing.

redis-py's asyncio client costs about a millisecond of CPU per ``EVALSHA`` with a dozen
arguments (argument encoding, connection-pool checkout, retry and observability layers); the
limiter runs one or two per request. :class:`RespClient` writes each command on one shared
connection without waiting for earlier answers (Redis answers in order) and matches answers
to waiting futures first-in first-out, so concurrent requests pipeline naturally. A command
that times out leaves its slot in the queue (its late answer is dropped), which keeps the
order intact; a broken connection fails every waiting command and the next one reconnects.
Timeouts cost no timer per command: each waiting command carries its deadline and one
watchdog task per connection fails the overdue ones (checking every quarter timeout, so a
command fails between 1 and 1.25 timeouts after it was sent).

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


def pack_items(args: tuple[Any, ...] | list[Any]) -> bytes:
    """RESP bulk strings of ``args`` (bytes as they are, anything else as ``str()``), no header."""
    parts = []
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


def _pack(args: tuple[Any, ...]) -> bytes:
    return b"*%d\r\n%b" % (len(args), pack_items(args))


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
        self._deadlines: deque[tuple[float, asyncio.Future[Any], str]] = deque()
        self._reader_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
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
            self._deadlines = deque()
            loop = asyncio.get_running_loop()
            self._reader_task = loop.create_task(self._read(reader, parser, writer, self._waiting))
            if self._watchdog is None or self._watchdog.done():
                self._watchdog = loop.create_task(self._watch())
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

    async def _watch(self) -> None:
        """Fail the commands waiting past their deadline (one timer for the connection)."""
        loop = asyncio.get_running_loop()
        period = max(self.timeout_s / 4, 0.001)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            dl = self._deadlines
            while dl and (dl[0][1].done() or dl[0][0] <= now):
                _, fut, name = dl.popleft()
                if not fut.done():
                    fut.set_exception(
                        RespError(f"redis did not answer {name} in {self.timeout_s} s")
                    )

    async def _send(self, writer: asyncio.StreamWriter, args: tuple[Any, ...]) -> Any:
        return await self._send_packed(writer, _pack(args), str(args[0]))

    async def _send_packed(self, writer: asyncio.StreamWriter, payload: bytes, name: str) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(fut)
        self._deadlines.append((loop.time() + self.timeout_s, fut, name))
        writer.write(payload)
        return await fut

    async def call(self, *args: Any) -> Any:
        """Send one command and return its answer (bytes for strings).

        Raises:
            RespError: an error reply, a timeout or a connection failure.
        """
        writer = self._writer or await self._connect()
        return await self._send(writer, args)

    async def call_packed(self, payload: bytes, name: str) -> Any:
        """Send one command already in RESP form (``name`` names it in errors).

        Raises:
            RespError: an error reply, a timeout or a connection failure.
        """
        writer = self._writer or await self._connect()
        return await self._send_packed(writer, payload, name)

    async def aclose(self) -> None:
        """Close the connection."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        for task in (self._reader_task, self._watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._reader_task = self._watchdog = None


class FastScript:
    """``EVALSHA`` through a :class:`RespClient`, loading the script on ``NOSCRIPT``."""

    def __init__(self, client: RespClient, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

        self._evalsha = pack_items(("EVALSHA", self.sha))
        self._eval = pack_items(("EVAL", source))

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        """Run the script with ``keys`` and ``args``."""
        tail = pack_items([len(keys), *keys, *args])
        return await self.run_packed(1 + len(keys) + len(args), tail)

    async def run_packed(self, n: int, tail: bytes) -> Any:
        """Run the script with ``tail``: ``n`` RESP bulk strings (numkeys, keys, args)."""
        try:
            return await self.client.call_packed(
                b"*%d\r\n%b%b" % (n + 2, self._evalsha, tail), "EVALSHA"
            )
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.client.call_packed(b"*%d\r\n%b%b" % (n + 2, self._eval, tail), "EVAL")
