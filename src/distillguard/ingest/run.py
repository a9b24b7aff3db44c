"""``ingest_paths``: read many inputs into a store, quarantining bad records, counting all."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from distillguard.errors import InputError, StoreError
from distillguard.events import Event, events_to_arrow
from distillguard.events.validate import DEFAULT_MAX_TEXT_CHARS
from distillguard.ingest import direct
from distillguard.ingest.base import ReadOptions, Rejected, TableChunk, TableReader
from distillguard.ingest.direct import BlockSink, Written
from distillguard.ingest.jsonl import rebuild_rejection
from distillguard.ingest.parallel import pipelined
from distillguard.ingest.progress import Progress
from distillguard.ingest.quarantine import QuarantineWriter
from distillguard.ingest.registry import detect_format, get_reader
from distillguard.store.base import Store

#: How many rejection messages an IngestReport keeps as examples.
SAMPLE_ERRORS = 20


@dataclass(frozen=True, slots=True)
class SourceReport:
    """Counts for one input file (``read == accepted + duplicates + quarantined``)."""

    path: str
    format: str
    read: int
    accepted: int
    duplicates: int
    quarantined: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class RejectedSource:
    """An input that could not be used at all (missing, a directory without files, ...)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The result of one ingest run. ``read == accepted + duplicates + quarantined`` always."""

    read: int
    accepted: int
    duplicates: int
    quarantined: int
    sources: tuple[SourceReport, ...]
    quarantine_path: Path | None
    elapsed_s: float
    rejected_sources: tuple[RejectedSource, ...]
    run_id: str = ""
    samples: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        """False when no input could be read at all (the CLI exits 2)."""
        return bool(self.sources)

    @property
    def events_per_s(self) -> float:
        """Records read per second of wall-clock time."""
        return self.read / self.elapsed_s if self.elapsed_s > 0 else 0.0


def expand_paths(
    paths: Sequence[str | Path], skip: frozenset[Path] = frozenset()
) -> tuple[list[Path], list[RejectedSource]]:
    """Files to read, in order; a directory expands to its files, recursively, sorted.

    Hidden files and directories (name starting with ``.``) inside a directory are skipped.
    """
    files: list[Path] = []
    rejected: list[RejectedSource] = []
    for given in paths:
        p = Path(given)
        if not p.exists():
            rejected.append(RejectedSource(str(p), "no such file or directory"))
        elif p.is_dir():
            inside = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            inside = [f for f in inside if f.resolve() not in skip]
            if not inside:
                rejected.append(RejectedSource(str(p), "directory contains no files"))
            files.extend(inside)
        elif not p.is_file():
            rejected.append(RejectedSource(str(p), "not a regular file"))
        elif p.resolve() not in skip:
            files.append(p)
    return files, rejected


def iter_events(path: str | Path, fmt: str = "auto", **opts: Any) -> Iterator[Event | Rejected]:
    """Yield each record of one file as an :class:`Event` or a :class:`Rejected`, in order.

    ``opts`` are ``max_text_chars`` and the reader's format options (``account_id``,
    ``batch_output``, ``account_attributes``).

    Raises:
        InputError: the file is missing, a directory, or of an unknown format.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: {'is a directory' if p.is_dir() else 'no such file'}")
    name = detect_format(p) if fmt == "auto" else fmt
    reader = get_reader(name)
    max_chars = int(opts.pop("max_text_chars", DEFAULT_MAX_TEXT_CHARS))
    options = ReadOptions(max_text_chars=max_chars, source_name=str(p), format_options=opts)
    return reader.read(p, options)


def _chunks(path: Path, fmt: str, options: ReadOptions) -> Iterator[TableChunk]:
    reader = get_reader(fmt)
    if isinstance(reader, TableReader):
        yield from reader.read_tables(path, options)
        return
    events: list[Event] = []
    rejected: list[Rejected] = []
    for item in reader.read(path, options):
        if isinstance(item, Rejected):
            rejected.append(item)
        else:
            events.append(item)
        if len(events) + len(rejected) >= options.batch_size:
            table = events_to_arrow(events, keep_text=options.keep_text, source=options.source_name)
            yield TableChunk(table, rejected, len(events) + len(rejected))
            events, rejected = [], []
    if events or rejected:
        table = events_to_arrow(events, keep_text=options.keep_text, source=options.source_name)
        yield TableChunk(table, rejected, len(events) + len(rejected))


def ingest_paths(
    paths: Sequence[str | Path],
    store: Store,
    *,
    fmt: str = "auto",
    keep_text: bool = False,
    quarantine: Path | None = None,
    batch_size: int = 50_000,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: bool = False,
    **format_options: Any,
) -> IngestReport:
    """Read every input into ``store``; bad records go to ``quarantine`` and never stop the run.

    Args:
        paths: files or directories (a directory is read recursively, files in sorted order).
        store: where events land; writing is idempotent on ``event_id``. Groups of clean
            JSONL lines commit a row group at a time, so the store's connection is inside a
            transaction between their statements: do not use this store object from
            another thread while the run lasts.
        fmt: ``"auto"`` (detected per file) or a name in ``READERS``.
        keep_text: store prompt and response text (off by default: privacy).
        quarantine: JSONL file the rejected records are appended to; None keeps only counts
            and the first examples in the report.
        batch_size: records per write to the store.
        max_text_chars: longest accepted prompt, message or response text.
        progress: show a progress bar on stderr.
        **format_options: reader options: ``account_id`` (OpenAI batch, OTel),
            ``batch_output`` (the OpenAI batch output file), ``account_attributes`` (OTel),
            ``workers``, ``fast_path``, ``sql_checks`` and ``direct_writes`` (canonical JSONL;
            ``fast_path=False`` forces the per-line path, ``sql_checks=True`` checks the rules
            in DuckDB SQL, ``direct_writes=False`` parses blocks to Arrow before writing them;
            all store the same rows).

    Returns:
        The counts, per file and in total; unusable inputs are listed, not raised.

    Raises:
        InputError: ``fmt`` is unknown.
        StoreError: the store failed.
    """
    if fmt != "auto":
        get_reader(fmt)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    run_id = uuid.uuid4().hex
    skip: frozenset[Path] = frozenset()
    if format_options.get("batch_output"):
        skip = frozenset({Path(format_options["batch_output"]).resolve()})
    files, rejected_sources = expand_paths(paths, skip)
    qwriter = QuarantineWriter(quarantine, run_id)
    samples: list[str] = []
    reports: list[SourceReport] = []
    bar = Progress(enabled=progress, files=files)
    try:
        with tempfile.TemporaryDirectory(prefix="dg-ingest-", ignore_cleanup_errors=True) as work:
            base = ReadOptions(
                batch_size=batch_size,
                max_text_chars=max_text_chars,
                keep_text=keep_text,
                format_options=dict(format_options),
                work_dir=Path(work),
                background=True,
            )
            _ingest_files(
                files, fmt, base, store, _Sinks(qwriter, samples, bar), reports, rejected_sources
            )
    finally:
        qwriter.close()
        bar.close()
    result = IngestReport(
        read=sum(r.read for r in reports),
        accepted=sum(r.accepted for r in reports),
        duplicates=sum(r.duplicates for r in reports),
        quarantined=sum(r.quarantined for r in reports),
        sources=tuple(reports),
        quarantine_path=quarantine if qwriter.written else None,
        elapsed_s=time.perf_counter() - started,
        rejected_sources=tuple(rejected_sources),
        run_id=run_id,
        samples=tuple(samples),
    )
    _record_run(store, result, started_at)
    return result


@dataclass(slots=True)
class _Sinks:
    """Where a run's rejections and progress go."""

    qwriter: QuarantineWriter
    samples: list[str]
    bar: Progress


@dataclass(slots=True)
class _Tally:
    """One file's counts while it is being written."""

    path: Path
    fmt: str
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def report(self) -> SourceReport:
        note = "empty: no records" if self.read == 0 else ""
        return SourceReport(
            str(self.path),
            self.fmt,
            self.read,
            self.accepted,
            self.duplicates,
            self.quarantined,
            note,
        )


#: Ends a file's items in ``_file_items`` (its ``_Tally`` starts them).
_FILE_END = object()


def _unusable(path: Path, exc: Exception) -> RejectedSource:
    """``path`` as a rejected source: the reader's reason, or why it could not be read."""
    return RejectedSource(
        str(path), str(exc) if isinstance(exc, InputError) else f"cannot read: {exc}"
    )


def _file_items(files: Sequence[Path], fmt: str, base: ReadOptions) -> Iterator[object]:
    """Every file's chunks in order: a file's ``_Tally``, its ``TableChunk``s, then
    ``_FILE_END``, or a ``RejectedSource`` when it cannot be read (after whatever of it
    could be)."""
    for path in files:
        try:
            name = detect_format(path) if fmt == "auto" else fmt
        except (InputError, OSError) as exc:
            yield _unusable(path, exc)
            continue
        options = dataclasses.replace(
            base, source_name=str(path), format_options=dict(base.format_options)
        )
        yield _Tally(path, name)
        try:
            yield from _chunks(path, name, options)
        except (InputError, OSError) as exc:
            yield _unusable(path, exc)
            continue
        yield _FILE_END


def _ingest_files(
    files: Sequence[Path],
    fmt: str,
    base: ReadOptions,
    store: Store,
    sinks: _Sinks,
    reports: list[SourceReport],
    rejected_sources: list[RejectedSource],
) -> None:
    """Write every file's chunks to ``store``, counting per file, in file order.

    The files are read in a background thread (``pipelined``): the next file is read and
    validated while the store still writes the last groups of the one before, so a
    directory of small files is not read and written one after the other. Groups of clean
    JSONL runs commit a row group at a time across files (``BlockSink``: each group is one
    file's); other batches commit on their own: measured, one transaction per 200k-1M rows
    was no faster and made DuckDB hold the uncommitted rows in memory (docs/benchmarks.md,
    "Ingest").
    """
    sink = BlockSink(store)
    owners: deque[_Tally] = deque()  # the file of each group the sink has not returned yet
    done_files: list[_Tally] = []  # files read to the end, whose groups may be pending
    current: _Tally | None = None

    def keep(tally: _Tally, rejected: list[Rejected], n: int) -> None:
        for rej in rejected:
            sinks.qwriter.write(rej)
            if len(sinks.samples) < SAMPLE_ERRORS:
                sinks.samples.append(str(rej))
        tally.read += n
        tally.quarantined += len(rejected)

    def record(done: list[Written]) -> None:
        for res, rejects, n in done:
            tally = owners.popleft()
            tally.accepted += res.inserted
            tally.duplicates += res.duplicates
            keep(tally, [rebuild_rejection(r, str(tally.path)) for r in rejects], n)

    # Groups validated ahead of the one being written, plus a file's start and end markers.
    items = pipelined(_file_items(files, fmt, base), ahead=direct.GROUPS_AHEAD + 2)
    try:
        for item in items:
            if isinstance(item, _Tally):
                current = item
            elif item is _FILE_END:
                assert current is not None
                done_files.append(current)
                sinks.bar.done(current.path)
                current = None
            elif isinstance(item, RejectedSource):
                # What was written of it stays (committed), as when files were read one by one.
                record(sink.flush())
                rejected_sources.append(item)
                current = None
            else:
                assert current is not None and isinstance(item, TableChunk)
                try:
                    if item.blocks:
                        owners.append(current)
                        record(sink.write(item.blocks))
                    else:
                        record(sink.flush())  # file order: what came before commits first
                        if item.table.num_rows:
                            res = store.write(_conform(item.table))
                            current.accepted += res.inserted
                            current.duplicates += res.duplicates
                        keep(current, item.rejected, item.read)
                except OSError as exc:  # the blocks' temporary files or the quarantine file
                    raise StoreError(f"{current.path}: cannot write: {exc}") from exc
                sinks.bar.advance(current.path, item.read)
        record(sink.flush())
    finally:
        items.close()
        sink.abort()  # stopped by an error: the uncommitted groups are not stored
    reports.extend(t.report() for t in done_files)


def _conform(table: pa.Table) -> pa.Table:
    return table.combine_chunks() if table.column(0).num_chunks > 1 else table


_json = msgspec.json.Encoder()


def _record_run(store: Store, report: IngestReport, started_at: datetime) -> None:
    sources = _json.encode(
        {
            "sources": [dataclasses.asdict(s) for s in report.sources],
            "rejected": [{"path": r.path, "reason": r.reason} for r in report.rejected_sources],
        }
    ).decode()
    # The in-memory fake keeps events only.
    with contextlib.suppress(NotImplementedError):
        store.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report.run_id,
                started_at,
                datetime.now(UTC),
                sources,
                report.read,
                report.accepted,
                report.duplicates,
                report.quarantined,
            ],
        )
