"""Canonical JSONL (one event per line): the hot path.

Valid lines are decoded straight into msgspec structs by a *strict mirror* of
:class:`~distillguard.events.Event` (same fields, same order, unknown fields forbidden). A line
the strict decoder refuses, whether because it is invalid or because it carries unknown
fields that must be kept in ``extra``, takes the general path
(:func:`~distillguard.events.decode_event`), which gives the exact error or the event with its
``extra``. Both paths produce the same stored row (``tests/ingest/test_jsonl.py`` checks it).
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pyarrow as pa

from distillguard.errors import RecordError
from distillguard.events import ARROW_SCHEMA, Event, decode_event, event_row
from distillguard.events.model import Account, Client, Message, Params, Response, Usage
from distillguard.events.validate import _check_text_sizes, normalise
from distillguard.ingest.base import ReadOptions, Rejected, TableChunk, preview
from distillguard.ingest.compression import CorruptStream, iter_line_batches, iter_line_views


def _strict_mirror(
    cls: type[Any], swap: dict[type[Any], type[Any]], *, gc: bool = True
) -> type[Any]:
    """A subclass of ``cls`` with the same fields in the same order that forbids unknown keys.

    Built from ``cls``'s own field list so that it follows changes to the event model.
    ``gc=False`` makes instances the cyclic garbage collector does not track (cheaper to
    create; only for structs that cannot be part of a reference cycle).
    """
    hints = typing.get_type_hints(cls, include_extras=True)  # keep msgspec.Meta bounds
    fields: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(cls):
        typ = hints[info.name]
        for old, new in swap.items():
            typ = _replace_type(typ, old, new)
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, typ, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, typ, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, typ, msgspec.NODEFAULT))
    spec = [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in fields]
    return msgspec.defstruct(
        "Strict" + cls.__name__,
        spec,
        bases=(cls,),
        kw_only=True,
        omit_defaults=True,
        forbid_unknown_fields=True,
        module=__name__,
        gc=gc,
    )


def _replace_type(typ: Any, old: type[Any], new: type[Any]) -> Any:
    if typ is old:
        return new
    args = typing.get_args(typ)
    if not args:
        return typ
    swapped = tuple(_replace_type(a, old, new) for a in args)
    if swapped == args:
        return typ
    origin = typing.get_origin(typ)
    if origin in (typing.Union, __import__("types").UnionType):
        return typing.Union[swapped]  # noqa: UP007 - built dynamically
    return origin[swapped] if origin is not None else typ


_NESTED = (Message, Client, Account, Params, Response, Usage)
_SWAP: dict[type[Any], type[Any]] = {c: _strict_mirror(c, {}) for c in _NESTED}
StrictEvent: type[Any] = _strict_mirror(Event, _SWAP)
_strict_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(StrictEvent)
#: The same rules for the block fast path's scan, whose decoded events never leave it (and,
#: decoded from JSON, cannot hold a reference cycle): structs untracked by the cyclic GC,
#: ~7 % less time per line decoded (docs/benchmarks.md, "Ingest").
_SCAN_SWAP: dict[type[Any], type[Any]] = {c: _strict_mirror(c, {}, gc=False) for c in _NESTED}
scan_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    _strict_mirror(Event, _SCAN_SWAP, gc=False)
)


def decode_line_fast(line: bytes, max_text_chars: int) -> Event:
    """Decode one line; same result as ``decode_event`` but faster on clean lines.

    The returned object may be an instance of a private subclass of Event; use it for
    flattening, not for equality with events from :func:`decode_event`.

    Raises:
        RecordError: the line is invalid (the field is named).
    """
    try:
        event: Event = _strict_decoder.decode(line)
        if len(line) > max_text_chars:  # a text has at most as many characters as the line bytes
            _check_text_sizes(event, max_text_chars)
        return normalise(event)
    except (msgspec.ValidationError, msgspec.DecodeError, RecordError, UnicodeDecodeError):
        return decode_event(line, max_text_chars=max_text_chars)


class JsonlReader:
    """Canonical events, one JSON object per line (optionally gzip or zstd compressed)."""

    name: ClassVar[str] = "jsonl"
    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".json")

    def sniff(self, head: bytes) -> bool:
        """Looks like JSON objects, one per line, with a ``ts`` or ``account_id`` key."""
        first = head.lstrip()[:1]
        return first == b"{" and (b'"account_id"' in head or b'"ts"' in head)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Event | Rejected]:
        """Yield every line as an :class:`Event` or a :class:`Rejected`."""
        source = options.source_name or str(path)
        limit = options.max_text_chars
        for line_no, line in _lines(path, options, source):
            if isinstance(line, Rejected):
                yield line
                continue
            try:
                yield decode_event(line, max_text_chars=limit)
            except RecordError as exc:
                yield Rejected(
                    _explain(exc, line),
                    source=source,
                    line=line_no,
                    field=exc.field,
                    raw=preview(line),
                )

    def read_tables(self, path: Path, options: ReadOptions) -> Iterator[TableChunk]:
        """Yield batches of flattened rows (the path used by ``ingest_paths``).

        By default blocks of lines take the block fast path (``distillguard.ingest.fastpath``:
        validation in Python, parsing in DuckDB, both stages overlapped with the store's
        writes); the format option ``fast_path=False`` forces the per-line path, and
        ``sql_checks=True`` checks the rules in DuckDB SQL instead (``ingest.sqlcheck``;
        same rows, slower as measured, so off by default). With the
        format option ``workers`` > 1 (or 0: one per CPU for files over 64 MiB), blocks are
        handled by worker processes; the order of rows and rejections is kept.
        """
        from distillguard.ingest.fastpath import finish_block, scan_block
        from distillguard.ingest.parallel import parallel_flatten, pipelined, worker_count

        source = options.source_name or str(path)
        limit = options.max_text_chars
        keep_text = options.keep_text
        fast = bool(options.option("fast_path", True))
        sql_checks = fast and bool(options.option("sql_checks", False))
        damage: list[Rejected] = []
        batches = _line_batches(path, options, source, damage)
        workers = worker_count(path, options)
        if workers > 1:
            results = parallel_flatten(batches, workers, source, limit, keep_text, fast=fast)
        elif sql_checks:
            from distillguard.ingest.sqlcheck import flatten_block_sql

            results = pipelined(
                flatten_block_sql(f, ls, source, limit, keep_text) for f, ls in batches
            )
        elif fast and options.option("direct_writes", True):
            from distillguard.ingest.direct import BLOCK_LINES

            batches = _line_batches(path, options, source, damage, BLOCK_LINES, views=True)
            yield from _direct_chunks(
                batches,
                damage,
                source,
                limit,
                keep_text,
                options.work_dir,
                background=options.background,
            )
            return
        elif fast:
            scanned = pipelined(scan_block(f, ls, source, limit, keep_text) for f, ls in batches)
            results = pipelined(finish_block(block) for block in scanned)
        else:
            results = (flatten_lines(f, ls, source, limit, keep_text) for f, ls in batches)
        tables: list[pa.Table] = []
        rejected: list[Rejected] = []
        read = 0
        for table, rejects, n in results:
            tables.append(table)
            rejected.extend(rebuild_rejection(r, source) for r in rejects)
            read += n
            if read >= options.batch_size:
                yield TableChunk(pa.concat_tables(tables), rejected, read)
                tables, rejected, read = [], [], 0
        rejected.extend(damage)
        read += len(damage)
        if read:
            table = pa.concat_tables(tables) if tables else rows_to_table([])
            yield TableChunk(table, rejected, read)


_ROW_TYPE = pa.struct(list(ARROW_SCHEMA))


def _direct_chunks(
    batches: Iterator[tuple[int, list[bytes]]],
    damage: list[Rejected],
    source: str,
    limit: int,
    keep_text: bool,
    work_dir: Path | None = None,
    *,
    background: bool = False,
) -> Iterator[TableChunk]:
    """The fast path with direct writes: chunks of grouped clean runs and per-line rows.

    Reading, validating and preparing blocks run in a background thread while the caller
    writes the previous group (DuckDB, which releases the GIL); with ``background`` the
    caller's own thread iterates this generator (``ingest_paths``), so none is started.
    Order is kept. The blocks' files go in ``work_dir`` when given (it must outlive the
    caller's writes), else in a directory of this call.
    """
    from distillguard.ingest import direct
    from distillguard.ingest.direct import group_parts, prepare_block
    from distillguard.ingest.fastpath import scan_block
    from distillguard.ingest.parallel import pipelined

    # The blocks' files live in a directory of this run: if the caller stops early (a store
    # error), the files of blocks prepared but not written go with it. A third thread writes
    # them (os.writev, GIL released), so that validation only hands the lines over, and
    # removes them once written to the store.
    with (
        (
            contextlib.nullcontext(str(work_dir))
            if work_dir is not None
            else tempfile.TemporaryDirectory(prefix="dg-ingest-", ignore_cleanup_errors=True)
        ) as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="dg-blockfile") as writer,
    ):
        grouped = group_parts(
            part
            for first, lines in batches
            for part in prepare_block(
                scan_block(first, lines, source, limit, keep_text), Path(tmp), writer
            )
        )
        parts = grouped if background else pipelined(grouped, ahead=direct.GROUPS_AHEAD)
        try:
            empty = rows_to_table([])
            for part in parts:
                if isinstance(part, list):
                    yield TableChunk(empty, [], sum(b.rows for b in part), tuple(part))
                else:
                    table, rejects, n = part
                    yield TableChunk(table, [rebuild_rejection(r, source) for r in rejects], n)
        finally:
            parts.close()  # waits for the block being prepared, then the directory goes
    if damage:
        yield TableChunk(empty, list(damage), len(damage))


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows from ``event_row`` to an Arrow table, transposed in C++ (about 2x faster than
    building one Python list per column)."""
    if not rows:
        return ARROW_SCHEMA.empty_table()
    return pa.Table.from_struct_array(pa.array(rows, type=_ROW_TYPE))


#: A rejection as plain data (crosses process boundaries): (line, field, reason, raw preview).
RejectTuple = tuple[int, str, str, str]


def rebuild_rejection(r: RejectTuple, source: str) -> Rejected:
    """A :class:`Rejected` from its plain-data form (as it crossed a thread or process)."""
    return Rejected(r[2], source=source, line=r[0], field=r[1], raw=r[3])


def _explain(exc: RecordError, line: bytes) -> str:
    """Say "not valid UTF-8" rather than "not valid JSON" when that is the cause."""
    if exc.reason.startswith("not valid JSON"):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"not valid UTF-8 ({err.reason} at byte {err.start})"
    return exc.reason


def flatten_lines(
    first: int, lines: list[bytes], source: str, limit: int, keep_text: bool
) -> tuple[pa.Table, list[RejectTuple], int]:
    """Validate and flatten lines numbered from ``first``.

    Returns:
        (table in ARROW_SCHEMA, rejections, records read); blank lines are not records.
    """
    rows: list[tuple[Any, ...]] = []
    rejects: list[RejectTuple] = []
    read = 0
    # Decoding allocates many container objects that all stay alive until the batch is
    # flattened, so the cyclic GC would only re-scan them: pausing it for the batch made
    # decoding ~30% faster (docs/benchmarks.md, "Ingest"). Nothing here creates cycles.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for offset, line in enumerate(lines):
            if not line or line.isspace():
                continue
            read += 1
            try:
                event = decode_line_fast(line, limit)
            except RecordError as exc:
                rejects.append((first + offset, exc.field, _explain(exc, line), preview(line)))
                continue
            rows.append(event_row(event, keep_text=keep_text, source=source))
    finally:
        if gc_was_on:
            gc.enable()
    return rows_to_table(rows), rejects, read


def _line_batches(
    path: Path,
    options: ReadOptions,
    source: str,
    rejected: list[Rejected],
    max_lines: int = 10_000,
    *,
    views: bool = False,
) -> Iterator[tuple[int, list[bytes]]]:
    """Line batches; a damaged stream becomes one rejection appended to ``rejected``.

    With ``views``, lines are ``memoryview``s of the blocks read (``iter_line_views``;
    empty and whitespace-led lines are ``bytes``): for readers that only decode, measure
    and write them.
    """
    split = iter_line_views if views else iter_line_batches
    try:
        yield from split(path, max_lines=min(options.batch_size, max_lines))  # type: ignore[misc]
    except CorruptStream as exc:
        rejected.append(
            Rejected(
                exc.reason + "; the rest of the file cannot be read",
                source=source,
                line=exc.line,
                field="<stream>",
                raw=preview(exc.partial),
            )
        )


def _lines(path: Path, options: ReadOptions, source: str) -> Iterator[tuple[int, bytes | Rejected]]:
    """Non-blank lines with their numbers; a damaged stream ends with one rejection."""
    rejected: list[Rejected] = []
    for first, lines in _line_batches(path, options, source, rejected):
        for offset, line in enumerate(lines):
            if line and not line.isspace():
                yield first + offset, line
    for r in rejected:
        yield r.line, r
