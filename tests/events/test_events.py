from __future__ import annotations

from datetime import UTC, datetime

import pytest

from distillguard.errors import RecordError
from distillguard.events import decode_event, encode_event, event_id, events_to_arrow
from distillguard.events.schema import ARROW_SCHEMA


def test_minimal_event_is_valid() -> None:
    e = decode_event(b'{"ts": 1767225600, "account_id": "a"}')
    assert e.ts == datetime(2026, 1, 1, tzinfo=UTC)
    assert e.account_id == "a"


def test_rfc3339_offset_is_normalised_to_utc() -> None:
    e = decode_event('{"ts": "2026-01-01T10:00:00+02:00", "account_id": "a"}')
    assert e.ts == datetime(2026, 1, 1, 8, tzinfo=UTC)


def test_naive_timestamp_is_taken_as_utc() -> None:
    e = decode_event('{"ts": "2026-01-01T10:00:00", "account_id": "a"}')
    assert e.ts == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_epoch_milliseconds_are_recognised() -> None:
    e = decode_event('{"ts": 1767225600500, "account_id": "a"}')
    assert e.ts == datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"ts": "26/11/2026 10:00", "account_id": "a"}', "ts"),
        ('{"ts": 5, "account_id": "a"}', "ts"),
        ('{"ts": 1767225600, "account_id": "  "}', "account_id"),
        (
            '{"ts": 1767225600, "account_id": "a", "usage": {"input_tokens": "many"}}',
            "usage.input_tokens",
        ),
        ('{"ts": 1767225600, "account_id": "a", "client": {"asn": "cloudflare"}}', "client.asn"),
        # Beyond BIGINT: a bad record naming the field, not an overflow when stored.
        (
            '{"ts": 1767225600, "account_id": "a", "usage": {"input_tokens": 1' + "8" * 19 + "}}",
            "usage.input_tokens",
        ),
        (
            '{"ts": 1767225600, "account_id": "a", "params": {"seed": -9223372036854775809}}',
            "params.seed",
        ),
    ],
)
def test_invalid_field_is_named(line: str, field: str) -> None:
    with pytest.raises(RecordError) as info:
        decode_event(line)
    assert info.value.field == field


def test_missing_account_id_is_reported() -> None:
    with pytest.raises(RecordError, match="account_id"):
        decode_event('{"ts": 1767225600}')


def test_not_json_is_reported() -> None:
    with pytest.raises(RecordError, match="not valid JSON"):
        decode_event(b"{nope")


def test_unknown_fields_are_kept() -> None:
    e = decode_event(
        '{"ts": 1767225600, "account_id": "a", "tenant": "x", "client": {"pop": "fra"}}'
    )
    assert e.extra == {"tenant": "x", "client.pop": "fra"}
    again = decode_event(encode_event(e))
    assert again.extra == e.extra


def test_oversized_prompt_is_refused() -> None:
    with pytest.raises(RecordError) as info:
        decode_event(
            '{"ts": 1767225600, "account_id": "a", "prompt": "' + "x" * 50 + '"}', max_text_chars=10
        )
    assert info.value.field == "prompt"


def test_event_id_prefers_request_id_and_is_stable_otherwise() -> None:
    a = decode_event('{"ts": 1767225600, "account_id": "a", "request_id": "r1"}')
    b = decode_event('{"ts": 1767225600, "account_id": "a", "prompt": "p"}')
    c = decode_event('{"account_id": "a", "prompt": "p", "ts": 1767225600}')
    assert event_id(a) == "r1"
    assert event_id(b) == event_id(c)


def test_flattening_splits_last_user_turn_from_context_and_respects_keep_text() -> None:
    e = decode_event(
        '{"ts": 1767225600, "account_id": "a", "messages": ['
        '{"role": "system", "content": "be terse"}, {"role": "user", "content": "hi"}],'
        '"params": {"tools": [{"type": "function", "function": {"name": "search"}}]}}'
    )
    kept = events_to_arrow([e], keep_text=True).to_pylist()[0]
    assert kept["prompt_text"] == "hi"
    assert kept["context_text"] == "[system] be terse"
    assert kept["param_tool_names"] == "search"
    dropped = events_to_arrow([e], keep_text=False)
    assert dropped.schema == ARROW_SCHEMA
    row = dropped.to_pylist()[0]
    assert row["prompt_text"] is None and row["prompt_chars"] == 2 and row["prompt_digest"]
