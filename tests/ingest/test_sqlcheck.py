"""The SQL-checked fast path stores exactly what the per-line path stores (differential)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.events import ARROW_SCHEMA
from distillguard.ingest import ingest_paths
from distillguard.ingest.jsonl import flatten_lines
from distillguard.ingest.sqlcheck import SqlChecker, flatten_block_sql
from distillguard.sim.engine import simulate
from distillguard.sim.scenario import load_scenario
from distillguard.store import DuckDBStore
from tests.ingest.test_fastpath import _encode, _garbage, _record, _timestamp

LIMIT = 1_000_000

BASE: dict[str, Any] = {
    "ts": 1767225600.5,
    "account_id": "acct-1",
    "request_id": "req-1",
    "org_id": "org-1",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    "client": {"ip": "10.0.0.1", "asn": 13335, "country": "US"},
    "account": {"created_at": "2025-11-02T10:00:00Z", "tier": "free", "verified": True},
    "params": {"temperature": 0.5, "max_tokens": 100},
    "response": {"text": "hello", "finish_reason": "stop"},
    "usage": {"input_tokens": 3, "output_tokens": 4},
    "status": 200,
    "latency_ms": 12.5,
}


def _line(**changes: Any) -> bytes:
    ev = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        obj = ev
        *parents, leaf = key.split("__")
        for p in parents:
            obj = obj[p]
        if value is _DROP:
            obj.pop(leaf, None)
        else:
            obj[leaf] = value
    return json.dumps(ev).encode()


_DROP = object()


def _same(lines: list[bytes], keep_text: bool, limit: int = LIMIT) -> tuple[int, int]:
    """Both paths agree on rows, types, rejections and counts; returns (rows, rejects)."""
    slow = flatten_lines(1, lines, "f.jsonl", limit, keep_text)
    fast = flatten_block_sql(1, lines, "f.jsonl", limit, keep_text)
    assert fast[0].schema == ARROW_SCHEMA
    assert fast[0].to_pylist() == slow[0].to_pylist()
    assert fast[0].equals(slow[0])
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]
    return fast[0].num_rows, len(fast[1])


def _ok(lines: list[bytes], keep_text: bool = False) -> list[bool]:
    out = SqlChecker().check(lines, LIMIT, keep_text)
    assert out is not None
    return [bool(x) for x in out.column("ok").to_pylist()]


# Each case: a line that the SQL must NOT accept (it goes per line, which decides).
REFUSED = {
    "status as string": _line(status="200"),
    "float for int": _line(status=200.5),
    "5.0 for int": _line(usage__input_tokens=5.0),
    "string for float": _line(latency_ms="12"),
    "int for bool": _line(account__verified=1),
    "number for string": _line(org_id=5),
    "unknown top key": _line(colour="red"),
    "unknown nested key": _line(client__colour="red"),
    "object for client": _line(client="x"),
    "bad ts string": _line(ts="yesterday"),
    "ts out of range": _line(ts=5),
    "ts bool": _line(ts=True),
    "ts lower-case z": _line(ts="2025-11-02t10:00:00z"),
    "ts 7 fraction digits": _line(ts="2025-11-02T10:00:00.1234567Z"),
    "created_at bad": _line(account__created_at="2025-02-30T00:00:00Z"),
    "empty account": _line(account_id="  "),
    "padded account": _line(account_id=" a"),
    "nbsp account": _line(account_id="a\u00a0"),
    "no request_id": _line(request_id=_DROP),
    "asn with spaces": _line(client__asn=" AS1"),
    "asn words": _line(client__asn="cloudflare"),
    "content parts": _line(messages=[{"role": "user", "content": [{"type": "text"}]}]),
    "message without role": _line(messages=[{"content": "x"}]),
    "message unknown key": _line(messages=[{"role": "user", "content": "x", "x": 1}]),
    "message not object": _line(messages=["x"]),
    "message empty object": _line(messages=[{"role": "user"}, {}]),
    "message key with comma": _line(messages=[{"role": "user", "content": "a", "content,name": 5}]),
    "message key with bar": _line(messages=[{"role": "user", "content": "a", "x|role": 5}]),
    "message content number": _line(messages=[{"role": "user", "content": 5}]),
    "message role null": _line(messages=[{"role": None, "content": "a"}]),
    "message name number": _line(messages=[{"role": "user", "name": 1}]),
    "tools": _line(params__tools=[{"function": {"name": "f"}}]),
    "decision": _line(decision={"action": "allow"}),
    "extra": _line(extra={"a": 1}),
    "not an object": b"[1, 2]",
    "trailing comma": _line()[:-1] + b", }",
    "nan": _line().replace(b'"latency_ms": 12.5', b'"latency_ms": NaN'),
    "infinity": _line().replace(b'"latency_ms": 12.5', b'"latency_ms": Infinity'),
    "duplicate key": _line().replace(b'"status": 200', b'"status": 200, "status": 201'),
    "duplicate nested": _line().replace(b'"tier": "free"', b'"tier": "free", "tier": "x"'),
    "duplicate in message": _line().replace(b'"content": "hi"', b'"content": "hi", "role": "x"'),
    "invalid utf-8": _line().replace(b"hello", b"hel\xfflo"),
    "lone surrogate": _line().replace(b"hello", b"\\ud800"),
    "not json": b"{nope",
}

# Each case: a line the SQL accepts (the stored row must equal the per-line path's).
ACCEPTED = {
    "base": _line(),
    "int for float": _line(latency_ms=12),
    "ts epoch int": _line(ts=1767225600),
    "ts epoch ms": _line(ts=1767225600123),
    "ts epoch ms fraction": _line(ts=1767225600123.4567),
    "ts half microsecond": _line(ts=1767225600.0000005),
    "ts iso Z": _line(ts="2026-01-01T00:00:00Z"),
    "ts iso offset": _line(ts="2026-01-01T02:30:00.25+02:30"),
    "ts iso negative offset": _line(ts="2025-12-31T19:00:00.123456-05:00"),
    "ts iso naive": _line(ts="2026-01-01T00:00:00.5"),
    "asn AS string": _line(client__asn="as24940"),
    "asn digits string": _line(client__asn="24940"),
    "null leaves": _line(org_id=None, client__ip=None, params__tools=None, decision=None),
    "null objects": _line(client=None, account=None, params=None, response=None, usage=None),
    "empty objects": _line(client={}, usage={}),
    "prompt field": _line(prompt="p\u00e9\U0001f600", messages=_DROP),
    "no user message": _line(messages=[{"role": "system", "content": None, "name": "n"}]),
    "many turns": _line(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": 'c\n"q"'},
            {"role": "assistant"},
        ]
    ),
    "empty messages": _line(messages=[]),
    "escapes": _line(response__text='tab\t nl\n uni \u00e9 \\ "', org_id="\u2028"),
    "negative and zero": _line(params__seed=-5, params__temperature=-0.0, status=0),
    "string 'null'": _line(org_id="null", account_id="null"),
    "crlf": _line() + b"\r",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_rows_go_per_line(name: str) -> None:
    line = REFUSED[name]
    assert _ok([_line(), line, _line(request_id="r2")]) == [True, False, True]
    for keep_text in (False, True):
        _same([_line(), line, b"", _line(request_id="r2")], keep_text)


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_rows_match_per_line(name: str) -> None:
    line = ACCEPTED[name]
    assert _ok([line]) == [True], name
    for keep_text in (False, True):
        assert _same([line, b"  ", line], keep_text) == (2, 0)


def test_int_beyond_int64_is_refused() -> None:
    # (the per-line path itself fails on it when building the Arrow column: a known gap)
    assert _ok([_line(usage__input_tokens=2**64), _line(status=2**63)]) == [False, False]


def test_text_limit() -> None:
    long = _line(response__text="x" * 50)
    prompt = _line(messages=[{"role": "user", "content": "y" * 50}])
    for line in (long, prompt):
        out = SqlChecker().check([line], 40, False)
        assert out is not None and out.column("ok").to_pylist() == [False]
        assert _same([line, _line()], False, limit=40) == (1, 1)


def test_empty_and_blank_lines() -> None:
    assert flatten_block_sql(1, [b"", b"  ", b"\t"], "f", LIMIT, False)[2] == 0
    _same([b"", _line(), b"", b"", REFUSED["not json"], b""], True)


def test_line_numbers_of_rejections() -> None:
    lines = [_line(request_id=f"r{i}") for i in range(10)]
    lines[3] = REFUSED["bad ts string"]
    lines[7] = b""
    lines[8] = REFUSED["status as string"]
    table, rejects, read = flatten_block_sql(100, lines, "f", LIMIT, False)
    assert [(r[0], r[1]) for r in rejects] == [(103, "ts"), (108, "status")]
    assert (table.num_rows, read) == (7, 9)


@pytest.mark.parametrize("keep_text", [False, True])
def test_simulated_log(tmp_path: Path, keep_text: bool) -> None:
    res = simulate(load_scenario("demo-week"), tmp_path, seed=3, scale=0.01)
    lines = res.events_path.read_bytes().split(b"\n")[:3000]
    _same(lines, keep_text)
    # most simulated lines are decided by the SQL (those with tools go per line)
    ok = _ok([x for x in lines if x.strip()], keep_text)
    assert sum(ok) >= 0.9 * len(ok)


def test_ingest_paths_option(tmp_path: Path) -> None:
    src = tmp_path / "e.jsonl"
    lines = [_line(request_id=f"r{i}", ts=1767225600 + i) for i in range(200)]
    lines[50] = REFUSED["float for int"]
    src.write_bytes(b"\n".join(lines) + b"\n")
    tables = []
    for opts in ({"sql_checks": True}, {"fast_path": False}):
        with DuckDBStore(tmp_path / f"{len(tables)}.duckdb") as store:
            rep = ingest_paths([src], store, **opts)  # type: ignore[arg-type]
            assert (rep.read, rep.accepted, rep.quarantined) == (200, 199, 1)
            tables.append(store.sql("SELECT * EXCLUDE (source) FROM events ORDER BY event_id"))
    assert tables[0].equals(tables[1])


def test_config_switches_the_cli_to_the_sql_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from distillguard.cli import cli
    from distillguard.ingest import sqlcheck

    calls: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return flatten_block_sql(*args, **kwargs)

    monkeypatch.setattr(sqlcheck, "flatten_block_sql", spy)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    src = tmp_path / "e.jsonl"
    src.write_bytes(b"\n".join([_line(), REFUSED["status as string"]]) + b"\n")
    db = str(tmp_path / "d.duckdb")
    args = ["ingest", str(src), "--db", db, "--no-progress"]
    monkeypatch.setenv("DISTILLGUARD_INGEST_SQL_CHECKS", "false")
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert calls == []
    monkeypatch.setenv("DISTILLGUARD_INGEST_SQL_CHECKS", "true")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert calls == [1]
    assert "quarantined" in res.output


_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    st.lists(
        st.one_of(st.tuples(_record(), st.booleans(), st.booleans()), _garbage),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_random_records_identical(items: list[Any], keep_text: bool) -> None:
    lines = []
    for i, x in enumerate(items):
        if isinstance(x, bytes):
            lines.append(x)
            continue
        obj, spaced, with_id = x
        if with_id:
            obj["request_id"] = f"r{i}"
        lines.append(_encode(obj, spaced))
    _same(lines, keep_text)


@_settings
@given(st.lists(st.one_of(_timestamp(), st.floats(1e9, 2e9), st.integers(0, 2**53)), max_size=40))
def test_random_timestamps_identical(values: list[Any]) -> None:
    lines = [_line(request_id=f"r{i}", ts=v, account__created_at=v) for i, v in enumerate(values)]
    _same(lines, keep_text=False)


@_settings
@given(
    st.lists(
        st.one_of(st.floats(631152000.0, 7258118400.0), st.floats(631152000000.0, 7258118400000.0)),
        min_size=1,
        max_size=40,
    )
)
def test_epoch_rounding_matches_fromtimestamp(values: list[float]) -> None:
    # every in-range epoch number is decided by the SQL (none goes per line) and rounds alike
    lines = [_line(request_id=f"r{i}", ts=v, account__created_at=v) for i, v in enumerate(values)]
    assert all(_ok(lines))
    assert _same(lines, keep_text=False) == (len(lines), 0)
