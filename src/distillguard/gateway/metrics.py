"""Prometheus metrics of one gateway process (``GET /metrics``).

Label names follow the OpenTelemetry GenAI semantic conventions with dots as underscores:
``gen_ai_operation_name`` (``chat``, ``text_completion``, ``embeddings``),
``gen_ai_request_model``, ``gen_ai_token_type`` (``input``, ``output``), and
``http_response_status_code``; the request-duration histogram is
``gen_ai_server_request_duration_seconds`` (OTel ``gen_ai.server.request.duration``). Each
worker process exports its own series; Prometheus sums them across replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_FINE = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1)


class GatewayMetrics:
    """The gateway's metrics, in their own registry (tests can build several)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        op = ["gen_ai_operation_name", "gen_ai_request_model", "http_response_status_code"]
        self.requests = Counter("distillguard_gateway_requests", "Requests handled", op, registry=r)
        self.duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "End-to-end request duration",
            op,
            buckets=_BUCKETS,
            registry=r,
        )
        self.added = Histogram(
            "distillguard_gateway_added_latency_seconds",
            "Time spent in the gateway itself (end-to-end minus upstream), non-streaming",
            ["gen_ai_operation_name"],
            buckets=_FINE,
            registry=r,
        )
        self.tokens = Counter(
            "gen_ai_server_token_usage",
            "Tokens",
            ["gen_ai_request_model", "gen_ai_token_type"],
            registry=r,
        )
        self.decisions = Counter(
            "distillguard_gateway_decisions", "Policy decisions applied", ["action"], registry=r
        )
        self.limit_hits = Counter(
            "distillguard_gateway_limit_hits",
            "Requests refused by a limit",
            ["scope", "dimension"],
            registry=r,
        )
        self.degraded = Counter(
            "distillguard_gateway_degraded_requests",
            "Requests served in degraded mode because a dependency failed",
            ["dependency"],
            registry=r,
        )
        self.disconnects = Counter(
            "distillguard_gateway_client_disconnects",
            "Clients that went away mid-request",
            registry=r,
        )
        self.upstream_errors = Counter(
            "distillguard_gateway_upstream_errors", "Upstream failures", ["error_type"], registry=r
        )
        self.events = Counter(
            "distillguard_gateway_events_spooled", "Events appended to the spool", registry=r
        )
        self.dependency_up = Gauge(
            "distillguard_gateway_dependency_up",
            "1 when a dependency is healthy",
            ["dependency"],
            registry=r,
        )

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, bound once per label set (prometheus_client's
        ``labels`` validates and hashes on every call; label sets here are bounded)."""
        k = (metric._name, values)  # noqa: SLF001 - the metric's own name keys the cache
        c = self._children.get(k)
        if c is None:
            c = self._children[k] = metric.labels(*values)
        return c

    def gauge(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        """Register a gauge computed at scrape time (spool depth, lost events)."""
        Gauge(name, doc, registry=self.registry).set_function(fn)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
