"""The ``/v1`` hot path as plain ASGI, in front of Starlette.

:class:`Dispatcher` serves the four public ``/v1`` routes by an exact ``(method, path)`` match
and hands everything else (health, readiness, metrics, OpenAPI, admin, unknown paths, wrong
methods) to the Starlette app. On the hot path no Starlette ``Request`` is built, no
middleware wraps ``send``: :class:`Incoming` reads the four headers the gateway needs in one
pass over the raw header list, and :func:`send_response` writes the response messages itself.
The same :class:`Endpoint` objects are also mounted as Starlette routes, so a request that
misses the exact match (say ``GET /v1/chat/completions``) gets Starlette's 405.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from distillguard.gateway.protocol import error_response

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway
    from distillguard.gateway.exchange import Exchange

log = logging.getLogger("distillguard.gateway")

#: operation of each public ``/v1`` route, by method and exact path
V1_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/v1/completions"): "text_completion",
    ("POST", "/v1/embeddings"): "embeddings",
    ("GET", "/v1/models"): "models",
}


class Incoming:
    """What the gateway reads of one HTTP request (header values decoded as latin-1).

    Attributes:
        path: the request path.
        client_host: the peer address (after uvicorn's proxy-header handling), or None.
        authorization: the first ``authorization`` header, or None.
        user_agent: the first ``user-agent`` header, or None.
        request_id: the client's first ``x-request-id`` header, or None.
        content_length: the first ``content-length`` header, or None.
        receive: the ASGI receive callable (body chunks, disconnect).
    """

    __slots__ = (
        "authorization",
        "client_host",
        "content_length",
        "path",
        "receive",
        "request_id",
        "user_agent",
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.path: str = scope["path"]
        client = scope.get("client")
        self.client_host: str | None = client[0] if client else None
        self.receive = receive
        auth = ua = rid = length = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                if auth is None:
                    auth = v.decode("latin-1")
            elif k == b"content-length":
                if length is None:
                    length = v.decode("latin-1")
            elif k == b"user-agent":
                if ua is None:
                    ua = v.decode("latin-1")
            elif k == b"x-request-id" and rid is None:
                rid = v.decode("latin-1")
        self.authorization: str | None = auth
        self.user_agent: str | None = ua
        self.request_id: str | None = rid
        self.content_length: str | None = length

    async def chunks(self) -> Any:
        """The body's chunks as they arrive.

        Raises:
            ClientDisconnect: the client went away before the body ended.
        """
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "http.request":
                body = message.get("body", b"")
                if body:
                    yield body
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                raise ClientDisconnect


async def send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Send ``response``: a whole body in two messages, a streaming one through its own call."""
    if type(response) is Response:
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})
    else:
        await response(scope, receive, send)


class Endpoint:
    """One ``/v1`` operation of a gateway as a plain ASGI app."""

    def __init__(self, gw: Gateway, operation: str) -> None:
        self.gw = gw
        self.operation = operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (the event is written by the gateway when it ends)."""
        gw = self.gw
        inc = Incoming(scope, receive)
        after: list[Exchange] = []
        try:
            if self.operation == "models":
                resp = await gw.models_route(inc)
            else:
                resp = await gw.handle(inc, self.operation, after)
        except ClientDisconnect:
            return  # the client left before its body arrived: nobody to answer (event: 499)
        except Exception:  # noqa: BLE001 - answer in the OpenAI shape, with a request id
            log.exception("gateway: cannot answer %s %s", scope["method"], scope["path"])
            resp = error_response(
                500, "Internal error in the gateway.", "internal_error", _new_id()
            )
        try:
            await send_response(resp, scope, receive, send)
        finally:
            for ex in after:  # the answer is out: now its event, metrics and account state
                gw.finish(ex)


def _new_id() -> str:
    return "req_" + secrets.token_hex(12)


class Dispatcher:
    """Exact-match ``/v1`` routing in front of ``fallback`` (the Starlette app).

    Args:
        endpoints: ``(method, path)`` -> the ASGI app serving it.
        fallback: every other request and the lifespan protocol.
    """

    def __init__(self, endpoints: dict[tuple[str, str], ASGIApp], fallback: ASGIApp) -> None:
        self.endpoints = endpoints
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI connection."""
        if scope["type"] == "http":
            app = self.endpoints.get((scope["method"], scope["path"]))
            if app is not None:
                await app(scope, receive, send)
                return
        await self.fallback(scope, receive, send)
