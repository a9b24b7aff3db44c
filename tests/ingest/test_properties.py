"""Property-based tests of the JSONL reader and the ingest counts."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.events import Event, decode_event, encode_event
from distillguard.ingest import Rejected, ingest_paths, iter_events
from distillguard.store import DuckDBStore

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)
_ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "ts": draw(
            st.one_of(
                st.integers(631152000, 7258118400),
                st.integers(631152000000, 7258118400000),
                st.datetimes(
                    min_value=__import__("datetime").datetime(1991, 1, 1),
                    max_value=__import__("datetime").datetime(2199, 1, 1),
                ).map(lambda d: d.isoformat() + "Z"),
            )
        ),
        "account_id": draw(_ident),
    }
    if draw(st.booleans()):
        obj["request_id"] = draw(_ident)
    if draw(st.booleans()):
        obj["messages"] = [
            {"role": r, "content": c}
            for r, c in draw(
                st.lists(
                    st.tuples(st.sampled_from(["user", "system"]), _text), min_size=1, max_size=3
                )
            )
        ]
    elif draw(st.booleans()):
        obj["prompt"] = draw(_text)
    if draw(st.booleans()):
        obj["usage"] = {"input_tokens": draw(st.integers(0, 10**6))}
    if draw(st.booleans()):
        obj["x_custom"] = draw(st.one_of(_text, st.integers(), st.booleans()))
    return obj


_garbage = st.one_of(
    st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and b.strip() != b""),
    st.just(b"[1,2]"),
    st.just(b'{"ts": "yesterday", "account_id": "a"}'),
    st.just(b'{"account_id": "no-ts"}'),
)

_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _write(lines: list[bytes]) -> Path:
    fd, name = tempfile.mkstemp(suffix=".jsonl")
    with open(fd, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    return Path(name)


@_settings
@given(st.lists(events(), max_size=25))
def test_valid_events_round_trip(objs: list[dict[str, Any]]) -> None:
    enc = msgspec.json.Encoder()
    path = _write([enc.encode(o) for o in objs])
    try:
        got = list(iter_events(path, fmt="jsonl"))
        assert all(isinstance(e, Event) for e in got)
        assert got == [decode_event(enc.encode(o)) for o in objs]
        again = _write([encode_event(e) for e in got if isinstance(e, Event)])
        try:
            assert list(iter_events(again, fmt="jsonl")) == got
        finally:
            again.unlink()
    finally:
        path.unlink()


@_settings
@given(st.lists(st.tuples(st.booleans(), events(), _garbage), max_size=25))
def test_garbage_never_loses_valid_lines_and_counts_add_up(
    mix: list[tuple[bool, dict[str, Any], bytes]],
) -> None:
    enc = msgspec.json.Encoder()
    lines = [enc.encode(ev) if valid else junk for valid, ev, junk in mix]
    valid_ids = {decode_event(enc.encode(ev)).request_id or "" for valid, ev, _ in mix if valid}
    path = _write(lines)
    try:
        with DuckDBStore(":memory:") as store:
            rep = ingest_paths([path], store, fmt="jsonl")
            assert rep.read == len(mix)
            assert rep.read == rep.accepted + rep.duplicates + rep.quarantined
            assert rep.accepted + rep.duplicates == sum(1 for v, _, _ in mix if v)
            stored = {
                r["request_id"] or ""
                for r in store.sql("SELECT request_id FROM events").to_pylist()
            }
            assert valid_ids <= stored | {""}
        items = list(iter_events(path, fmt="jsonl"))
        bad_lines = [i.line for i in items if isinstance(i, Rejected)]
        assert bad_lines == [n + 1 for n, (v, _, _) in enumerate(mix) if not v]
    finally:
        path.unlink()
