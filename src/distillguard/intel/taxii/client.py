"""A small TAXII 2.1 client (httpx) for ``distillguard intel pull`` and ``push``.

``pull`` pages through a collection's objects (``limit``/``next``, from ``added_after``) and
returns them as one bundle for :func:`distillguard.intel.importer.import_bundle`; ``push``
posts a bundle's objects as an envelope and returns the status resource.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from distillguard.errors import InputError

MEDIA_TYPE = "application/taxii+json;version=2.1"


@dataclass(frozen=True, slots=True)
class PullResult:
    """Objects pulled from one collection."""

    bundle: dict[str, Any]
    objects: int
    pages: int
    last_added: str | None


@dataclass(frozen=True, slots=True)
class PushResult:
    """The server's status resource for one push."""

    status: dict[str, Any]
    success_count: int
    failure_count: int


def _auth_headers(user: str | None, password: str | None, token: str | None) -> dict[str, str]:
    headers = {"Accept": MEDIA_TYPE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _client(
    user: str | None, password: str | None, token: str | None, timeout: float
) -> httpx.Client:
    auth = httpx.BasicAuth(user, password or "") if user and not token else None
    return httpx.Client(headers=_auth_headers(user, password, token), auth=auth, timeout=timeout)


def _check(resp: httpx.Response, url: str) -> Any:
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("description", "")
        except ValueError:
            detail = resp.text[:200]
        raise InputError(f"{url}: HTTP {resp.status_code} {detail}".rstrip())
    try:
        return resp.json()
    except ValueError:
        raise InputError(f"{url}: the server did not answer JSON") from None


def pull(
    collection_url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    added_after: str | None = None,
    page_size: int = 500,
    max_pages: int = 10_000,
    timeout: float = 30.0,
) -> PullResult:
    """Fetch every object (newer than ``added_after``) of a TAXII 2.1 collection.

    Raises:
        InputError: the server refused or answered something that is not TAXII.
    """
    url = collection_url.rstrip("/") + "/objects/"
    objects: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": page_size}
    if added_after:
        params["added_after"] = added_after
    last: str | None = None
    pages = 0
    try:
        with _client(user, password, token, timeout) as http:
            while pages < max_pages:
                resp = http.get(url, params=params)
                body = _check(resp, url)
                pages += 1
                objects += [o for o in body.get("objects", []) if isinstance(o, dict)]
                last = resp.headers.get("X-TAXII-Date-Added-Last", last)
                if not body.get("more") or not body.get("next"):
                    break
                params = {"limit": page_size, "next": body["next"]}
    except httpx.HTTPError as exc:
        raise InputError(f"{url}: {exc}") from None
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    return PullResult(bundle=bundle, objects=len(objects), pages=pages, last_added=last)


def push(
    collection_url: str,
    bundle: dict[str, Any],
    *,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    timeout: float = 60.0,
) -> PushResult:
    """Post a bundle's objects to a TAXII 2.1 collection.

    Raises:
        InputError: the server refused the request.
    """
    url = collection_url.rstrip("/") + "/objects/"
    env = {"objects": bundle.get("objects", [])}
    try:
        with _client(user, password, token, timeout) as http:
            resp = http.post(url, json=env, headers={"Content-Type": MEDIA_TYPE})
    except httpx.HTTPError as exc:
        raise InputError(f"{url}: {exc}") from None
    status = _check(resp, url)
    return PushResult(
        status=status,
        success_count=int(status.get("success_count", 0)),
        failure_count=int(status.get("failure_count", 0)),
    )
