"""Wiring: build a :class:`Gateway` from configuration and wrap it in a Starlette app.

``create_app()`` (no arguments) is the uvicorn factory that ``distillguard serve`` runs in
each worker process; configuration comes from ``DISTILLGUARD_CONFIG`` and the environment.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distillguard.gateway.admin import admin_routes
from distillguard.gateway.app import Gateway
from distillguard.gateway.asgi import Dispatcher
from distillguard.gateway.config import GatewayConfig, load_gateway_config
from distillguard.gateway.control import SpoolDecisionLog, SpoolKeyJournal
from distillguard.gateway.keys import KeyAdmin, KeyResolver, RedisKeyBackend
from distillguard.gateway.limits import FailoverLimiter, LocalLimiter, RedisLimiter
from distillguard.gateway.metrics import GatewayMetrics
from distillguard.gateway.protocol import error_response
from distillguard.gateway.resp import RespClient, parse_redis_url
from distillguard.gateway.routes import build_routes, v1_endpoints
from distillguard.gateway.sources import PolicyCache, RedisSource
from distillguard.gateway.spool import SpoolWriter
from distillguard.gateway.transforms import register_transform
from distillguard.gateway.upstream import RawUpstream
from distillguard.policy.table import DecisionTable, RedisPublisher

#: longest wait for a free Redis connection of this worker's pool before it counts as a failure
REDIS_POOL_WAIT_S = 10.0
#: idle upstream connections kept; httpcore scans every pooled connection on each request
#: (a readability poll per idle one), so a large pool costs CPU on every request
UPSTREAM_KEEPALIVE = 32


def upstream_client(
    cfg: GatewayConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The pooled client to the upstream, with timeouts everywhere.

    Its transport is also handed to the gateway, which posts through it directly
    (:class:`~distillguard.gateway.forward.UpstreamSender`).
    """
    if transport is None:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=UPSTREAM_KEEPALIVE)
        transport = httpx.AsyncHTTPTransport(limits=limits)
    return httpx.AsyncClient(
        base_url=cfg.upstream_url,
        timeout=httpx.Timeout(
            cfg.request_timeout_s,
            connect=cfg.connect_timeout_s,
            read=cfg.read_timeout_s,
            pool=cfg.connect_timeout_s,
        ),
        transport=transport,
        follow_redirects=False,
    )


def install_response_transforms() -> tuple[str, ...]:
    """Register the watermark and canary response transforms when ``[watermark]`` is enabled.

    The policy actions ``watermark`` and ``canary`` use them; without them those actions fall
    back to the no-op transform and the event records ``transforms_missing``.

    Returns:
        The names registered (empty when the watermark is not enabled).

    Raises:
        WatermarkError: enabled but the master secret file is missing or unreadable.
    """
    from distillguard.watermark.config import load_config

    wcfg = load_config()
    if not wcfg.enabled:
        return ()
    from distillguard.watermark.canary import CanaryBook
    from distillguard.watermark.canary_ledger import CanaryLedger
    from distillguard.watermark.gateway_plugin import (
        CanaryResponseTransform,
        WatermarkResponseTransform,
    )
    from distillguard.watermark.transform import WatermarkTransform

    marker = WatermarkTransform.from_config(wcfg)
    ledger = CanaryLedger(wcfg.canary_ledger) if wcfg.canary_ledger is not None else None
    register_transform(WatermarkResponseTransform(marker))
    register_transform(CanaryResponseTransform(CanaryBook(marker.master, ledger)))
    return ("watermark", "canary")


def build_gateway(cfg: GatewayConfig) -> Gateway:
    """A gateway with Redis, the spool and a pooled upstream client, as configured.

    Raises:
        ConfigError: the key secret is missing or too short.
        GatewayError: the spool directory cannot be used.
    """
    import redis
    import redis.asyncio as aredis

    secret = cfg.require_secret()
    install_response_transforms()
    # A blocking pool waits for a free connection instead of failing under bursts: waiting
    # for our own pool is load, not an outage, and must not switch to local limits.
    pool = aredis.BlockingConnectionPool.from_url(
        cfg.redis_url,
        max_connections=64,
        timeout=REDIS_POOL_WAIT_S,
        socket_timeout=cfg.redis_timeout_s,
        socket_connect_timeout=cfg.redis_timeout_s,
    )
    arc = aredis.Redis(connection_pool=pool)
    src = redis.Redis.from_url(cfg.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    spool = SpoolWriter(
        cfg.spool_dir,
        cfg.effective_replica_id(),
        commit_window_s=cfg.commit_window_ms / 1000,
        segment_max_bytes=cfg.segment_max_bytes,
        segment_max_age_s=cfg.segment_max_age_s,
    )
    source = RedisSource(arc)
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=UPSTREAM_KEEPALIVE)
    )
    upstream = upstream_client(cfg, transport)
    addr = parse_redis_url(cfg.redis_url)
    fast = RespClient(addr, timeout_s=cfg.redis_timeout_s) if addr is not None else None
    limiter = FailoverLimiter(
        RedisLimiter(arc, lease_s=cfg.concurrency_lease_s, fast=fast),
        LocalLimiter(divisor=cfg.local_limit_divisor),
        fail_open=cfg.redis_failure == "open",
    )
    return Gateway(
        config=cfg,
        keys=KeyResolver(source.key, secret),
        limiter=limiter,
        policy=PolicyCache(source),
        spool=spool,
        upstream=upstream,
        upstream_transport=transport,
        upstream_raw=RawUpstream(
            cfg.upstream_url,
            connect_timeout_s=cfg.connect_timeout_s,
            read_timeout_s=cfg.read_timeout_s,
            keepalive=UPSTREAM_KEEPALIVE,
        ),
        metrics=GatewayMetrics(),
        key_admin=KeyAdmin(RedisKeyBackend(src), secret, SpoolKeyJournal(spool)),
        table=DecisionTable(RedisPublisher(src), SpoolDecisionLog(spool)),
        models=frozenset(cfg.models),
        redis_ping=arc.ping,
        closers=(arc.aclose, src.close, *((fast.aclose,) if fast is not None else ())),
    )


class RequestIdMiddleware:
    """Adds ``x-request-id`` to every response that lacks one (health, metrics, 404s)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if not any(k == b"x-request-id" for k, _ in headers):
                    rid = ("req_" + secrets.token_hex(12)).encode()
                    message["headers"] = [*headers, (b"x-request-id", rid)]
            await send(message)

        await self.app(scope, receive, wrapped)


def make_app(gw: Gateway) -> Dispatcher:
    """The ASGI app of a gateway (starts and stops it with the app's lifespan).

    The ``/v1`` routes are served by the :class:`~distillguard.gateway.asgi.Dispatcher`
    without Starlette; the Starlette app (``.fallback``) serves the rest and the lifespan.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
        msg = {
            404: f"Unknown path {request.url.path}.",
            405: f"Method {request.method} is not allowed on {request.url.path}.",
        }.get(status, "Error.")
        extra = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        return error_response(status, msg, code, "req_" + secrets.token_hex(12), headers=extra)

    endpoints = v1_endpoints(gw)
    app = Starlette(
        routes=[*build_routes(gw, endpoints), *admin_routes(gw)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.add_middleware(RequestIdMiddleware)  # type: ignore[arg-type]
    app.state.gateway = gw
    return Dispatcher(dict(endpoints), app)


def create_app(cfg: GatewayConfig | None = None) -> Any:
    """uvicorn factory: configuration from the file and environment unless given."""
    return make_app(build_gateway(cfg or load_gateway_config()))
