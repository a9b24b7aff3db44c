"""The gateway application: an OpenAI-compatible proxy with keys, limits, policy and capture.

Build one with :func:`build_gateway` (production: Redis, spool, httpx) or construct
:class:`Gateway` with fakes in tests; :func:`create_app` is the uvicorn factory used by
``distillguard serve`` (configuration from the file and environment). Request path (chat,
completions, embeddings): read the body under a cap -> authenticate the key -> validate ->
check the model -> policy decision -> shared limits -> forward -> shape the answer -> one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from distillguard import __version__
from distillguard.events.model import Params
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.exchange import Exchange
from distillguard.gateway.keys import KeyAdmin, KeyResolver
from distillguard.gateway.limits import (
    FailoverLimiter,
    LimitDecision,
    Limiter,
    LimiterUnavailable,
    Limits,
    Subject,
)
from distillguard.gateway.metrics import GatewayMetrics
from distillguard.gateway.protocol import REQUEST_TYPES, error_response, field_of, openapi_document
from distillguard.gateway.relay import Shaper, SSEReader
from distillguard.gateway.sources import PolicyCache
from distillguard.gateway.spool import SpoolWriter
from distillguard.gateway.state import StateTable
from distillguard.policy.enforce import Enforcement, LimitOverride, resolve
from distillguard.policy.table import DecisionTable

log = logging.getLogger("distillguard.gateway")

_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()
_INT_FIELDS = (
    "max_tokens",
    "max_completion_tokens",
    "n",
    "top_logprobs",
    "seed",
    "logprobs",
    "dimensions",
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _BodyTooLarge(Exception):
    pass


@dataclass
class Gateway:
    """Everything one worker process needs. See :func:`build_gateway`."""

    config: GatewayConfig
    keys: KeyResolver
    limiter: Limiter
    policy: PolicyCache
    spool: SpoolWriter
    upstream: httpx.AsyncClient
    metrics: GatewayMetrics
    key_admin: KeyAdmin | None = None
    table: DecisionTable | None = None
    models: frozenset[str] = frozenset()
    redis_ping: Any = None
    closers: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        self.state = StateTable()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.redis_up = True
        cfg = self.config
        self._limits = {
            "key": Limits(cfg.key_rpm, cfg.key_tpm, cfg.key_concurrency),
            "account": Limits(cfg.account_rpm, cfg.account_tpm, cfg.account_concurrency),
            "org": Limits(cfg.org_rpm, cfg.org_tpm, cfg.org_concurrency),
        }
        self._signals: dict[str, Any] = {}
        m = self.metrics
        m.gauge(
            "distillguard_gateway_spool_pending_events",
            "Events not yet fsynced",
            lambda: float(self.spool.pending()),
        )
        m.gauge(
            "distillguard_gateway_spool_segments",
            "Spool segments of this replica waiting for the loader",
            lambda: float(sum(1 for _ in self.spool.dir.glob("seg-*"))),
        )
        m.gauge(
            "distillguard_gateway_events_lost",
            "Events dropped because the spool failed",
            lambda: float(self.spool.lost),
        )
        m.dependency_up.labels("redis").set(1)
        m.dependency_up.labels("spool").set(1)

    # ----- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Load decisions, learn the models, start the refresh loop."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.policy.refresh(), timeout=2.0)
        if not self.models and not self.config.models:
            self.models = await self._fetch_models()
        if self.config.signals:
            self._signals = _load_signals()
        task = asyncio.create_task(
            self.policy.poll(self.config.policy_refresh_s, self.keys.invalidate, self._redis_health)
        )
        self._tasks.add(task)

    async def stop(self) -> None:
        """Stop background work, flush the spool, close clients."""
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        await self.upstream.aclose()
        for close in self.closers:
            with contextlib.suppress(Exception):
                res = close()
                if asyncio.iscoroutine(res):
                    await res
        await anyio.to_thread.run_sync(self.spool.close)

    def _redis_health(self, up: bool) -> None:
        self.redis_up = up
        self.metrics.dependency_up.labels("redis").set(1 if up else 0)

    async def _fetch_models(self) -> frozenset[str]:
        try:
            r = await self.upstream.get("/v1/models", timeout=self.config.connect_timeout_s + 1)
            data = r.json().get("data", [])
            return frozenset(m["id"] for m in data if isinstance(m, dict) and "id" in m)
        except Exception as exc:  # noqa: BLE001 - an unknown list means "accept any model"
            log.warning(
                "upstream: cannot list models (%s); accepting any model name", type(exc).__name__
            )
            return frozenset()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- the exchange ------------------------------------------------------------------
    def _new_exchange(self, request: Request, operation: str) -> Exchange:
        ex = Exchange(
            request_id="req_" + secrets.token_hex(12),
            ts=time.time(),
            t0=time.perf_counter(),
            endpoint=request.url.path,
            operation=operation,
            client_ip=request.client.host if request.client else None,
            user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        )
        given = request.headers.get("x-request-id")
        if given is not None:
            ex.extra["client_request_id"] = given if _SAFE_ID.match(given) else "<invalid>"
        return ex

    def finish(self, ex: Exchange) -> None:
        """Write the exchange's event and metrics exactly once."""
        if ex.finished:
            return
        ex.finished = True
        elapsed = time.perf_counter() - ex.t0
        cfg = self.config
        try:
            line = ex.encode(latency_ms=elapsed * 1000, capture_text=cfg.capture_text)
            self.spool.append(line)
            self.metrics.events.inc()
        except Exception:  # noqa: BLE001 - capture must never break the response
            log.exception("capture: cannot encode the event of %s", ex.request_id)
        m = self.metrics
        model = ex.model if ex.model in self.models or (ex.model and not self.models) else "other"
        labels = (ex.operation, model or "", str(ex.status))
        m.requests.labels(*labels).inc()
        m.duration.labels(*labels).observe(elapsed)
        if ex.upstream_s and ex.operation != "models":
            m.added.labels(ex.operation).observe(max(elapsed - ex.upstream_s, 0.0))
        if ex.input_tokens:
            m.tokens.labels(model or "", "input").inc(ex.input_tokens)
        if ex.output_tokens:
            m.tokens.labels(model or "", "output").inc(ex.output_tokens)

    def _error(
        self,
        ex: Exchange,
        status: int,
        message: str,
        code: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        ex.status = status
        ex.error_code = code
        return error_response(status, message, code, ex.request_id, param=param, headers=headers)

    async def _read_body(self, request: Request) -> bytes:
        cap = self.config.body_max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise _BodyTooLarge
        body = bytearray()
        with anyio.fail_after(self.config.body_timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > cap:
                    raise _BodyTooLarge
        return bytes(body)

    async def handle(self, request: Request, operation: str) -> Response:
        """Handle one ``/v1`` request (the event is written when it ends)."""
        ex = self._new_exchange(request, operation)
        streaming = False
        try:
            resp = await self._handle(request, ex)
            streaming = isinstance(resp, _RelayResponse)
            return resp
        except ClientDisconnect:
            ex.status = 499
            ex.error_code = "client_disconnected"
            self.metrics.disconnects.inc()
            raise
        except asyncio.CancelledError:
            ex.status = 499
            ex.error_code = "client_disconnected"
            raise
        except Exception:
            log.exception("gateway: internal error in %s", ex.request_id)
            return self._error(ex, 500, "Internal error in the gateway.", "internal_error")
        finally:
            if not streaming:
                self.finish(ex)

    async def _authenticate(self, request: Request, ex: Exchange) -> Response | None:
        auth = request.headers.get("authorization", "")
        raw = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        res = await self.keys.authenticate(raw)
        if res.status == "ok" and res.record is not None:
            ex.account_id, ex.org_id, ex.api_key_id = (
                res.record.account_id,
                res.record.org_id,
                res.record.key_id,
            )
            return None
        ex.extra["auth"] = res.status
        if res.status == "missing":
            return self._error(
                ex, 401, "Missing API key: send 'Authorization: Bearer <key>'.", "missing_api_key"
            )
        if res.status == "unavailable":
            self.metrics.degraded.labels("redis").inc()
            return self._error(
                ex,
                503,
                "The key service is unavailable; retry shortly.",
                "key_service_unavailable",
                headers={"retry-after": "1"},
            )
        if res.status == "revoked" and res.record is not None:
            ex.account_id, ex.org_id = res.record.account_id, res.record.org_id
            ex.api_key_id = res.record.key_id
            return self._error(ex, 401, "This API key has been revoked.", "revoked_api_key")
        return self._error(ex, 401, "Incorrect API key provided.", "invalid_api_key")

    def _parse(
        self, body: bytes, ex: Exchange
    ) -> tuple[dict[str, Any] | None, Any, Response | None]:
        try:
            obj = _dec.decode(body)
        except msgspec.DecodeError as exc:
            return (
                None,
                None,
                self._error(ex, 400, f"We could not parse the JSON body: {exc}", "invalid_json"),
            )
        if not isinstance(obj, dict):
            return (
                None,
                None,
                self._error(ex, 400, "The request body must be a JSON object.", "invalid_json"),
            )
        for k in _INT_FIELDS:  # JSON Schema counts 10.0 as an integer; so do we
            v = obj.get(k)
            if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
                obj[k] = int(v)
        try:
            req: Any = msgspec.convert(obj, REQUEST_TYPES[ex.operation])
        except msgspec.ValidationError as exc:
            param, reason = field_of(exc)
            if isinstance(obj.get("model"), str):
                ex.model = obj["model"][:256]
            return (
                None,
                None,
                self._error(
                    ex,
                    400,
                    f"Invalid value for '{param}': {reason}" if param else reason,
                    "invalid_request",
                    param=param,
                ),
            )
        ex.model = req.model
        self._capture_request(req, ex)
        return obj, req, None

    def _capture_request(self, req: Any, ex: Exchange) -> None:
        op = ex.operation
        if op == "chat":
            ex.messages = req.messages
            ex.params = Params(
                temperature=req.temperature,
                top_p=req.top_p,
                max_tokens=req.max_tokens or req.max_completion_tokens,
                n=req.n,
                logprobs=req.logprobs,
                top_logprobs=req.top_logprobs,
                stream=req.stream,
                seed=req.seed,
                reasoning_effort=req.reasoning_effort,
                tools=req.tools,
            )
        elif op == "text_completion":
            ex.prompt = req.prompt if isinstance(req.prompt, str) else _joined(req.prompt)
            ex.params = Params(
                temperature=req.temperature,
                top_p=req.top_p,
                max_tokens=req.max_tokens,
                n=req.n,
                logprobs=req.logprobs is not None,
                stream=req.stream,
                seed=req.seed,
            )
        else:
            ex.prompt = req.input if isinstance(req.input, str) else _joined(req.input)

    def _subjects(self, ex: Exchange, override: LimitOverride | None) -> list[Subject]:
        out = []
        for scope, sid in (("key", ex.api_key_id), ("account", ex.account_id), ("org", ex.org_id)):
            if not sid:
                continue
            lim = self._limits[scope]
            if override is not None and scope == "account":
                lim = Limits(
                    _tighter(lim.rpm, override.rpm),
                    _tighter(lim.tpm, override.tpm),
                    _tighter(lim.concurrency, override.concurrency),
                )
            if lim.any():
                out.append(Subject(scope, sid, lim))
        return out

    async def _handle(self, request: Request, ex: Exchange) -> Response:
        try:
            body = await self._read_body(request)
        except _BodyTooLarge:
            return self._error(
                ex,
                413,
                f"Request body is larger than the limit of {self.config.body_max_bytes} bytes.",
                "request_too_large",
            )
        except TimeoutError:
            return self._error(ex, 408, "Timed out reading the request body.", "body_timeout")
        denied = await self._authenticate(request, ex)
        if denied is not None:
            return denied
        obj, req, bad = self._parse(body, ex)
        if bad is not None or obj is None:
            return bad or self._error(ex, 400, "Invalid request.", "invalid_request")
        if self.models and ex.model not in self.models:
            return self._error(
                ex,
                404,
                f"The model '{ex.model}' does not exist.",
                "model_not_found",
                param="model",
            )
        now = time.time()
        enf = resolve(self.policy.lookup(ex.account_id, ex.org_id, now))
        ex.decision = dict(enf.record)
        self._inline_state(ex, now)
        self.metrics.decisions.labels(ex.decision.get("action", "allow")).inc()
        if enf.refusal is not None:
            r = enf.refusal
            return self._error(ex, r.status, r.message, r.code)
        subjects = self._subjects(ex, enf.limits)
        cost = _estimate_tokens(body)
        try:
            ld = await self.limiter.acquire(subjects, ex.request_id, cost)
        except LimiterUnavailable:
            self.metrics.degraded.labels("redis").inc()
            return self._error(
                ex,
                503,
                "Rate limiting is unavailable; retry shortly.",
                "limits_unavailable",
                headers={"retry-after": "1"},
            )
        if ld.backend == "local" and isinstance(self.limiter, FailoverLimiter):
            self.metrics.degraded.labels("redis").inc()
            ex.extra["limits"] = "local"
        if not ld.allowed:
            self.metrics.limit_hits.labels(ld.scope, ld.dimension).inc()
            ex.decision["limited"] = f"{ld.scope}:{ld.dimension}"
            return self._error(
                ex,
                429,
                f"Rate limit reached for {ld.scope} ({ld.dimension} per minute: "
                f"{ld.limit}). Retry after {math.ceil(ld.retry_after_s)} s.",
                "rate_limit_exceeded",
                headers=_limit_headers(ld, retry=True),
            )
        release = _Release(self, subjects, ex, cost, ld.backend)
        try:
            resp = await self._forward(obj, body, ex, enf, ld, release)
        except BaseException:
            release.fire()
            raise
        if not isinstance(resp, _RelayResponse):
            release.fire()
        return resp

    def _inline_state(self, ex: Exchange, now: float) -> None:
        prompt = ex.prompt
        if prompt is None and ex.messages:
            last = ex.messages[-1].content
            prompt = last if isinstance(last, str) else None
        ex.decision["state"] = self.state.observe(ex.account_id, prompt, now)
        if self._signals:
            ex.decision["signals"] = _run_signals(self._signals, ex)

    def _mutate(self, obj: dict[str, Any], ex: Exchange, enf: Enforcement, shaper: Shaper) -> bool:
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

    async def _forward(
        self,
        obj: dict[str, Any],
        body: bytes,
        ex: Exchange,
        enf: Enforcement,
        ld: LimitDecision,
        release: _Release,
    ) -> Response:
        shaper = Shaper(ex, enf)
        if self._mutate(obj, ex, enf, shaper):
            body = _enc.encode(obj)
        headers = {"content-type": "application/json", "x-request-id": ex.request_id}
        if self.config.upstream_api_key:
            headers["authorization"] = "Bearer " + self.config.upstream_api_key
        out_headers = {"x-request-id": ex.request_id, **_limit_headers(ld)}
        stream = bool(obj.get("stream")) and ex.operation != "embeddings"
        path = ex.endpoint
        t_up = time.perf_counter()
        req = self.upstream.build_request("POST", path, content=body, headers=headers)
        try:
            upstream = await self.upstream.send(req, stream=True)
        except httpx.TimeoutException:
            self.metrics.upstream_errors.labels("timeout").inc()
            return self._error(
                ex,
                504,
                "The upstream model did not answer in time.",
                "upstream_timeout",
                headers=out_headers,
            )
        except httpx.HTTPError as exc:
            self.metrics.upstream_errors.labels("unavailable").inc()
            log.warning("upstream: %s for %s", type(exc).__name__, ex.request_id)
            return self._error(
                ex,
                502,
                "The upstream model is unavailable.",
                "upstream_unavailable",
                headers=out_headers,
            )
        if upstream.status_code != 200 or not stream:
            try:
                with anyio.fail_after(self.config.request_timeout_s):
                    raw = await upstream.aread()
            except (httpx.HTTPError, TimeoutError):
                self.metrics.upstream_errors.labels("timeout").inc()
                return self._error(
                    ex,
                    504,
                    "The upstream model did not finish in time.",
                    "upstream_timeout",
                    headers=out_headers,
                )
            finally:
                await upstream.aclose()
            ex.upstream_s = time.perf_counter() - t_up
            return self._whole(raw, upstream.status_code, ex, shaper, out_headers)
        ex.upstream_s = time.perf_counter() - t_up
        ex.status = 200
        return _RelayResponse(self, upstream, ex, SSEReader(shaper), release, out_headers)

    def _whole(
        self, raw: bytes, status: int, ex: Exchange, shaper: Shaper, headers: dict[str, str]
    ) -> Response:
        try:
            body = _dec.decode(raw)
        except msgspec.DecodeError:
            body = None
        if status != 200:
            self.metrics.upstream_errors.labels(str(status)).inc()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                ex.status = status
                ex.error_code = str(body["error"].get("code") or "upstream_error")
                return Response(
                    raw, status_code=status, headers=headers, media_type="application/json"
                )
            return self._error(
                ex,
                502,
                f"The upstream answered HTTP {status} without an OpenAI error object.",
                "upstream_bad_response",
                headers=headers,
            )
        if not isinstance(body, dict):
            self.metrics.upstream_errors.labels("garbage").inc()
            return self._error(
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

    async def models_route(self, request: Request) -> Response:
        """``GET /v1/models``: the models this gateway serves."""
        ex = self._new_exchange(request, "models")
        try:
            denied = await self._authenticate(request, ex)
            if denied is not None:
                return denied
            ex.status = 200
            data = [
                {"id": m, "object": "model", "owned_by": "upstream"} for m in sorted(self.models)
            ]
            return Response(
                _enc.encode({"object": "list", "data": data}),
                headers={"x-request-id": ex.request_id},
                media_type="application/json",
            )
        finally:
            self.finish(ex)


class _Release:
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
        self.gw._spawn(self._run(extra))

    async def _run(self, extra: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.gw.limiter.release(self.subjects, self.ex.request_id, extra, self.backend),
                timeout=max(self.gw.config.redis_timeout_s * 4, 1.0),
            )


class _RelayResponse(Response):
    """Streams the upstream's SSE to the client; on a client disconnect, cancels the upstream
    request and records the exchange as aborted (status 499)."""

    def __init__(
        self,
        gw: Gateway,
        upstream: httpx.Response,
        ex: Exchange,
        reader: SSEReader,
        release: _Release,
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


def _tighter(a: int, b: int) -> int:
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def _joined(items: list[Any]) -> str | None:
    strs = [x for x in items if isinstance(x, str)]
    return "\n".join(strs) if strs else None


def _estimate_tokens(body: bytes) -> int:
    """A cheap upper-bound-ish estimate of input tokens (4 bytes per token)."""
    return max(1, len(body) // 4)


def _limit_headers(ld: LimitDecision, *, retry: bool = False) -> dict[str, str]:
    h: dict[str, str] = {}
    if ld.limit_requests:
        h["x-ratelimit-limit-requests"] = str(ld.limit_requests)
        h["x-ratelimit-remaining-requests"] = str(ld.remaining_requests)
        h["x-ratelimit-reset-requests"] = f"{ld.reset_s:.3f}s"
    if ld.limit_tokens:
        h["x-ratelimit-limit-tokens"] = str(ld.limit_tokens)
        h["x-ratelimit-remaining-tokens"] = str(ld.remaining_tokens)
    if retry:
        h["retry-after"] = str(max(1, math.ceil(ld.retry_after_s)))
        if ld.dimension == "concurrency":
            h["x-ratelimit-limit-concurrency"] = str(ld.limit)
    return h


def _load_signals() -> dict[str, Any]:
    try:
        from distillguard.detect import signals  # type: ignore[attr-defined]
    except ImportError:
        log.warning("signals: distillguard.detect.signals is not installed; inline signals off")
        return {}
    reg = getattr(signals, "SIGNALS", None)
    return dict(reg) if isinstance(reg, dict) else {}


def _run_signals(registry: dict[str, Any], ex: Exchange) -> dict[str, float]:
    event = ex.to_event(latency_ms=0.0, capture_text=True)
    out: dict[str, float] = {}
    for name, sig in registry.items():
        try:
            inst = sig() if isinstance(sig, type) else sig
            out[name] = round(float(inst.score(event)), 4)
        except Exception:  # noqa: BLE001 - a broken signal must not break the request
            out[name] = -1.0
    return out


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
