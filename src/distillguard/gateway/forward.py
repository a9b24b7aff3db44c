"""Forwarding one admitted request to the upstream and shaping its answer.

:class:`UpstreamSender` posts through the pooled client's transport directly: the URL of each
endpoint is built once and httpx's per-request client machinery (URL merging, cookie jar,
auth, redirects, event hooks) is skipped — on the hot path it cost more CPU than the gateway's
own work. In production it posts through :class:`~distillguard.gateway.upstream.RawUpstream`
(a small keep-alive HTTP/1.1 client; httpcore's pool was the largest CPU item per request).
Without either it falls back to ``client.send``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from starlette.responses import Response

from distillguard.gateway.exchange import Exchange
from distillguard.gateway.limits import LimitDecision
from distillguard.gateway.relay import Shaper, SSEReader
from distillguard.gateway.relaying import RelayResponse, Release
from distillguard.gateway.requtil import limit_headers
from distillguard.gateway.upstream import RawReply, RawUpstream, UpstreamReply
from distillguard.policy.enforce import Enforcement

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway

log = logging.getLogger("distillguard.gateway")

_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


class UpstreamSender:
    """Posts JSON bodies to the upstream with pre-built URLs.

    Args:
        client: the pooled client (its base URL and timeouts are used).
        transport: the client's transport, called directly; None to go through the client.
        raw: the raw keep-alive client, used before either when given.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport | None,
        raw: RawUpstream | None = None,
    ) -> None:
        self.client = client
        self.transport = transport
        self.raw = raw
        self._base = str(client.base_url).rstrip("/")
        self._urls: dict[str, httpx.URL] = {}
        self._ext = {"timeout": client.timeout.as_dict()}

    def url(self, path: str) -> httpx.URL:
        """The absolute upstream URL of ``path`` (built once per endpoint)."""
        u = self._urls.get(path)
        if u is None:
            u = self._urls[path] = httpx.URL(self._base + path)
        return u

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> UpstreamReply:
        """Send the request; the answer's body is not read yet (stream it or ``aread``).

        Raises:
            httpx.HTTPError: connection, timeout or protocol failure.
        """
        if self.raw is not None:
            return await self.raw.post(path, body, headers)
        if self.transport is None:
            req = self.client.build_request("POST", path, content=body, headers=headers)
            return await self.client.send(req, stream=True)
        req = httpx.Request("POST", self.url(path), content=body, headers=headers)
        req.extensions = self._ext
        return await self.transport.handle_async_request(req)


def mutate(obj: dict[str, Any], enf: Enforcement, shaper: Shaper) -> bool:
    """Apply the decision's request changes to the body; True when it changed."""
    changed = False
    if enf.strip:
        for k in ("logprobs", "top_logprobs"):
            if k in obj:
                del obj[k]
                changed = True
    if enf.max_tokens is not None:
        for k in ("max_tokens", "max_completion_tokens"):
            v = obj.get(k)
            if isinstance(v, int) and v > enf.max_tokens:
                obj[k] = enf.max_tokens
                changed = True
        if "max_tokens" not in obj and "max_completion_tokens" not in obj:
            obj["max_tokens"] = enf.max_tokens
            changed = True
    if enf.transforms:
        shaper.prepare(obj)
        changed = True
    return changed


async def forward(
    gw: Gateway,
    obj: dict[str, Any],
    body: bytes,
    ex: Exchange,
    enf: Enforcement,
    ld: LimitDecision,
    release: Release,
) -> Response:
    """Send the request upstream; a whole answer, an error, or a :class:`RelayResponse`."""
    shaper = Shaper(ex, enf)
    if mutate(obj, enf, shaper):
        body = _enc.encode(obj)
    headers = {"content-type": "application/json", "x-request-id": ex.request_id}
    if gw.config.upstream_api_key:
        headers["authorization"] = "Bearer " + gw.config.upstream_api_key
    out_headers = {"x-request-id": ex.request_id, **limit_headers(ld)}
    stream = bool(obj.get("stream")) and ex.operation != "embeddings"
    t_up = time.perf_counter()
    try:
        upstream = await gw.sender.post(ex.endpoint, body, headers)
    except httpx.TimeoutException:
        gw.metrics.upstream_errors.labels("timeout").inc()
        return gw.error(
            ex,
            504,
            "The upstream model did not answer in time.",
            "upstream_timeout",
            headers=out_headers,
        )
    except httpx.HTTPError as exc:
        gw.metrics.upstream_errors.labels("unavailable").inc()
        log.warning("upstream: %s for %s", type(exc).__name__, ex.request_id)
        return gw.error(
            ex,
            502,
            "The upstream model is unavailable.",
            "upstream_unavailable",
            headers=out_headers,
        )
    if upstream.status_code != 200 or not stream:
        try:
            if isinstance(upstream, RawReply):  # bounds the whole read itself, one timer
                raw = await upstream.aread(gw.config.request_timeout_s)
            else:
                async with asyncio.timeout(gw.config.request_timeout_s):
                    raw = await upstream.aread()
        except (httpx.HTTPError, TimeoutError):
            gw.metrics.upstream_errors.labels("timeout").inc()
            return gw.error(
                ex,
                504,
                "The upstream model did not finish in time.",
                "upstream_timeout",
                headers=out_headers,
            )
        finally:
            await upstream.aclose()
        ex.upstream_s = time.perf_counter() - t_up
        return whole(gw, raw, upstream.status_code, ex, shaper, out_headers)
    ex.upstream_s = time.perf_counter() - t_up
    ex.status = 200
    return RelayResponse(gw, upstream, ex, SSEReader(shaper), release, out_headers)


def whole(
    gw: Gateway, raw: bytes, status: int, ex: Exchange, shaper: Shaper, headers: dict[str, str]
) -> Response:
    """Check and shape a non-streamed upstream answer."""
    try:
        body = _dec.decode(raw)
    except msgspec.DecodeError:
        body = None
    if status != 200:
        gw.metrics.upstream_errors.labels(str(status)).inc()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            ex.status = status
            ex.error_code = str(body["error"].get("code") or "upstream_error")
            return Response(raw, status_code=status, headers=headers, media_type="application/json")
        return gw.error(
            ex,
            502,
            f"The upstream answered HTTP {status} without an OpenAI error object.",
            "upstream_bad_response",
            headers=headers,
        )
    if not isinstance(body, dict):
        gw.metrics.upstream_errors.labels("garbage").inc()
        return gw.error(
            ex,
            502,
            "The upstream answered with something that is not a JSON object.",
            "upstream_bad_response",
            headers=headers,
        )
    shaper.whole(body)
    ex.status = 200
    if shaper.rewrite:
        raw = _enc.encode(body)
    return Response(raw, status_code=200, headers=headers, media_type="application/json")
