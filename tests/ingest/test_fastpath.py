"""The block fast path stores exactly what the per-line path stores (differential tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.cli import cli
from distillguard.errors import RecordError
from distillguard.events import ARROW_SCHEMA
from distillguard.events.validate import _to_utc
from distillguard.ingest import fastpath, ingest_paths, read_quarantine
from distillguard.ingest.fastpath import (
    _EPOCH,
    _FAST,
    _SLOW,
    _US,
    _Fields,
    _quick_us,
    _scan,
    default_parser,
    flatten_block,
)
from distillguard.ingest.jsonl import flatten_lines
from distillguard.sim.engine import simulate
from distillguard.sim.scenario import load_scenario
from distillguard.store import DuckDBStore

LIMIT = 1_000_000


def _same(lines: list[bytes], keep_text: bool, limit: int = LIMIT, first: int = 1) -> None:
    """flatten_block and flatten_lines agree on rows, types, rejections and counts."""
    slow = flatten_lines(first, lines, "f.jsonl", limit, keep_text)
    fast = flatten_block(first, lines, "f.jsonl", limit, keep_text, min_fast_rows=1)
    assert fast[0].schema == ARROW_SCHEMA
    assert fast[0].schema == slow[0].schema
    assert fast[0].to_pylist() == slow[0].to_pylist()
    assert fast[0].equals(slow[0])
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]


@pytest.fixture(scope="module")
def sim_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate(load_scenario("demo-week"), out, seed=3, scale=0.01)
    return res.events_path.read_bytes().split(b"\n")


@pytest.mark.parametrize("keep_text", [False, True])
def test_simulator_output_identical(sim_lines: list[bytes], keep_text: bool) -> None:
    _same(sim_lines, keep_text)


def test_simulator_output_takes_the_fast_path(sim_lines: list[bytes]) -> None:
    kinds = _scan(sim_lines, LIMIT, False, _Fields())
    assert kinds.count(_SLOW) == 0
    clean = [line for line in sim_lines if line.strip()]
    assert kinds.count(_FAST) == len(clean)
    assert default_parser().parse(b"\n".join(clean), False).num_rows == len(clean)


def test_bad_and_odd_lines_go_per_line_with_exact_locations(sim_lines: list[bytes]) -> None:
    lines = list(sim_lines[:400])
    lines[5] = b'{"ts": "yesterday", "account_id": "a"}'
    lines[6] = b"not json"
    lines[7] = b'{"ts": 1767225600, "account_id": "a"} {"ts": 1767225600, "account_id": "b"}'
    lines[150] = lines[150][:-1] + b', "tenant": "t1"}'  # unknown field: kept in extra
    lines[151] = b""
    lines[152] = b'{"ts": 1767225600, "account_id": "  padded  ", "client": {"asn": " as7 "}}'
    lines[300] = b'{"ts": 1767225600, "account_id": "a", "messages": [{"role": "user", '
    lines[300] += b'"content": [{"type": "text", "text": "hi"}]}]}'
    kinds = _scan(lines, LIMIT, False, _Fields())
    assert [i for i, k in enumerate(kinds) if k == _SLOW] == [5, 6, 7, 150, 300]
    _same(lines, keep_text=False, first=1001)
    table, rejects, read = flatten_block(1001, lines, "f.jsonl", LIMIT, False)
    assert [(r[0], r[1]) for r in rejects] == [(1006, "ts"), (1007, ""), (1008, "")]
    assert read == sum(1 for line in lines if line.strip())


def test_whole_file_identical_stores_and_quarantine(sim_lines: list[bytes], tmp_path: Path) -> None:
    lines = list(sim_lines)
    for i in range(7, len(lines) - 1, 97):
        lines[i] = b'{"ts": "2026-13-01T00:00:00Z", "account_id": "x"}'
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines))
    got = {}
    for fast in (True, False):
        q = tmp_path / f"q-{fast}.jsonl"
        with DuckDBStore(":memory:") as store:
            rep = ingest_paths([src], store, quarantine=q, fast_path=fast, keep_text=True)
            table = store.sql("SELECT * FROM events ORDER BY event_id, ts")
        quarantined = [(r.source, r.line, r.field, r.reason, r.raw) for r in read_quarantine(q)]
        got[fast] = ((rep.read, rep.accepted, rep.duplicates, rep.quarantined), table, quarantined)
    assert got[True][0] == got[False][0]
    assert got[True][0][3] == len(range(7, len(lines) - 1, 97))
    assert got[True][1].schema == got[False][1].schema
    assert got[True][1].equals(got[False][1])
    assert got[True][2] == got[False][2]


def test_text_over_the_limit_is_rejected_the_same_way(sim_lines: list[bytes]) -> None:
    _same(sim_lines[:300], keep_text=True, limit=120)


# --- hypothesis: records with every field shape, valid and not, mixed with garbage ----------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_ident = st.text(alphabet="abcdefghij0123456789-_ ", min_size=0, max_size=8)
_int64 = st.integers(-(2**63), 2**63 - 1)
_float = st.floats(allow_nan=False, allow_infinity=False)
_tz = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)


@st.composite
def _timestamp(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.integers(631152000, 7258118400))
    if kind == 1:
        return draw(st.integers(631152000000, 7258118400000))
    if kind == 2:
        return draw(st.floats(631152000.0, 7258118400.0))
    if kind == 3:
        return draw(st.floats(1e11, 7e12))
    if kind == 4:
        return draw(st.integers(0, 10**13))  # often out of range: rejected
    dt = draw(st.datetimes(datetime(1991, 1, 1), datetime(2199, 1, 1), timezones=_tz))
    text = dt.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "auto"])))
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


def _maybe(draw: st.DrawFn, obj: dict[str, Any], key: str, strategy: Any) -> None:
    if draw(st.booleans()):
        obj[key] = draw(strategy)


@st.composite
def _record(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {"ts": draw(_timestamp()), "account_id": draw(_ident)}
    for key in ("request_id", "org_id", "api_key_id", "endpoint", "model"):
        _maybe(draw, obj, key, st.one_of(st.none(), _ident))
    shape = draw(st.integers(0, 3))
    if shape == 1:
        obj["prompt"] = draw(_text)
    elif shape >= 2:
        content = st.one_of(
            st.none(),
            _text,
            st.just([{"type": "text", "text": "part"}]),
        )
        roles = st.sampled_from(["user", "system", "assistant"])
        obj["messages"] = [
            {"role": r, "content": c}
            for r, c in draw(st.lists(st.tuples(roles, content), max_size=4))
        ]
    if draw(st.booleans()):
        obj["client"] = {}
        _maybe(draw, obj["client"], "ip", _ident)
        _maybe(draw, obj["client"], "asn", st.one_of(st.integers(0, 2**31), st.just("AS13335")))
        _maybe(draw, obj["client"], "asn", st.sampled_from([" as7 ", "ASX", "12"]))
        _maybe(draw, obj["client"], "country", st.one_of(st.none(), _ident))
    if draw(st.booleans()):
        obj["account"] = {}
        _maybe(draw, obj["account"], "created_at", _timestamp())
        _maybe(draw, obj["account"], "verified", st.booleans())
        _maybe(draw, obj["account"], "tier", _ident)
    if draw(st.booleans()):
        obj["params"] = {}
        _maybe(draw, obj["params"], "temperature", st.one_of(_float, st.integers(0, 3)))
        _maybe(draw, obj["params"], "max_tokens", _int64)
        _maybe(draw, obj["params"], "stream", st.booleans())
        tool = st.one_of(
            st.builds(lambda n: {"type": "function", "function": {"name": n}}, _ident),
            st.builds(lambda n: {"name": n, "x": [1, {"y": None}]}, _ident),
            st.just({"function": "odd"}),
            st.just(7),
        )
        _maybe(draw, obj["params"], "tools", st.lists(tool, max_size=3))
    if draw(st.booleans()):
        obj["response"] = {"text": draw(st.one_of(st.none(), _text)), "finish_reason": "stop"}
    if draw(st.booleans()):
        obj["usage"] = {"input_tokens": draw(st.integers(0, 10**6))}
    _maybe(draw, obj, "status", st.one_of(st.integers(100, 599), st.just("200")))
    _maybe(draw, obj, "latency_ms", _float)
    odd = draw(st.integers(0, 12))
    if odd == 0:
        obj["x_custom"] = draw(st.one_of(_text, st.integers()))
    elif odd == 1:
        obj["decision"] = {"action": "allow", "score": 0.5}
    elif odd == 2:
        obj["extra"] = {"k": "v"}
    elif odd == 3:
        obj["params"] = {"temperature": "hot"}
    return obj


_garbage = st.sampled_from(
    [b"[1,2]", b"{", b"null", b'{"account_id": "no-ts"}', b"  ", b"", b"\xff\xfe{}"]
)


def _encode(obj: dict[str, Any], spaced: bool) -> bytes:
    if spaced:
        return json.dumps(obj, ensure_ascii=False).encode()
    return msgspec.json.encode(obj)


_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    st.lists(st.one_of(st.tuples(_record(), st.booleans()), _garbage), min_size=1, max_size=30),
    st.booleans(),
)
def test_random_records_identical(items: list[Any], keep_text: bool) -> None:
    lines = [x if isinstance(x, bytes) else _encode(x[0], x[1]) for x in items]
    _same(lines, keep_text)


@_settings
@given(st.lists(st.tuples(_record(), st.booleans()), min_size=1, max_size=30))
def test_random_records_identical_small_limit(items: list[Any]) -> None:
    _same([_encode(o, s) for o, s in items], keep_text=True, limit=12)


def test_empty_and_blank_blocks() -> None:
    _same([], keep_text=False)
    _same([b"", b"   ", b""], keep_text=False)
    table, rejects, read = flatten_block(1, [b""], "f", LIMIT, False)
    assert (table.num_rows, rejects, read) == (0, [], 0)
    assert isinstance(table, pa.Table)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(6e8, 7.3e9),
        st.floats(6e11, 7.3e12),
        st.integers(6 * 10**8, 73 * 10**11),
        st.datetimes(datetime(1991, 1, 1), datetime(2199, 1, 1), timezones=st.just(UTC)),
    )
)
def test_quick_timestamps_match_normalise(value: Any) -> None:
    quick = _quick_us(value)
    try:
        ref = (_to_utc(value, "ts") - _EPOCH) // _US
    except RecordError:
        assert quick is None
        return
    assert quick == ref


# --- choosing the path: CLI flag, [ingest] fast_path, the API option ------------------------


@pytest.fixture()
def block_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the lines of the blocks that went through the fast path's validation stage."""
    calls: list[int] = []
    real = fastpath.scan_block

    def spy(first: int, lines: list[bytes], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(lines))
        return real(first, lines, *args, **kwargs)

    monkeypatch.setattr(fastpath, "scan_block", spy)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    monkeypatch.delenv("DISTILLGUARD_INGEST_FAST_PATH", raising=False)
    return calls


@pytest.mark.parametrize(
    ("args", "env", "fast"),
    [
        ([], None, True),
        (["--no-fast-path"], None, False),
        ([], "false", False),
        (["--fast-path"], "false", True),
    ],
)
def test_cli_flag_and_config_choose_the_path(
    sim_lines: list[bytes],
    tmp_path: Path,
    block_calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    fast: bool,
) -> None:
    if env is not None:
        monkeypatch.setenv("DISTILLGUARD_INGEST_FAST_PATH", env)
    src = tmp_path / "e.jsonl"
    src.write_bytes(b"\n".join(sim_lines[:500]))
    db = tmp_path / "d.duckdb"
    res = CliRunner().invoke(cli, ["ingest", str(src), "--db", str(db), "--no-progress", *args])
    assert res.exit_code == 0, res.output
    assert bool(block_calls) is fast
    with DuckDBStore(db, read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 500}]


def test_api_option_forces_the_per_line_path(
    sim_lines: list[bytes], tmp_path: Path, block_calls: list[int]
) -> None:
    src = tmp_path / "e.jsonl"
    src.write_bytes(b"\n".join(sim_lines[:200]))
    with DuckDBStore(":memory:") as store:
        ingest_paths([src], store, fast_path=False)
    assert block_calls == []
    with DuckDBStore(":memory:") as store:
        ingest_paths([src], store)
    assert block_calls == [200]


def test_lines_longer_than_duckdbs_default_buffer(sim_lines: list[bytes]) -> None:
    big = msgspec.json.encode({"ts": 1767225600, "account_id": "a", "prompt": "p" * 3_000_000})
    _same([*sim_lines[:100], big, *sim_lines[100:200]], keep_text=True, limit=10_000_000)
    kinds = _scan([big], 10_000_000, True, _Fields())
    assert kinds == bytearray([_FAST])
    assert default_parser().parse(big, True, len(big)).num_rows == 1


# --- the scan loop's inline cases (fourth session): each against the per-line path ---------


def _base(**kw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"ts": 1767225600.5, "account_id": "acct-1", "request_id": "r-1"}
    obj.update(kw)
    return obj


_INLINE_CASES: list[dict[str, Any]] = [
    # float seconds whose fraction rounds up to the next whole second (carry), and halves
    _base(ts=1767225600.9999996),
    _base(ts=1767225600.0000005),
    _base(ts=1767225600.0000015),
    _base(ts=631152000.0),
    _base(ts=7258118400.0),
    _base(ts=7258118400.000001),  # just out of range: rejected
    _base(ts=1767225600123.0),  # milliseconds
    _base(ts=1767225600),
    _base(account={"created_at": "2025-11-02T10:00:00Z"}),
    _base(account={"created_at": "2025-11-02T10:00:00+02:00"}),
    _base(account={"created_at": "2025-11-02T10:00:00"}),
    _base(account={"created_at": 1767225600.9999996}),
    _base(account={"created_at": None, "tier": "free"}),
    # ASN strings with a request id (converted inline) and without (normalise runs)
    _base(client={"asn": "AS24940"}),
    _base(client={"asn": " as7 "}),
    _base(client={"asn": "12"}),
    _base(client={"asn": "ASX"}),
    _base(client={"asn": "AS12345678901"}),
    {"ts": 1767225600.25, "account_id": "a", "client": {"asn": "AS24940"}},
    _base(account_id=" padded "),
    # prompts: the last user turn, else the last message; an explicit prompt wins
    _base(
        messages=[
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "u2"},
        ]
    ),
    _base(messages=[{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]),
    _base(messages=[{"role": "user", "content": None}, {"role": "system", "content": "s"}]),
    _base(messages=[{"role": "user"}]),
    _base(messages=[]),
    _base(prompt="given", messages=[{"role": "user", "content": "u"}]),
    _base(prompt="given", messages=[{"role": "user", "content": [{"type": "text", "text": "p"}]}]),
    _base(
        messages=[{"role": "user", "content": "u"}, {"role": "user", "content": [{"text": "x"}]}]
    ),
    _base(prompt="caf\u00e9 \U0001f600"),
    _base(params={"tools": []}),
    _base(params={"tools": [{"type": "function", "function": {"name": "f"}}, {"name": "g"}, 7]}),
]


@pytest.mark.parametrize("keep_text", [False, True])
def test_inline_cases_identical(keep_text: bool) -> None:
    lines = [msgspec.json.encode(o) for o in _INLINE_CASES]
    _same(lines, keep_text)
    kinds = _scan(lines, LIMIT, keep_text, _Fields())
    # the inline conversions keep clean lines on the fast path
    assert kinds[0] == _FAST and kinds[13] == _FAST and kinds[20] == _FAST
    assert kinds[5] == _SLOW and kinds[16] == _SLOW  # out of range ts, "ASX": per line


def _runs_reference(kinds: bytearray, min_rows: int) -> list[tuple[bool, int, int]]:
    """The line-by-line definition of fastpath._runs (which jumps with bytearray.find)."""
    runs: list[tuple[bool, int, int]] = []
    start = 0
    while start < len(kinds):
        slow = kinds[start] == _SLOW
        end = start + 1
        while end < len(kinds) and (kinds[end] == _SLOW) == slow:
            end += 1
        runs.append((not slow, start, end))
        start = end
    merged: list[tuple[bool, int, int]] = []
    for fast, s, e in runs:
        fast = fast and kinds.count(_FAST, s, e) >= min_rows
        if merged and merged[-1][0] == fast:
            merged[-1] = (fast, merged[-1][1], e)
        else:
            merged.append((fast, s, e))
    return merged


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([0, _FAST, _SLOW]), max_size=60), st.sampled_from([1, 2, 3, 64]))
def test_runs_match_their_definition(kinds: list[int], min_rows: int) -> None:
    assert fastpath._runs(bytearray(kinds), min_rows) == _runs_reference(bytearray(kinds), min_rows)
