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
import gc
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import msgspec
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from distillguard.events.model import Params
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.exchange import Exchange
from distillguard.gateway.forward import UpstreamSender, forward
from distillguard.gateway.inline_signals import load_signals, prompt_and_context, run_signals
from distillguard.gateway.keys import KeyAdmin, KeyResolver
from distillguard.gateway.limits import (
    FailoverLimiter,
    Limiter,
    LimiterUnavailable,
    Limits,
    Subject,
)
from distillguard.gateway.metrics import GatewayMetrics
from distillguard.gateway.protocol import REQUEST_TYPES, error_response, field_of
from distillguard.gateway.relaying import RelayResponse, Release
from distillguard.gateway.requtil import estimate_tokens, joined, limit_headers, tighter
from distillguard.gateway.sources import PolicyCache
from distillguard.gateway.spool import SpoolWriter
from distillguard.gateway.state import StateTable
from distillguard.gateway.upstream import RawUpstream
from distillguard.policy.enforce import LimitOverride, ResolveCache
from distillguard.policy.table import DecisionTable

if TYPE_CHECKING:
    from distillguard.detect.signals import Signal
    from distillguard.gateway.asgi import Incoming

log = logging.getLogger("distillguard.gateway")
#: Seconds ``Gateway.stop`` waits for its cancelled background tasks.
STOP_TASKS_TIMEOUT_S = 5.0

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
    upstream_transport: httpx.AsyncBaseTransport | None = None
    upstream_raw: RawUpstream | None = None

    def __post_init__(self) -> None:
        self.state = StateTable()
        self._resolve = ResolveCache()
        self._sender = UpstreamSender(self.upstream, self.upstream_transport, self.upstream_raw)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.redis_up = True
        cfg = self.config
        self._limits = {
            "key": Limits(cfg.key_rpm, cfg.key_tpm, cfg.key_concurrency),
            "account": Limits(cfg.account_rpm, cfg.account_tpm, cfg.account_concurrency),
            "org": Limits(cfg.org_rpm, cfg.org_tpm, cfg.org_concurrency),
        }
        self._signals: dict[str, Signal] = {}
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

    @property
    def sender(self) -> UpstreamSender:
        """Posts upstream (via ``upstream_transport`` while ``upstream`` is unchanged)."""
        if self._sender.client is not self.upstream:
            self._sender = UpstreamSender(self.upstream, None)
        return self._sender

    # ----- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Load decisions, learn the models, start the refresh loop."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.policy.refresh(), timeout=2.0)
        if not self.models and not self.config.models:
            self.models = await self._fetch_models()
        if self.config.signals:
            self._signals = load_signals()
        # the start-up heap (imports, decision table) never becomes garbage: keep it out of
        # every later full collection
        gc.collect()
        gc.freeze()
        task = asyncio.create_task(
            self.policy.poll(self.config.policy_refresh_s, self.keys.invalidate, self._redis_health)
        )
        self._tasks.add(task)

    async def stop(self) -> None:
        """Stop background work, flush the spool, close clients."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            # Bounded: a task stuck where cancellation cannot reach it must not hold the
            # shutdown (and the spool flush after it) forever.
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TASKS_TIMEOUT_S)
            if stuck:
                log.warning("stop: %d background task(s) did not finish; leaving them", len(stuck))
        await self.upstream.aclose()
        if self.upstream_raw is not None:
            await self.upstream_raw.aclose()
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

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background (cancelled by :meth:`stop`)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- the exchange ------------------------------------------------------------------
    def _new_exchange(self, request: Incoming, operation: str) -> Exchange:
        ua = request.user_agent
        ex = Exchange(
            request_id="req_" + secrets.token_hex(12),
            ts=time.time(),
            t0=time.perf_counter(),
            endpoint=request.path,
            operation=operation,
            client_ip=request.client_host,
            user_agent=ua[:512] if ua else None,
        )
        given = request.request_id
        if given is not None:
            ex.extra["client_request_id"] = given if _SAFE_ID.match(given) else "<invalid>"
        return ex

    def finish(self, ex: Exchange) -> None:
        """Write the exchange's event and metrics exactly once."""
        if ex.finished:
            return
        ex.finished = True
        if ex.observed_at is not None:
            try:
                self._inline_state(ex, ex.observed_at)
            except Exception:  # noqa: BLE001 - inline state must never lose the event
                log.exception("state: cannot update the account state of %s", ex.request_id)
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
        m.child(m.requests, *labels).inc()
        m.child(m.duration, *labels).observe(elapsed)
        if ex.upstream_s and ex.operation != "models":
            m.child(m.added, ex.operation).observe(max(elapsed - ex.upstream_s, 0.0))
        if ex.input_tokens:
            m.child(m.tokens, model or "", "input").inc(ex.input_tokens)
        if ex.output_tokens:
            m.child(m.tokens, model or "", "output").inc(ex.output_tokens)

    def error(
        self,
        ex: Exchange,
        status: int,
        message: str,
        code: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Record ``status``/``code`` on the exchange and build the OpenAI error response."""
        ex.status = status
        ex.error_code = code
        return error_response(status, message, code, ex.request_id, param=param, headers=headers)

    async def _read_body(self, request: Incoming) -> bytes:
        cap = self.config.body_max_bytes
        declared = request.content_length
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise _BodyTooLarge
        async with asyncio.timeout(self.config.body_timeout_s):
            message = await request.receive()  # usually the whole body in one message
            if message["type"] == "http.request" and not message.get("more_body", False):
                first = message.get("body", b"")
                if len(first) > cap:
                    raise _BodyTooLarge
                return bytes(first)
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            body = bytearray(message.get("body", b""))
            async for chunk in request.chunks():
                body += chunk
                if len(body) > cap:
                    raise _BodyTooLarge
        return bytes(body)

    async def handle(
        self, request: Incoming, operation: str, after: list[Exchange] | None = None
    ) -> Response:
        """Handle one ``/v1`` request (the event is written when it ends).

        Args:
            request: the request's path, headers and ASGI ``receive``.
            operation: ``chat``, ``text_completion`` or ``embeddings``.
            after: when given, a whole (not streamed) answer's exchange is appended here
                instead of being finished: the caller sends the answer first and then calls
                :meth:`finish`, so the event, the metrics and the account state are not on
                the request's path. Failures are finished at once either way.
        """
        ex = self._new_exchange(request, operation)
        streaming = deferred = False
        try:
            resp = await self._handle(request, ex)
            streaming = isinstance(resp, RelayResponse)
            if after is not None and not streaming:
                after.append(ex)
                deferred = True
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
            return self.error(ex, 500, "Internal error in the gateway.", "internal_error")
        finally:
            if not streaming and not deferred:
                self.finish(ex)

    async def _authenticate(self, request: Incoming, ex: Exchange) -> Response | None:
        auth = request.authorization or ""
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
            return self.error(
                ex, 401, "Missing API key: send 'Authorization: Bearer <key>'.", "missing_api_key"
            )
        if res.status == "unavailable":
            self.metrics.degraded.labels("redis").inc()
            return self.error(
                ex,
                503,
                "The key service is unavailable; retry shortly.",
                "key_service_unavailable",
                headers={"retry-after": "1"},
            )
        if res.status == "revoked" and res.record is not None:
            ex.account_id, ex.org_id = res.record.account_id, res.record.org_id
            ex.api_key_id = res.record.key_id
            return self.error(ex, 401, "This API key has been revoked.", "revoked_api_key")
        return self.error(ex, 401, "Incorrect API key provided.", "invalid_api_key")

    def _parse(
        self, body: bytes, ex: Exchange
    ) -> tuple[dict[str, Any] | None, Any, Response | None]:
        try:
            obj = _dec.decode(body)
        except msgspec.DecodeError as exc:
            return (
                None,
                None,
                self.error(ex, 400, f"We could not parse the JSON body: {exc}", "invalid_json"),
            )
        if not isinstance(obj, dict):
            return (
                None,
                None,
                self.error(ex, 400, "The request body must be a JSON object.", "invalid_json"),
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
                self.error(
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
            ex.prompt = req.prompt if isinstance(req.prompt, str) else joined(req.prompt)
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
            ex.prompt = req.input if isinstance(req.input, str) else joined(req.input)

    def _subjects(self, ex: Exchange, override: LimitOverride | None) -> list[Subject]:
        out = []
        for scope, sid in (("key", ex.api_key_id), ("account", ex.account_id), ("org", ex.org_id)):
            if not sid:
                continue
            lim = self._limits[scope]
            if override is not None and scope == "account":
                lim = Limits(
                    tighter(lim.rpm, override.rpm),
                    tighter(lim.tpm, override.tpm),
                    tighter(lim.concurrency, override.concurrency),
                )
            if lim.any():
                out.append(Subject(scope, sid, lim))
        return out

    async def _handle(self, request: Incoming, ex: Exchange) -> Response:
        try:
            body = await self._read_body(request)
        except _BodyTooLarge:
            return self.error(
                ex,
                413,
                f"Request body is larger than the limit of {self.config.body_max_bytes} bytes.",
                "request_too_large",
            )
        except TimeoutError:
            return self.error(ex, 408, "Timed out reading the request body.", "body_timeout")
        denied = await self._authenticate(request, ex)
        if denied is not None:
            return denied
        obj, req, bad = self._parse(body, ex)
        if bad is not None or obj is None:
            return bad or self.error(ex, 400, "Invalid request.", "invalid_request")
        if self.models and ex.model not in self.models:
            return self.error(
                ex,
                404,
                f"The model '{ex.model}' does not exist.",
                "model_not_found",
                param="model",
            )
        now = time.time()
        enf = self._resolve(self.policy.lookup(ex.account_id, ex.org_id, now))
        ex.decision = dict(enf.record)
        ex.observed_at = now  # the account state and signals are added when it finishes
        self.metrics.child(self.metrics.decisions, ex.decision.get("action", "allow")).inc()
        if enf.refusal is not None:
            r = enf.refusal
            return self.error(ex, r.status, r.message, r.code)
        subjects = self._subjects(ex, enf.limits)
        cost = estimate_tokens(body)
        try:
            ld = await self.limiter.acquire(subjects, ex.request_id, cost)
        except LimiterUnavailable:
            self.metrics.degraded.labels("redis").inc()
            return self.error(
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
            return self.error(
                ex,
                429,
                f"Rate limit reached for {ld.scope} ({ld.dimension} per minute: "
                f"{ld.limit}). Retry after {math.ceil(ld.retry_after_s)} s.",
                "rate_limit_exceeded",
                headers=limit_headers(ld, retry=True),
            )
        release = Release(self, subjects, ex, cost, ld.backend)
        try:
            resp = await forward(self, obj, body, ex, enf, ld, release)
        except BaseException:
            release.fire()
            raise
        if not isinstance(resp, RelayResponse):
            release.fire()
        return resp

    def _inline_state(self, ex: Exchange, now: float) -> None:
        prompt, context = prompt_and_context(ex)
        ex.decision["state"] = self.state.observe(ex.account_id, prompt, now)
        if self._signals:
            ex.decision["signals"] = run_signals(self._signals, prompt, context)

    async def models_route(self, request: Incoming) -> Response:
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
