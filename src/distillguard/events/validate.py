"""Validation and normalisation of canonical events, with errors that name the field."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from distillguard.errors import RecordError
from distillguard.events.model import KNOWN_FIELDS, KNOWN_NESTED, Account, Client, Event

#: Epoch values above this are taken as milliseconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 1e11
#: Accepted range of timestamps: 1990-01-01 .. 2200-01-01.
_TS_MIN = 631152000.0
_TS_MAX = 7258118400.0
_ASN_RE = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)
#: Largest accepted prompt/response text per field, in characters (configurable at ingest).
DEFAULT_MAX_TEXT_CHARS = 1_000_000

_decoder = msgspec.json.Decoder()


def _path_of(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's ``"Expected ... - at `$.a.b`"`` into (field, reason)."""
    msg = str(exc)
    field = ""
    if " - at `$" in msg:
        msg, _, path = msg.partition(" - at `$")
        field = path.rstrip("`").lstrip(".")
    return field, msg


def _to_utc(value: datetime | float | int, field: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, bool):
        raise RecordError("expected a timestamp, got a boolean", field=field)
    seconds = float(value)
    if seconds > _EPOCH_MS_THRESHOLD:
        seconds /= 1000.0
    if not (_TS_MIN <= seconds <= _TS_MAX):
        raise RecordError(
            f"epoch timestamp {value!r} is outside 1990..2200 (seconds or milliseconds expected)",
            field=field,
        )
    return datetime.fromtimestamp(seconds, tz=UTC)


def normalise(event: Event) -> Event:
    """Check the semantic rules msgspec cannot express and normalise in place.

    Timestamps become aware UTC datetimes, ``account_id`` is stripped and must not be empty,
    an ASN like ``"AS13335"`` becomes ``13335``.

    Raises:
        RecordError: naming the offending field.
    """
    event.ts = _to_utc(event.ts, "ts")
    account_id = event.account_id.strip()
    if not account_id:
        raise RecordError("account_id is empty", field="account_id")
    event.account_id = account_id
    acct: Account | None = event.account
    if acct is not None and acct.created_at is not None:
        acct.created_at = _to_utc(acct.created_at, "account.created_at")
    client: Client | None = event.client
    if client is not None and isinstance(client.asn, str):
        client.asn = asn_number(client.asn)
    return event


def asn_number(value: str) -> int:
    """The number of an ASN given as text: ``"AS13335"``, ``"as13335"`` or ``"13335"``.

    Raises:
        RecordError: not a number or ``AS<number>`` (field ``client.asn``).
    """
    m = _ASN_RE.match(value.strip())
    if m is None:
        raise RecordError(f"ASN {value!r} is not a number or 'AS<number>'", field="client.asn")
    return int(m.group(1))


def _split_extra(obj: dict[str, Any]) -> dict[str, Any]:
    """Remove unknown keys from ``obj`` (and its known sub-objects) and return them."""
    extra: dict[str, Any] = {}
    for key in [k for k in obj if k not in KNOWN_FIELDS]:
        extra[key] = obj.pop(key)
    for name, known in KNOWN_NESTED.items():
        sub = obj.get(name)
        if isinstance(sub, dict):
            for key in [k for k in sub if k not in known]:
                extra[f"{name}.{key}"] = sub.pop(key)
    given = obj.get("extra")
    if isinstance(given, dict):
        given.update(extra)
        return given
    return extra


def event_from_obj(obj: Any, *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> Event:
    """Validate a decoded JSON value as a canonical event.

    Raises:
        RecordError: with the dotted field path when one field is wrong.
    """
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    extra = _split_extra(obj)
    obj["extra"] = extra
    try:
        event = msgspec.convert(obj, Event)
    except msgspec.ValidationError as exc:
        field, reason = _path_of(exc)
        raise RecordError(reason, field=field) from None
    _check_text_sizes(event, max_text_chars)
    return normalise(event)


def _check_text_sizes(event: Event, limit: int) -> None:
    if event.prompt is not None and len(event.prompt) > limit:
        raise RecordError(
            f"prompt has {len(event.prompt):,} characters, over the limit of {limit:,}",
            field="prompt",
        )
    for i, msg in enumerate(event.messages or ()):
        if isinstance(msg.content, str) and len(msg.content) > limit:
            raise RecordError(
                f"message content has {len(msg.content):,} characters, over the limit of {limit:,}",
                field=f"messages[{i}].content",
            )
    if event.response is not None and event.response.text and len(event.response.text) > limit:
        raise RecordError(
            f"response text has {len(event.response.text):,} characters, "
            f"over the limit of {limit:,}",
            field="response.text",
        )


def decode_event(line: bytes | str, *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> Event:
    """Decode and validate one JSON line.

    Raises:
        RecordError: the line is not JSON, not UTF-8, or not a valid event.
    """
    try:
        obj = _decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise RecordError(f"not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise RecordError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    return event_from_obj(obj, max_text_chars=max_text_chars)


_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    """Encode an event as one canonical JSON line (no trailing newline)."""
    return _encoder.encode(event)


def content_hash(event: Event) -> str:
    """A stable id for an event without ``request_id``: BLAKE2b of its canonical JSON."""
    return hashlib.blake2b(_encoder.encode(event), digest_size=16).hexdigest()


def event_id(event: Event) -> str:
    """The idempotency key: ``request_id`` when present, else a content hash."""
    return event.request_id if event.request_id else "h:" + content_hash(event)
