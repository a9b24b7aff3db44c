"""Releasing a request's limits, and relaying an upstream SSE stream to the client.

:class:`Release` frees a request's concurrency slot and charges its real token count once;
:class:`RelayResponse` streams the upstream's server-sent events through the response
:class:`~distillguard.gateway.relay.SSEReader` and records a client disconnect as status 499.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from distillguard.gateway.exchange import Exchange
from distillguard.gateway.limits import Subject
from distillguard.gateway.relay import SSEReader

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway
    from distillguard.gateway.upstream import UpstreamReply


class Release:
    """Frees a request's limits once (concurrency slot, real token count)."""

    def __init__(
        self, gw: Gateway, subjects: list[Subject], ex: Exchange, cost: int, backend: str
    ) -> None:
        self.gw, self.subjects, self.ex, self.cost, self.backend = gw, subjects, ex, cost, backend
        self.done = False

    def fire(self) -> None:
        if self.done or not self.subjects:
            return
        self.done = True
        ex = self.ex
        used = (ex.input_tokens or 0) + (ex.output_tokens or ex.chunks or 0)
        extra = used - self.cost if used else 0
        self.gw.spawn(self._run(extra))

    async def _run(self, extra: int) -> None:
        # asyncio.timeout, not wait_for: this already runs in its own task (wait_for would
        # wrap the call in another one)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(self.gw.config.redis_timeout_s * 4, 1.0)):
                await self.gw.limiter.release(
                    self.subjects, self.ex.request_id, extra, self.backend
                )


class RelayResponse(Response):
    """Streams the upstream's SSE to the client; on a client disconnect, cancels the upstream
    request and records the exchange as aborted (status 499)."""

    def __init__(
        self,
        gw: Gateway,
        upstream: UpstreamReply,
        ex: Exchange,
        reader: SSEReader,
        release: Release,
        headers: dict[str, str],
    ) -> None:
        self.gw, self.upstream, self.ex, self.reader, self.release = (
            gw,
            upstream,
            ex,
            reader,
            release,
        )
        self.status_code = 200
        self.background = None
        self.media_type = "text/event-stream"
        self.init_headers({**headers, "cache-control": "no-cache"})

    async def _chunks(self) -> AsyncIterator[bytes]:
        read_timeout = self.gw.config.read_timeout_s
        it = self.upstream.aiter_raw().__aiter__()
        while True:
            try:
                with anyio.fail_after(read_timeout):
                    data = await it.__anext__()
            except StopAsyncIteration:
                return
            yield data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ex = self.ex
        disconnected = completed = False
        try:
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    nonlocal disconnected
                    while True:
                        msg = await receive()
                        if msg["type"] == "http.disconnect":
                            disconnected = not completed
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(watch)
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                )
                try:
                    async for data in self._chunks():
                        out = self.reader.feed(data)
                        if out:
                            await send(
                                {"type": "http.response.body", "body": out, "more_body": True}
                            )
                except TimeoutError:
                    ex.error_code = "upstream_timeout"
                    ex.extra["stream_error"] = "upstream stopped sending"
                    await send(
                        {
                            "type": "http.response.body",
                            "more_body": True,
                            "body": b'data: {"error": {"message": "upstream timed out", '
                            b'"type": "timeout_error", "code": "upstream_timeout"}}\n\n',
                        }
                    )
                except httpx.HTTPError as exc:
                    ex.error_code = "upstream_stream_error"
                    ex.extra["stream_error"] = type(exc).__name__
                tail = self.reader.tail()
                completed = True
                await send({"type": "http.response.body", "body": tail, "more_body": False})
                tg.cancel_scope.cancel()
        except OSError:
            disconnected = not completed
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()
            if disconnected:
                ex.status = 499
                ex.error_code = "client_disconnected"
                self.gw.metrics.disconnects.inc()
            if self.reader.bad:
                ex.extra["stream_parse_errors"] = self.reader.bad
            if not self.reader.done and not disconnected and not ex.error_code:
                ex.extra["stream_incomplete"] = True
            self.release.fire()
            self.gw.finish(ex)
