"""The public HTTP routes of one gateway (``/v1``, health, readiness, metrics, OpenAPI).

The ``/v1`` routes are :class:`~distillguard.gateway.asgi.Endpoint` ASGI apps; the
:class:`~distillguard.gateway.asgi.Dispatcher` calls them directly on an exact match, and
Starlette reaches them only for what the dispatcher passes on (it answers 405 for a wrong
method).
"""

from __future__ import annotations

import asyncio

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from distillguard import __version__
from distillguard.gateway.app import Gateway
from distillguard.gateway.asgi import V1_ROUTES, Endpoint
from distillguard.gateway.protocol import openapi_document

_enc = msgspec.json.Encoder()


def v1_endpoints(gw: Gateway) -> dict[tuple[str, str], Endpoint]:
    """The ``/v1`` ASGI apps of one gateway, by ``(method, path)``."""
    return {key: Endpoint(gw, op) for key, op in V1_ROUTES.items()}


def build_routes(
    gw: Gateway, endpoints: dict[tuple[str, str], Endpoint] | None = None
) -> list[Route]:
    """The public routes of one gateway (``endpoints``: the ``/v1`` apps, else new ones)."""
    endpoints = endpoints if endpoints is not None else v1_endpoints(gw)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        spool_ok = gw.spool.healthy
        redis_ok = gw.redis_up
        if gw.redis_ping is not None:
            try:
                await asyncio.wait_for(gw.redis_ping(), timeout=gw.config.redis_timeout_s)
                redis_ok = True
            except Exception:  # noqa: BLE001
                redis_ok = False
        ready = spool_ok and (redis_ok or gw.config.redis_failure == "open")
        body = {
            "ready": ready,
            "redis": "up" if redis_ok else "down",
            "spool": "up" if spool_ok else "down",
            "decisions": len(gw.policy.table),
            "models": sorted(gw.models),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")

    doc = _enc.encode(openapi_document(__version__))

    async def openapi(request: Request) -> Response:
        return Response(doc, media_type="application/json")

    v1 = [Route(path, app, methods=[method]) for (method, path), app in endpoints.items()]
    return [
        *v1,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
