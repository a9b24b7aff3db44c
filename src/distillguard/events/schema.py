"""The flat, columnar form of an event, shared by the store, ingest, gateway and the scan.

One definition of the columns (name, DuckDB type, Arrow type) lives here so that every writer
and reader agrees. Text columns (``prompt_text``, ``context_text``, ``response_text``) are
filled only when the caller asks to keep text (``keep_text=True``); everything else, including
a short keyed-free digest of the prompt used for de-duplication, is always kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import pyarrow as pa

from distillguard.events.model import Event, Message
from distillguard.events.validate import event_id


@dataclass(frozen=True, slots=True)
class Column:
    """One stored column."""

    name: str
    sql: str
    arrow: pa.DataType
    doc: str


_TS = pa.timestamp("us", tz="UTC")

COLUMNS: tuple[Column, ...] = (
    Column("event_id", "VARCHAR", pa.string(), "request_id, or 'h:' + content hash"),
    Column("request_id", "VARCHAR", pa.string(), "caller- or gateway-assigned request id"),
    Column("ts", "TIMESTAMPTZ", _TS, "when the request arrived (UTC)"),
    Column("account_id", "VARCHAR", pa.string(), "the account that sent it"),
    Column("org_id", "VARCHAR", pa.string(), "organisation of the account"),
    Column("api_key_id", "VARCHAR", pa.string(), "id (never the secret) of the API key used"),
    Column("endpoint", "VARCHAR", pa.string(), "e.g. /v1/chat/completions"),
    Column("model", "VARCHAR", pa.string(), "model name requested"),
    Column("client_ip", "VARCHAR", pa.string(), "caller IP"),
    Column("client_user_agent", "VARCHAR", pa.string(), "caller User-Agent"),
    Column("client_asn", "BIGINT", pa.int64(), "autonomous system number of the caller IP"),
    Column("client_country", "VARCHAR", pa.string(), "country of the caller IP"),
    Column("account_created_at", "TIMESTAMPTZ", _TS, "account creation time"),
    Column("account_email_domain", "VARCHAR", pa.string(), "domain of the account e-mail"),
    Column("account_payment_fingerprint", "VARCHAR", pa.string(), "payment instrument fingerprint"),
    Column("account_tier", "VARCHAR", pa.string(), "billing or usage tier"),
    Column("account_verified", "BOOLEAN", pa.bool_(), "identity verified"),
    Column("param_temperature", "DOUBLE", pa.float64(), "sampling temperature"),
    Column("param_top_p", "DOUBLE", pa.float64(), "nucleus sampling"),
    Column("param_max_tokens", "BIGINT", pa.int64(), "max_tokens asked for"),
    Column("param_n", "BIGINT", pa.int64(), "completions per request"),
    Column("param_logprobs", "BOOLEAN", pa.bool_(), "logprobs asked for"),
    Column("param_top_logprobs", "BIGINT", pa.int64(), "top_logprobs asked for"),
    Column("param_stream", "BOOLEAN", pa.bool_(), "streaming asked for"),
    Column("param_seed", "BIGINT", pa.int64(), "seed"),
    Column("param_reasoning_effort", "VARCHAR", pa.string(), "reasoning effort asked for"),
    Column("param_tool_count", "BIGINT", pa.int64(), "number of tool schemas sent"),
    Column("param_tool_names", "VARCHAR", pa.string(), "comma-separated tool names"),
    Column("n_messages", "BIGINT", pa.int64(), "messages in the request"),
    Column("prompt_chars", "BIGINT", pa.int64(), "length of the prompt text"),
    Column("prompt_digest", "VARCHAR", pa.string(), "BLAKE2b-64 of the prompt text (dedupe)"),
    Column("prompt_text", "VARCHAR", pa.string(), "last user turn or prompt (if kept)"),
    Column("context_text", "VARCHAR", pa.string(), "system prompt and earlier turns (if kept)"),
    Column("response_text", "VARCHAR", pa.string(), "answer text (if kept)"),
    Column("response_chars", "BIGINT", pa.int64(), "length of the answer text"),
    Column("finish_reason", "VARCHAR", pa.string(), "stop, length, ..."),
    Column("input_tokens", "BIGINT", pa.int64(), "prompt tokens"),
    Column("output_tokens", "BIGINT", pa.int64(), "completion tokens"),
    Column("reasoning_tokens", "BIGINT", pa.int64(), "reasoning tokens"),
    Column("status", "BIGINT", pa.int64(), "HTTP status"),
    Column("latency_ms", "DOUBLE", pa.float64(), "end-to-end latency"),
    Column("decision", "VARCHAR", pa.string(), "gateway decision as JSON, if any"),
    Column("extra", "VARCHAR", pa.string(), "unknown fields, as JSON"),
    Column("source", "VARCHAR", pa.string(), "file (or gateway) the event came from"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
ARROW_SCHEMA: pa.Schema = pa.schema([pa.field(c.name, c.arrow) for c in COLUMNS])

_json = msgspec.json.Encoder()


def _content_text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(p for p in parts if isinstance(p, str))


def split_prompt(event: Event) -> tuple[str | None, str | None]:
    """Return (prompt, context): the last user turn (or ``prompt``) and everything before it.

    Both are None in privacy mode (no text logged).
    """
    if event.prompt is not None:
        return event.prompt, None
    msgs: list[Message] | None = event.messages
    if not msgs:
        return None, None
    last_user = max((i for i, m in enumerate(msgs) if m.role == "user"), default=len(msgs) - 1)
    prompt = _content_text(msgs[last_user].content)
    ctx = [f"[{m.role}] {_content_text(m.content)}" for i, m in enumerate(msgs) if i != last_user]
    return prompt, ("\n".join(ctx) if ctx else None)


def prompt_digest(text: str) -> str:
    """A short digest of prompt text, used to de-duplicate identical prompts."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _tool_names(tools: list[Any] | None) -> str | None:
    if not tools:
        return None
    names: list[str] = []
    for tool in tools:
        if isinstance(tool, dict):
            fn = tool.get("function")
            name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return ",".join(names) if names else None


def event_row(event: Event, *, keep_text: bool, source: str = "") -> tuple[Any, ...]:
    """Flatten a normalised event to a tuple in :data:`COLUMNS` order."""
    c, a, p, r, u = event.client, event.account, event.params, event.response, event.usage
    prompt, context = split_prompt(event)
    response_text = r.text if r is not None else None
    ts = event.ts
    created = a.created_at if a is not None else None
    return (
        event_id(event),
        event.request_id,
        ts if isinstance(ts, datetime) else event.ts_utc,
        event.account_id,
        event.org_id,
        event.api_key_id,
        event.endpoint,
        event.model,
        c.ip if c else None,
        c.user_agent if c else None,
        c.asn if c and isinstance(c.asn, int) else None,
        c.country if c else None,
        created if isinstance(created, datetime) else None,
        a.email_domain if a else None,
        a.payment_fingerprint if a else None,
        a.tier if a else None,
        a.verified if a else None,
        p.temperature if p else None,
        p.top_p if p else None,
        p.max_tokens if p else None,
        p.n if p else None,
        p.logprobs if p else None,
        p.top_logprobs if p else None,
        p.stream if p else None,
        p.seed if p else None,
        p.reasoning_effort if p else None,
        len(p.tools) if p and p.tools else None,
        _tool_names(p.tools) if p else None,
        len(event.messages) if event.messages else None,
        len(prompt) if prompt is not None else None,
        prompt_digest(prompt) if prompt is not None else None,
        prompt if keep_text else None,
        context if keep_text else None,
        response_text if keep_text else None,
        len(response_text) if response_text is not None else None,
        r.finish_reason if r else None,
        u.input_tokens if u else None,
        u.output_tokens if u else None,
        u.reasoning_tokens if u else None,
        event.status,
        event.latency_ms,
        _json.encode(event.decision).decode() if event.decision else None,
        _json.encode(event.extra).decode() if event.extra else None,
        source or None,
    )


def rows_to_arrow(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Build an Arrow table (in :data:`ARROW_SCHEMA`) from rows made by :func:`event_row`."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    arrays = [pa.array(col, type=c.arrow) for col, c in zip(cols, COLUMNS, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def events_to_arrow(events: Iterable[Event], *, keep_text: bool, source: str = "") -> pa.Table:
    """Flatten events straight to an Arrow table."""
    return rows_to_arrow([event_row(e, keep_text=keep_text, source=source) for e in events])
