"""A TAXII 2.1 server on Starlette: discovery, API root, collections, objects, manifest, status.

Every response uses ``application/taxii+json;version=2.1``. Reads of a collection need a
user on its ``read`` list (or ``anonymous`` there); writes need an authenticated user on its
``write`` list. Collections a user may neither read nor write are invisible (404). Posted
envelopes go through the same caps and object checks as ``intel import``: a bad object is
listed as a failure in the status resource, a bad envelope gets an error message, and no
input makes the server fail.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from distillguard.intel.bundle import BundleRejected, check_objects, load_json
from distillguard.intel.stix import parse_timestamp, timestamp
from distillguard.intel.taxii.auth import Collection, ServerConfig
from distillguard.intel.taxii.storage import TaxiiStorage

MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_enc = msgspec.json.Encoder()


class TaxiiError(Exception):
    """An error answered as a TAXII error message."""

    def __init__(self, status: int, title: str, description: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.description = status, title, description


def taxii_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response with the TAXII media type."""
    return Response(_enc.encode(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _accepts(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if not accept or "*/*" in accept:
        return True
    for part in accept.split(","):
        mt = part.split(";q=")[0].replace(" ", "").lower()
        if mt in ("application/taxii+json;version=2.1", "application/taxii+json"):
            return True
    return False


class TaxiiApp:
    """The server: holds the configuration and the storage; ``app`` is the ASGI app."""

    def __init__(self, config: ServerConfig, storage: TaxiiStorage) -> None:
        self.config, self.storage = config, storage
        root = "/" + config.api_root
        routes = [
            Route("/taxii2/", self.discovery),
            Route(root + "/", self.api_root),
            Route(root + "/collections/", self.collections),
            Route(root + "/collections/{cid}/", self.collection),
            Route(root + "/collections/{cid}/objects/", self.objects, methods=["GET", "POST"]),
            Route(root + "/collections/{cid}/objects/{oid}/", self.object),
            Route(root + "/collections/{cid}/objects/{oid}/versions/", self.versions),
            Route(root + "/collections/{cid}/manifest/", self.manifest),
            Route(root + "/status/{sid}/", self.status),
        ]
        self.app = Starlette(
            routes=[Route(r.path, self._wrap(r.endpoint), methods=r.methods) for r in routes]
        )

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                if not _accepts(request):
                    raise TaxiiError(406, "Not Acceptable", f"use Accept: {MEDIA_TYPE}")
                result: Response = await handler(request)
                return result
            except TaxiiError as exc:
                headers = (
                    {"WWW-Authenticate": 'Basic realm="taxii", Bearer'}
                    if exc.status == 401
                    else None
                )
                return taxii_response(
                    {
                        "title": exc.title,
                        "description": exc.description,
                        "http_status": str(exc.status),
                    },
                    exc.status,
                    headers,
                )
            except Exception:  # noqa: BLE001 - never let a request take the server down
                return taxii_response(
                    {
                        "title": "Internal error",
                        "http_status": "500",
                        "description": "the request could not be processed",
                    },
                    500,
                )

        return endpoint

    # -- helpers --------------------------------------------------------------------------
    def _user(self, request: Request) -> str | None:
        header = request.headers.get("authorization")
        user = self.config.authenticate(header)
        if header and user is None:
            raise TaxiiError(401, "Unauthorized", "invalid credentials")
        return user

    def _collection(self, request: Request, user: str | None, *, write: bool = False) -> Collection:
        col = self.config.collection(request.path_params["cid"])
        if col is None or not (col.can_read(user) or col.can_write(user)):
            if user is None:
                raise TaxiiError(401, "Unauthorized", "authentication required")
            raise TaxiiError(404, "Not Found", "no such collection")
        allowed = col.can_write(user) if write else col.can_read(user)
        if not allowed:
            if user is None:
                raise TaxiiError(401, "Unauthorized", "authentication required")
            raise TaxiiError(403, "Forbidden", f"no {'write' if write else 'read'} access")
        return col

    def _col_resource(self, col: Collection, user: str | None) -> dict[str, Any]:
        return {
            "id": col.id,
            "title": col.title,
            "description": col.description,
            "can_read": col.can_read(user),
            "can_write": col.can_write(user),
            "media_types": [STIX_MEDIA_TYPE],
        }

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return self.config.page_size
        try:
            value = int(raw)
        except ValueError:
            raise TaxiiError(400, "Bad Request", "limit must be an integer") from None
        if value < 1:
            raise TaxiiError(400, "Bad Request", "limit must be positive")
        return min(value, self.config.max_page_size)

    def _filters(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        out: dict[str, Any] = {}
        if "added_after" in q:
            try:
                out["added_after"] = parse_timestamp(q["added_after"])
            except ValueError:
                raise TaxiiError(400, "Bad Request", "added_after is not a timestamp") from None
        if "next" in q:
            if not q["next"].isdigit():
                raise TaxiiError(400, "Bad Request", "invalid next")
            out["after_seq"] = int(q["next"])
        for name, key in (
            ("match[id]", "ids"),
            ("match[type]", "types"),
            ("match[version]", "versions"),
            ("match[spec_version]", "spec_versions"),
        ):
            if name in q:
                out[key] = [v for v in q[name].split(",") if v]
        return out

    def _page_headers(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        if not rows:
            return {}
        return {
            "X-TAXII-Date-Added-First": timestamp_us(rows[0]["date_added"]),
            "X-TAXII-Date-Added-Last": timestamp_us(rows[-1]["date_added"]),
        }

    # -- endpoints ------------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        root = str(request.base_url).rstrip("/") + f"/{self.config.api_root}/"
        return taxii_response(
            {
                "title": self.config.title,
                "description": self.config.description,
                "default": root,
                "api_roots": [root],
            }
        )

    async def api_root(self, request: Request) -> Response:
        return taxii_response(
            {
                "title": self.config.title,
                "versions": [MEDIA_TYPE],
                "max_content_length": self.config.max_content_length,
            }
        )

    async def collections(self, request: Request) -> Response:
        user = self._user(request)
        cols = [
            self._col_resource(c, user)
            for c in self.config.collections
            if c.can_read(user) or c.can_write(user)
        ]
        if not cols and user is None:
            raise TaxiiError(401, "Unauthorized", "authentication required")
        return taxii_response({"collections": cols} if cols else {})

    async def collection(self, request: Request) -> Response:
        user = self._user(request)
        col = self.config.collection(request.path_params["cid"])
        if col is None or not (col.can_read(user) or col.can_write(user)):
            raise TaxiiError(401 if user is None else 404, "Not Found", "no such collection")
        return taxii_response(self._col_resource(col, user))

    async def objects(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._add_objects(request)
        user = self._user(request)
        col = self._collection(request, user)
        page = self.storage.page(col.id, limit=self._limit(request), **self._filters(request))
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.rows:
            body["objects"] = [msgspec.json.decode(r["json"]) for r in page.rows]
        return taxii_response(body, headers=self._page_headers(page.rows))

    async def object(self, request: Request) -> Response:
        user = self._user(request)
        col = self._collection(request, user)
        f = self._filters(request)
        f["ids"] = [request.path_params["oid"]]
        page = self.storage.page(col.id, limit=self._limit(request), **f)
        if not page.rows and "after_seq" not in f:
            raise TaxiiError(404, "Not Found", "no such object")
        body: dict[str, Any] = {
            "more": page.more,
            "objects": [msgspec.json.decode(r["json"]) for r in page.rows],
        }
        if page.next:
            body["next"] = page.next
        return taxii_response(body, headers=self._page_headers(page.rows))

    async def versions(self, request: Request) -> Response:
        user = self._user(request)
        col = self._collection(request, user)
        rows = self.storage.versions(col.id, request.path_params["oid"])
        if not rows:
            raise TaxiiError(404, "Not Found", "no such object")
        return taxii_response(
            {"more": False, "versions": [r["version"] for r in rows]},
            headers=self._page_headers(rows),
        )

    async def manifest(self, request: Request) -> Response:
        user = self._user(request)
        col = self._collection(request, user)
        page = self.storage.page(col.id, limit=self._limit(request), **self._filters(request))
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.rows:
            body["objects"] = [
                {
                    "id": r["object_id"],
                    "date_added": timestamp_us(r["date_added"]),
                    "version": r["version"],
                    "media_type": STIX_MEDIA_TYPE,
                }
                for r in page.rows
            ]
        return taxii_response(body, headers=self._page_headers(page.rows))

    async def status(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            raise TaxiiError(401, "Unauthorized", "authentication required")
        found = self.storage.get_status(request.path_params["sid"])
        if found is None or found.pop("_user", None) != user:
            raise TaxiiError(404, "Not Found", "no such status")
        return taxii_response(found)

    async def _add_objects(self, request: Request) -> Response:
        user = self._user(request)
        col = self._collection(request, user, write=True)
        ctype = request.headers.get("content-type", "").replace(" ", "").lower()
        if not ctype.startswith("application/taxii+json"):
            raise TaxiiError(415, "Unsupported Media Type", f"use Content-Type: {MEDIA_TYPE}")
        declared = request.headers.get("content-length")
        limit = self.config.max_content_length
        if declared and declared.isdigit() and int(declared) > limit:
            raise TaxiiError(413, "Payload Too Large", f"over {limit} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise TaxiiError(413, "Payload Too Large", f"over {limit} bytes")
        try:
            env = load_json(body, max_bytes=limit, max_depth=self.config.max_depth)
        except BundleRejected as exc:
            raise TaxiiError(400, "Bad Request", exc.reason) from None
        if not isinstance(env, dict) or not isinstance(env.get("objects", []), list):
            raise TaxiiError(400, "Bad Request", "expected an envelope with an objects list")
        objects = env.get("objects", [])
        if len(objects) > self.config.max_objects:
            raise TaxiiError(413, "Payload Too Large", f"over {self.config.max_objects} objects")
        kept, issues = check_objects(objects)
        stored = self.storage.add(col.id, kept)
        failures = [
            {"id": i.object_id or f"index {i.index}", "message": i.reason}
            for i in issues
            if i.severity == "rejected"
        ]
        now = datetime.now(UTC)
        status_id = str(uuid.uuid4())
        status: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": timestamp_us(now),
            "total_count": len(objects),
            "success_count": len(stored),
            "successes": [{"id": i, "version": v} for i, v in stored],
            "failure_count": len(failures),
            "failures": failures,
            "pending_count": 0,
        }
        self.storage.put_status(status_id, {**status, "_user": user})
        return taxii_response(status, 202)


def timestamp_us(dt: datetime) -> str:
    """A TAXII timestamp with microseconds (date_added must distinguish close additions)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["MEDIA_TYPE", "TaxiiApp", "TaxiiError", "timestamp", "timestamp_us"]
