"""The canonical event: one API exchange, as every part of distillguard sees it.

The wire form is one JSON object per line (see docs/events.md). Validation happens once, at
the edge (ingest, gateway), with msgspec: it is the fastest validating decoder we measured
(``benchmarks/bench_events.py``). Unknown fields are kept in :attr:`Event.extra`, never
rejected, so that a provider's own columns survive a round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

#: Integers the store can hold (BIGINT): a larger value is a bad record naming its field,
#: not an overflow while the batch is written.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One chat message in OpenAI's shape; ``content`` may be a string or content parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class Client(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Network facts about the caller."""

    ip: str | None = None
    user_agent: str | None = None
    asn: Int64 | str | None = None
    country: str | None = None


class Account(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Facts about the account at the time of the request."""

    created_at: datetime | float | Int64 | None = None
    email_domain: str | None = None
    payment_fingerprint: str | None = None
    tier: str | None = None
    verified: bool | None = None


class Params(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Sampling and request parameters the caller asked for."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: Int64 | None = None
    n: Int64 | None = None
    logprobs: bool | None = None
    top_logprobs: Int64 | None = None
    stream: bool | None = None
    seed: Int64 | None = None
    reasoning_effort: str | None = None
    tools: list[Any] | None = None


class Response(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the model answered (text only when the provider logs it)."""

    text: str | None = None
    finish_reason: str | None = None


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Token accounting."""

    input_tokens: Int64 | None = None
    output_tokens: Int64 | None = None
    reasoning_tokens: Int64 | None = None


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One API exchange. ``ts`` and ``account_id`` are required; everything else is optional.

    After :func:`distillguard.events.validate.normalise`, ``ts`` and
    ``account.created_at`` are timezone-aware UTC datetimes.
    """

    ts: datetime | float | Int64
    account_id: str
    request_id: str | None = None
    org_id: str | None = None
    api_key_id: str | None = None
    endpoint: str | None = None
    model: str | None = None
    messages: list[Message] | None = None
    prompt: str | None = None
    client: Client | None = None
    account: Account | None = None
    params: Params | None = None
    response: Response | None = None
    usage: Usage | None = None
    status: Int64 | None = None
    latency_ms: float | None = None
    decision: dict[str, Any] | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def ts_utc(self) -> datetime:
        """``ts`` as an aware UTC datetime (valid after normalisation)."""
        ts = self.ts
        if isinstance(ts, datetime):
            return ts
        return datetime.fromtimestamp(float(ts), tz=UTC)


#: Top-level keys with a meaning; anything else lands in ``Event.extra``.
KNOWN_FIELDS: frozenset[str] = frozenset(Event.__struct_fields__)
KNOWN_NESTED: dict[str, frozenset[str]] = {
    "client": frozenset(Client.__struct_fields__),
    "account": frozenset(Account.__struct_fields__),
    "params": frozenset(Params.__struct_fields__),
    "response": frozenset(Response.__struct_fields__),
    "usage": frozenset(Usage.__struct_fields__),
}
