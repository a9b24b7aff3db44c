"""The public HTTP routes of one gateway (``/v1``, health, readiness, metrics, OpenAPI)."""

from __future__ import annotations

import asyncio

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from distillguard import __version__
from distillguard.gateway.app import Gateway
from distillguard.gateway.protocol import openapi_document

_enc = msgspec.json.Encoder()


def build_routes(gw: Gateway) -> list[Route]:
    """The public routes of one gateway."""

    async def chat(request: Request) -> Response:
        return await gw.handle(request, "chat")

    async def completions(request: Request) -> Response:
        return await gw.handle(request, "text_completion")

    async def embeddings(request: Request) -> Response:
        return await gw.handle(request, "embeddings")

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

    return [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", gw.models_route, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
