"""The admin API (``/admin/v1/...``), protected by the ``admin_token`` bearer credential.

Keys: ``POST /admin/v1/keys`` {account_id, org_id?, name?} -> the new key (shown once);
``POST /admin/v1/keys/{key_id}/rotate``; ``POST /admin/v1/keys/{key_id}/revoke``;
``GET /admin/v1/keys?account_id=``. Decisions: ``GET /admin/v1/decisions``;
``PUT /admin/v1/decisions/{kind}/{id}`` {actions, params?, reason, ttl_s?};
``DELETE /admin/v1/decisions/{kind}/{id}``. The admin API is off when ``admin_token`` is empty.
Changes go to Redis at once (every replica applies them within ``policy_refresh_s``; this
replica at once) and to the durable record through the spool.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from distillguard.errors import DistillguardError, InputError
from distillguard.gateway.protocol import error_response
from distillguard.policy.model import make_decision

ACTOR = "admin-api"
_enc = msgspec.json.Encoder()


def _json(data: Any, status: int = 200) -> Response:
    return Response(_enc.encode(data), status_code=status, media_type="application/json")


def admin_routes(gw: Any) -> list[Route]:
    """Routes of the admin API for gateway ``gw`` (empty when no admin token is set)."""
    token = gw.config.admin_token
    if not token or gw.key_admin is None or gw.table is None:
        return []
    expected = ("Bearer " + token).encode()

    def check(request: Request) -> Response | None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            rid = "req_" + secrets.token_hex(12)
            return error_response(
                401, "Admin credential missing or wrong.", "invalid_admin_token", rid
            )
        return None

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > 1_000_000:
            raise InputError("admin request body over 1 MB")
        try:
            obj = msgspec.json.decode(raw) if raw else {}
        except msgspec.DecodeError as exc:
            raise InputError(f"invalid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise InputError("the body must be a JSON object")
        return obj

    async def run(request: Request, fn: Any) -> Response:
        denied = check(request)
        if denied is not None:
            return denied
        rid = "req_" + secrets.token_hex(12)
        try:
            data = await fn(request)
        except InputError as exc:
            return error_response(400, str(exc), "invalid_request", rid)
        except DistillguardError as exc:
            return error_response(503, str(exc), "admin_backend_unavailable", rid)
        return data if isinstance(data, Response) else _json(data)

    async def create_key(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            b = await body(req)
            issued = await anyio.to_thread.run_sync(
                lambda: gw.key_admin.create(
                    str(b.get("account_id") or ""),
                    org_id=str(b.get("org_id") or ""),
                    name=str(b.get("name") or ""),
                    actor=ACTOR,
                )
            )
            return _json({"key": issued.raw_key, **msgspec.to_builtins(issued.record)}, 201)

        return await run(request, fn)

    async def rotate_key(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            kid = req.path_params["key_id"]
            issued = await anyio.to_thread.run_sync(lambda: gw.key_admin.rotate(kid, actor=ACTOR))
            gw.keys.invalidate()
            return {"key": issued.raw_key, **msgspec.to_builtins(issued.record)}

        return await run(request, fn)

    async def revoke_key(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            kid = req.path_params["key_id"]
            rec = await anyio.to_thread.run_sync(lambda: gw.key_admin.revoke(kid, actor=ACTOR))
            gw.keys.invalidate()
            return msgspec.to_builtins(rec)

        return await run(request, fn)

    async def list_keys(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            acct = req.query_params.get("account_id")
            recs = await anyio.to_thread.run_sync(lambda: gw.key_admin.list(acct))
            return {"data": [msgspec.to_builtins(r) for r in recs]}

        return await run(request, fn)

    async def list_decisions(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            ds = await anyio.to_thread.run_sync(gw.table.active)
            return {"data": [msgspec.to_builtins(d) for d in ds]}

        return await run(request, fn)

    async def put_decision(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            b = await body(req)
            ttl = b.get("ttl_s")
            params = b.get("params") or {}
            if not isinstance(params, dict):
                raise InputError("params must be an object")
            d = make_decision(
                req.path_params["kind"],
                req.path_params["subject_id"],
                b.get("actions") or "",
                params=params,
                reason=str(b.get("reason") or ""),
                created_by=str(b.get("created_by") or ACTOR),
                ttl_s=float(ttl) if ttl is not None else None,
            )
            await anyio.to_thread.run_sync(lambda: gw.table.put(d, actor=ACTOR))
            await gw.policy.refresh()
            return msgspec.to_builtins(d)

        return await run(request, fn)

    async def delete_decision(request: Request) -> Response:
        async def fn(req: Request) -> Any:
            kind, sid = req.path_params["kind"], req.path_params["subject_id"]
            d = await anyio.to_thread.run_sync(
                lambda: gw.table.revoke(kind, sid, actor=ACTOR, reason="revoked by admin API")
            )
            await gw.policy.refresh()
            if d is None:
                raise InputError(f"no current decision for {kind}:{sid}")
            return msgspec.to_builtins(d)

        return await run(request, fn)

    return [
        Route("/admin/v1/keys", create_key, methods=["POST"]),
        Route("/admin/v1/keys", list_keys, methods=["GET"]),
        Route("/admin/v1/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
        Route("/admin/v1/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
        Route("/admin/v1/decisions", list_decisions, methods=["GET"]),
        Route("/admin/v1/decisions/{kind}/{subject_id}", put_decision, methods=["PUT"]),
        Route("/admin/v1/decisions/{kind}/{subject_id}", delete_decision, methods=["DELETE"]),
    ]
