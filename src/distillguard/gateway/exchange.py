"""One exchange as the gateway sees it, and its canonical event.

Every request that reaches a ``/v1`` route becomes exactly one event — refused, failed and
client-aborted ones included — built here and appended to the spool when the exchange ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillguard.events.model import Client, Event, Message, Params, Response, Usage
from distillguard.events.validate import encode_event

UNAUTHENTICATED = "unauthenticated"


@dataclass(slots=True)
class Exchange:
    """Mutable record of one request while it is handled."""

    request_id: str
    ts: float
    t0: float
    endpoint: str
    operation: str
    client_ip: str | None = None
    user_agent: str | None = None
    account_id: str = UNAUTHENTICATED
    org_id: str = ""
    api_key_id: str = ""
    model: str | None = None
    messages: list[Message] | None = None
    prompt: str | None = None
    params: Params | None = None
    status: int = 0
    error_code: str = ""
    text_parts: dict[int, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    upstream_s: float = 0.0
    decision: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    #: when the policy saw the request (the account state is updated when it finishes)
    observed_at: float | None = None
    chunks: int = 0

    def add_text(self, choice: int, text: str) -> None:
        """Record answer text of one choice."""
        self.text_parts.setdefault(choice, []).append(text)

    def response_text(self) -> str | None:
        """The answer (first choice), or None if none was seen."""
        parts = self.text_parts.get(0)
        return "".join(parts) if parts else None

    def to_event(self, *, latency_ms: float, capture_text: bool) -> Event:
        """The canonical event of this exchange."""
        text = self.response_text()
        out_tokens = self.output_tokens
        if out_tokens is None and self.chunks:
            out_tokens = self.chunks
        extra = dict(self.extra)
        if self.error_code:
            extra["error_code"] = self.error_code
        extra["operation"] = self.operation
        return Event(
            ts=self.ts,
            account_id=self.account_id,
            request_id=self.request_id,
            org_id=self.org_id or None,
            api_key_id=self.api_key_id or None,
            endpoint=self.endpoint,
            model=self.model,
            messages=self.messages if capture_text else None,
            prompt=self.prompt if capture_text else None,
            client=Client(ip=self.client_ip, user_agent=self.user_agent),
            params=self.params,
            response=(
                Response(text=text if capture_text else None, finish_reason=self.finish_reason)
                if text is not None or self.finish_reason
                else None
            ),
            usage=(
                Usage(
                    input_tokens=self.input_tokens,
                    output_tokens=out_tokens,
                    reasoning_tokens=self.reasoning_tokens,
                )
                if self.input_tokens is not None or out_tokens is not None
                else None
            ),
            status=self.status,
            latency_ms=round(latency_ms, 3),
            decision=self.decision or None,
            extra=extra,
        )

    def encode(self, *, latency_ms: float, capture_text: bool) -> bytes:
        """The event as one JSON line (no newline)."""
        return encode_event(self.to_event(latency_ms=latency_ms, capture_text=capture_text))
