"""The block fast path for canonical JSONL: blocks of lines parsed into Arrow columns.

The per-line path (:func:`distillguard.ingest.jsonl.flatten_lines`) builds one Python tuple
per event. Here a block of lines is handled in stages (overlapped on different blocks by
:func:`distillguard.ingest.parallel.pipelined`):

1. **Validate** (:func:`scan_block`): each line is decoded by the same strict msgspec
   decoder and checked by the same code as the per-line path (text sizes, ``normalise``),
   so every rule and every quirk is literally shared. Only the values whose JSON type
   varies (``ts``, ``account.created_at``, ``client.asn``, ``params.tools``), the prompt's
   length and digest, the lengths and the idempotency key are taken from the struct.
2. **Parse** (:func:`finish_block`): the block's clean lines are parsed again by DuckDB's
   ``read_json`` into typed columns. DuckDB converts between JSON types leniently (``"5"``
   into a BIGINT), which is harmless because stage 1 has checked every type strictly.
3. **Assemble** the stored columns in :data:`~distillguard.events.ARROW_SCHEMA`; the
   caller writes them with the store's usual de-duplicating insert.

With a DuckDB store, stages 2 and 3 and the write are one statement in the store itself
(:mod:`distillguard.ingest.direct`, the default).

A line the fast path cannot take (invalid, unknown fields that must be kept in ``extra``,
content parts instead of a string, an explicit ``extra`` or ``decision``) goes to the
per-line path together with its neighbours up to the next run of ``MIN_FAST_ROWS`` clean
lines, and a run that DuckDB refuses goes there whole; rows keep their order, rejections
their exact file:line:field:reason. ``tests/ingest/test_fastpath.py`` checks that both
paths store identical tables. Measured cost per stage: docs/benchmarks.md, "Ingest".
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from distillguard.events import ARROW_SCHEMA
from distillguard.events.schema import _tool_names, prompt_digest, split_prompt
from distillguard.events.validate import (
    _EPOCH_MS_THRESHOLD,
    _TS_MAX,
    _TS_MIN,
    _check_text_sizes,
    asn_number,
    event_id,
    normalise,
)
from distillguard.ingest.jsonl import RejectTuple, flatten_lines, rows_to_table, scan_decoder

#: A run of clean lines shorter than this is not worth a DuckDB query: per-line path.
MIN_FAST_ROWS = 64
#: Longest line the fast path hands to DuckDB (longer ones take the per-line path).
MAX_LINE_BYTES = 256 * 1024 * 1024
#: Smallest ``maximum_object_size`` asked of DuckDB. Its reader allocates buffers of twice
#: that size, so it is sized per block from the longest line: a fixed 256 MiB made every
#: parse allocate 512 MiB and cost ~40% more CPU (measured on the benchmark's lines).
MIN_OBJECT_BYTES = 1024 * 1024

_TS = pa.timestamp("us", tz="UTC")
# Timestamps go to Arrow as integer microseconds since the epoch (exact integer arithmetic):
# converting datetime objects would make pyarrow import pandas, ~1-2 s per process.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

#: What DuckDB parses: the flat scalars. The fields whose JSON type varies, the prompt and
#: the lengths come from the msgspec struct (``_scan``); the answer text only with keep_text.
_READ_COLUMNS: dict[str, str] = {
    "request_id": "VARCHAR",
    "org_id": "VARCHAR",
    "api_key_id": "VARCHAR",
    "endpoint": "VARCHAR",
    "model": "VARCHAR",
    "client": "STRUCT(ip VARCHAR, user_agent VARCHAR, country VARCHAR)",
    "account": (
        "STRUCT(email_domain VARCHAR, payment_fingerprint VARCHAR, tier VARCHAR, verified BOOLEAN)"
    ),
    "params": (
        "STRUCT(temperature DOUBLE, top_p DOUBLE, max_tokens BIGINT, n BIGINT, "
        "logprobs BOOLEAN, top_logprobs BIGINT, stream BOOLEAN, seed BIGINT, "
        "reasoning_effort VARCHAR)"
    ),
    "response": "STRUCT(finish_reason VARCHAR{text})",
    "usage": "STRUCT(input_tokens BIGINT, output_tokens BIGINT, reasoning_tokens BIGINT)",
    "status": "BIGINT",
    "latency_ms": "DOUBLE",
}

_SELECT_SQL = """request_id, org_id, api_key_id, endpoint, model,
  client.ip AS client_ip, client.user_agent AS client_user_agent,
  client.country AS client_country,
  account.email_domain AS account_email_domain,
  account.payment_fingerprint AS account_payment_fingerprint,
  account.tier AS account_tier, account.verified AS account_verified,
  params.temperature AS param_temperature, params.top_p AS param_top_p,
  params.max_tokens AS param_max_tokens, params.n AS param_n,
  params.logprobs AS param_logprobs, params.top_logprobs AS param_top_logprobs,
  params.stream AS param_stream, params.seed AS param_seed,
  params.reasoning_effort AS param_reasoning_effort,
  response.finish_reason AS finish_reason,
  usage.input_tokens AS input_tokens, usage.output_tokens AS output_tokens,
  usage.reasoning_tokens AS reasoning_tokens, status, latency_ms"""


@functools.lru_cache(maxsize=64)
def flatten_sql(
    keep_text: bool, max_object: int = MIN_OBJECT_BYTES, with_filename: bool = False
) -> str:
    """The statement that parses one block file (parameter 1) into the SQL-made columns.

    ``with_filename`` adds DuckDB's ``filename`` column as ``_file`` (never null on a row
    that was read: direct writes use it to check that rows line up).
    """
    cols = {
        k: v.format(text=", text VARCHAR" if keep_text else "") for k, v in _READ_COLUMNS.items()
    }
    spec = "{" + ", ".join(f"{k}: '{v}'" for k, v in cols.items()) + "}"
    text = ", response.text AS response_text" if keep_text else ""
    file_col, file_opt = (", filename AS _file", ", filename = true") if with_filename else ("", "")
    # Every piece is a constant of this module: nothing user-given reaches the SQL text.
    return (
        f"SELECT {_SELECT_SQL}{text}{file_col} FROM read_json(?, "  # noqa: S608
        f"format = 'newline_delimited', columns = {spec}, "
        f"maximum_object_size = {int(max_object)}{file_opt})"
    )


def _object_size(longest: int) -> int:
    """A power of two above ``longest`` (at least MIN_OBJECT_BYTES): few distinct plans."""
    return max(MIN_OBJECT_BYTES, 1 << int(longest).bit_length())


class NotFast(Exception):
    """A run of lines the fast path cannot take whole (it goes to the per-line path)."""


#: Columns filled from the decoded structs, in the order ``_scan`` appends them.
_PY_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("event_id", pa.string()),
    ("ts", _TS),
    ("account_id", pa.string()),
    ("account_created_at", _TS),
    ("client_asn", pa.int64()),
    ("param_tool_count", pa.int64()),
    ("param_tool_names", pa.string()),
    ("n_messages", pa.int64()),
    ("prompt_chars", pa.int64()),
    ("prompt_digest", pa.string()),
    ("response_chars", pa.int64()),
    ("prompt_text", pa.string()),
    ("context_text", pa.string()),
    ("_rid", pa.string()),  # the request id as given (direct writes check row alignment)
)


@dataclass(slots=True)
class _Fields:
    """Per-row values from the decoded structs: one list per ``_PY_COLUMNS`` entry."""

    cols: tuple[list[Any], ...] = field(default_factory=lambda: tuple([] for _ in _PY_COLUMNS))

    def slice(self, lo: int, hi: int) -> _Fields:
        """Rows ``lo:hi``."""
        return _Fields(tuple(c[lo:hi] for c in self.cols))


_BLANK, _FAST, _SLOW = 0, 1, 2


def _quick_us(value: Any) -> int | None:
    """Microseconds since the epoch of a timestamp ``normalise`` would leave as is or convert
    by the epoch rule; None when only the reference code can say (an offset other than UTC,
    a naive datetime, a number out of range).

    Numbers follow ``datetime.fromtimestamp`` exactly: ms above 1e11, then the fraction of a
    second rounded half-to-even to whole microseconds (CPython's ``_PyTime_ROUND_HALF_EVEN``).
    """
    cls = value.__class__
    if cls is datetime:
        return (value - _EPOCH) // _US if value.tzinfo is UTC else None
    if cls is not float and cls is not int:
        return None
    seconds = float(value)
    if seconds > _EPOCH_MS_THRESHOLD:
        seconds /= 1000.0
    if not (_TS_MIN <= seconds <= _TS_MAX):
        return None
    frac, whole = math.modf(seconds)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        us -= 1_000_000
        whole += 1.0
    return int(whole) * 1_000_000 + us


def _scan(lines: list[bytes], limit: int, keep_text: bool, out: _Fields) -> bytearray:
    """Validate every line; return its kind (blank, fast, slow) and fill ``out`` for fast ones.

    The checks are those of ``decode_line_fast`` (strict decode, text sizes, ``normalise``);
    a line that fails any of them, or that needs the general decoder, is marked slow.
    (Decoding the block with one ``decode_lines`` call was measured slower: all its structs
    are alive at once.) The common cases (a float epoch ``ts``, a UTC ``created_at``, an
    ``"AS…"`` ASN string, the prompt) are computed inline: this loop is the slowest stage
    of an ingest, and each call saved here is measured (docs/benchmarks.md, "Ingest").
    """
    kinds = bytearray(len(lines))
    dec = scan_decoder.decode
    (eid, ts, acct, created, asn, tcount, tnames, nmsg, pchars, pdig, rchars, ptext, ctext, rid) = (
        out.cols
    )
    modf, epoch, us_unit, utc = math.modf, _EPOCH, _US, UTC
    for i, line in enumerate(lines):
        if not line or (line.__class__ is bytes and line.isspace()):  # views are not blank
            continue
        try:
            ev = dec(line)
            if len(line) > limit:
                _check_text_sizes(ev, limit)
            c, a = ev.client, ev.account
            # Timestamps as _quick_us converts them, its most common cases inline: a float of
            # epoch seconds in range (below the milliseconds threshold), an aware UTC datetime.
            t = ev.ts
            ts_us: int | None
            if t.__class__ is float and _TS_MIN <= t <= _TS_MAX:
                frac, whole = modf(t)
                us = round(frac * 1e6)
                ts_us = (
                    int(whole) * 1_000_000 + us
                    if us < 1_000_000
                    else int(whole + 1.0) * 1_000_000 + us - 1_000_000
                )
            else:
                ts_us = _quick_us(t)
            at = a.created_at if a is not None else None
            at_us: int | None
            if at is None:
                at_us = None
            elif at.__class__ is datetime and at.tzinfo is utc:
                at_us = (at - epoch) // us_unit
            else:
                at_us = _quick_us(at)
            account_id = ev.account_id
            request_id = ev.request_id
            # normalise() is skipped when it would change nothing but the timestamps' type
            # (converted above) and an "AS<number>" ASN (converted here by its own rule);
            # else it runs, as on the per-line path.
            if (
                ts_us is None
                or (at is not None and at_us is None)
                or not account_id
                or account_id[0].isspace()
                or account_id[-1].isspace()
                or not request_id  # the content hash is taken of the normalised event
            ):
                normalise(ev)
                ts_us = (ev.ts - epoch) // us_unit  # type: ignore[operator]  # UTC datetime now
                at = a.created_at if a is not None else None
                at_us = (at - epoch) // us_unit if at is not None else None  # type: ignore[operator]
                account_id = ev.account_id
            elif c is not None and c.asn.__class__ is str:
                c.asn = asn_number(c.asn)  # a bad one: the per-line path gives the error
        except Exception:  # noqa: BLE001 - any refusal means "ask the per-line path"
            kinds[i] = _SLOW
            continue
        if ev.decision or ev.extra or len(line) > MAX_LINE_BYTES:
            kinds[i] = _SLOW
            continue
        msgs = ev.messages
        prompt = ev.prompt
        if msgs:
            last_user = None
            parts = False
            for m in msgs:
                if m.content.__class__ is list:
                    parts = True
                    break
                if m.role == "user":
                    last_user = m
            if parts:
                kinds[i] = _SLOW
                continue
            if prompt is None:
                # split_prompt's prompt: the last user turn, else the last message.
                content = (last_user if last_user is not None else msgs[-1]).content
                prompt = content if content is not None else ""
            nmsg.append(len(msgs))
        else:
            nmsg.append(None)
        kinds[i] = _FAST
        p, r = ev.params, ev.response
        eid.append(request_id or event_id(ev))
        rid.append(request_id)
        ts.append(ts_us)
        acct.append(account_id)
        created.append(at_us)
        asn.append(c.asn if c is not None else None)
        tools = p.tools if p is not None else None
        if tools:
            tcount.append(len(tools))
            tnames.append(_tool_names(tools))
        else:
            tcount.append(None)
            tnames.append(None)
        if keep_text:
            prompt, context = split_prompt(ev)
            ptext.append(prompt)
            ctext.append(context)
        if prompt is None:
            pchars.append(None)
            pdig.append(None)
        else:
            pchars.append(len(prompt))
            pdig.append(prompt_digest(prompt))
        text = r.text if r is not None else None
        rchars.append(len(text) if text is not None else None)
    return kinds


def _runs(kinds: bytearray, min_rows: int) -> list[tuple[bool, int, int]]:
    """Split line indices into (fast, start, end) runs; short clean runs join the slow ones."""
    runs: list[tuple[bool, int, int]] = []
    start = 0
    n = len(kinds)
    while start < n:  # bytearray.find jumps over runs (a Python loop per line cost ~0.07 us)
        slow = kinds[start] == _SLOW
        if slow:
            ends = [i for i in (kinds.find(_BLANK, start), kinds.find(_FAST, start)) if i >= 0]
            end = min(ends) if ends else n
        else:
            end = kinds.find(_SLOW, start)
            end = n if end < 0 else end
        runs.append((not slow, start, end))
        start = end
    merged: list[tuple[bool, int, int]] = []
    for fast, s, e in runs:
        if fast and kinds.count(_FAST, s, e) < min_rows:
            fast = False
        if merged and merged[-1][0] == fast:
            merged[-1] = (fast, merged[-1][1], e)
        else:
            merged.append((fast, s, e))
    return merged


class BlockParser:
    """Parses blocks of clean lines with DuckDB (one in-memory database per parser).

    Safe to use from several threads: each call uses its own cursor and temporary file.
    """

    def __init__(self, threads: int = 0, memory_limit: str = "512MB") -> None:
        self._con = duckdb.connect(":memory:")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}").fetchall()
        self._con.execute(f"SET memory_limit = '{memory_limit}'").fetchall()
        self._con.execute("SET preserve_insertion_order = true").fetchall()
        self._lock = threading.Lock()

    def parse(self, payload: bytes, keep_text: bool, longest: int = 0) -> pa.Table:
        """Flatten newline-separated clean lines to the SQL-computed columns.

        Raises:
            NotFast: DuckDB refused the block.
        """
        fd, name = tempfile.mkstemp(prefix="dg-block-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            return self.parse_file(Path(name), keep_text, longest)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    def parse_file(self, path: Path, keep_text: bool, longest: int = 0) -> pa.Table:
        """:meth:`parse` of a file of clean lines.

        Raises:
            NotFast: DuckDB refused the block.
        """
        with self._lock:
            cur = self._con.cursor()
        try:
            sql = flatten_sql(keep_text, _object_size(longest))
            return cur.sql(sql, params=[str(path)]).to_arrow_table()
        except duckdb.Error as exc:
            raise NotFast(str(exc)) from None
        finally:
            cur.close()


_parser: BlockParser | None = None
_parser_lock = threading.Lock()


def default_parser() -> BlockParser:
    """The process-wide parser (created on first use)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            # One DuckDB thread: the parse overlaps with validation (Python) and the store's
            # insert on the other cores; two threads burned ~10% more CPU on a loaded 2-core
            # box for no gain in wall time (docs/benchmarks.md, "Ingest").
            _parser = BlockParser(threads=1)
        return _parser


def py_arrays(py: _Fields) -> dict[str, pa.Array]:
    """The struct-made columns as Arrow arrays (the text columns only when they were kept)."""
    return {
        name: pa.array(values, type=typ)
        for (name, typ), values in zip(_PY_COLUMNS, py.cols, strict=True)
        if values or name not in ("prompt_text", "context_text")
    }


def _assemble(sql: pa.Table, py: _Fields, keep_text: bool, source: str) -> pa.Table:
    """The stored columns, in ARROW_SCHEMA order, from the SQL output and the struct fields."""
    return assemble_columns(sql, py_arrays(py), keep_text, source)


def assemble_columns(
    sql: pa.Table, py: Mapping[str, Any], keep_text: bool, source: str
) -> pa.Table:
    """:func:`_assemble` from struct-made columns already in Arrow (:func:`py_arrays`)."""
    n = sql.num_rows
    cols: dict[str, Any] = dict(py)
    null = pa.nulls(n, pa.string())
    cols["decision"] = cols["extra"] = null
    cols["source"] = pa.array([source] * n, type=pa.string()) if source else null
    if not keep_text:
        cols["prompt_text"] = cols["context_text"] = cols["response_text"] = null
    arrays = []
    for f in ARROW_SCHEMA:
        col = cols[f.name] if f.name in cols else sql.column(f.name)
        if col.type != f.type:
            col = col.cast(f.type)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


@dataclass(slots=True)
class ScannedBlock:
    """A block after validation (:func:`scan_block`), ready for :func:`finish_block`."""

    first: int
    lines: list[bytes]
    kinds: bytearray
    fields: _Fields
    source: str
    limit: int
    keep_text: bool
    min_fast_rows: int


def scan_block(
    first: int,
    lines: list[bytes],
    source: str,
    limit: int,
    keep_text: bool,
    min_fast_rows: int = MIN_FAST_ROWS,
) -> ScannedBlock:
    """Validate lines numbered from ``first`` (the Python half of the work)."""
    py = _Fields()
    gc_was_on = gc.isenabled()
    gc.disable()  # the decoded structs die young and hold no cycles (see flatten_lines)
    try:
        kinds = _scan(lines, limit, keep_text, py)
    finally:
        if gc_was_on:
            gc.enable()
    return ScannedBlock(first, lines, kinds, py, source, limit, keep_text, min_fast_rows)


def finish_block(
    block: ScannedBlock, parser: BlockParser | None = None
) -> tuple[pa.Table, list[RejectTuple], int]:
    """Parse the clean runs with DuckDB and the rest per line (the C++ half of the work).

    Returns:
        (table in ARROW_SCHEMA, rejections, records read); blank lines are not records.
    """
    parser = parser or default_parser()
    lines, kinds, py, keep_text = block.lines, block.kinds, block.fields, block.keep_text
    tables: list[pa.Table] = []
    rejects: list[RejectTuple] = []
    read = 0
    row = 0
    for fast, s, e in _runs(kinds, block.min_fast_rows):
        if fast:
            clean = [lines[i] for i in range(s, e) if kinds[i] == _FAST]
            part = py.slice(row, row + len(clean))
            row += len(clean)
            # The whole block clean (the usual case): DuckDB reads the joined block as is
            # (it skips blank lines, as we do).
            whole = s == 0 and e == len(lines)
            try:
                payload = b"\n".join(lines if whole else clean)
                sql = parser.parse(payload, keep_text, max(map(len, clean)))
                if sql.num_rows != len(clean):
                    raise NotFast(f"DuckDB read {sql.num_rows} rows of {len(clean)}")
                tables.append(_assemble(sql, part, keep_text, block.source))
                read += len(clean)
                continue
            except NotFast:
                pass
        else:
            row += kinds.count(_FAST, s, e)
        table, rej, n = flatten_lines(
            block.first + s, lines[s:e], block.source, block.limit, keep_text
        )
        tables.append(table)
        rejects.extend(rej)
        read += n
    if not tables:
        return rows_to_table([]), rejects, read
    return (pa.concat_tables(tables) if len(tables) > 1 else tables[0]), rejects, read


def flatten_block(
    first: int,
    lines: list[bytes],
    source: str,
    limit: int,
    keep_text: bool,
    parser: BlockParser | None = None,
    min_fast_rows: int = MIN_FAST_ROWS,
) -> tuple[pa.Table, list[RejectTuple], int]:
    """Validate and flatten lines numbered from ``first``: same result as ``flatten_lines``.

    ``min_fast_rows`` is the shortest run of clean lines worth a DuckDB query (tests use 1).

    Returns:
        (table in ARROW_SCHEMA, rejections, records read); blank lines are not records.
    """
    return finish_block(scan_block(first, lines, source, limit, keep_text, min_fast_rows), parser)
