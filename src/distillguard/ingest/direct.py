"""Direct block writes: the store's DuckDB parses a validated block straight into its table.

On the block fast path (:mod:`distillguard.ingest.fastpath`) every line is validated in
Python and DuckDB parses the clean runs into typed columns. When the store can insert the
rows of its own ``SELECT`` (:class:`SelectWriter`: :class:`~distillguard.store.DuckDBStore`),
the parse and the de-duplicating insert are one statement in the store's connection:

    INSERT INTO events ... SELECT <columns> FROM read_json(<block file>) POSITIONAL JOIN <py>

``<py>`` holds the columns that come from the decoded structs (timestamps, ids, prompt
digest, ...); the block's rows are never materialised as Arrow in between, which removed a
third of the per-event CPU of a write (docs/benchmarks.md, "Ingest"). Every row is checked to
line up with its struct (request id, and a row on both sides) inside the statement: a
mismatch fails the statement, which then inserts nothing, and the run takes the per-line
path. A store without ``write_select`` (the in-memory fake, the Parquet lake) gets the same
rows as an Arrow table (:meth:`BlockWrite.table`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from distillguard.errors import StoreError
from distillguard.events import ARROW_SCHEMA
from distillguard.ingest.fastpath import (
    _EPOCH,
    _FAST,
    _PY_COLUMNS,
    BlockParser,
    NotFast,
    ScannedBlock,
    _object_size,
    _runs,
    assemble_columns,
    default_parser,
    flatten_sql,
    py_arrays,
)
from distillguard.ingest.jsonl import RejectTuple, flatten_lines
from distillguard.store.base import Store, Transactional, WriteResult

#: Name the struct-made columns are registered under for the statement.
PY_TABLE = "_dg_py"
#: DuckDB's row group size: an insert of at least this many rows is written straight to the
#: table's storage (whole row groups) rather than through the write-ahead log.
ROW_GROUP_ROWS = 122_880
#: Lines per block on the direct path: ten blocks of clean lines fill one row group exactly.
BLOCK_LINES = ROW_GROUP_ROWS // 10
#: Events per insert statement: half a row group. Two statements fill a row group inside one
#: transaction (:class:`BlockSink`), which DuckDB writes to the table's storage as it would
#: one row-group-sized insert; the first statement of a file starts, and its last ends,
#: half a row group sooner than with one statement per row group.
GROUP_ROWS = ROW_GROUP_ROWS // 2
#: Events per transaction on a store with transactions (one row group).
COMMIT_ROWS = ROW_GROUP_ROWS
#: Groups validated ahead of the one being written (``parallel.pipelined``): the Python
#: stage and the statement take about as long per group, each varying group by group.
GROUPS_AHEAD = 4
_TEXT_COLUMNS = ("prompt_text", "context_text")
#: Buffers per ``os.writev`` call (the POSIX minimum of IOV_MAX is 16; Linux has 1024).
_IOV_MAX = min(1024, os.sysconf("SC_IOV_MAX")) if hasattr(os, "sysconf") else 16


@runtime_checkable
class SelectWriter(Protocol):
    """A store that inserts the rows of a ``SELECT`` it runs itself (see DuckDBStore)."""

    def write_select(
        self,
        select: str,
        params: list[Any],
        tables: Mapping[str, pa.Table],
        ts_range: tuple[datetime, datetime],
        rows: int,
        *,
        unique_keys: str | None = None,
    ) -> WriteResult:
        """Insert the rows of ``select`` with the store's de-duplication."""
        ...


@functools.lru_cache(maxsize=64)
def select_sql(keep_text: bool, max_object: int) -> str:
    """The ``SELECT`` of one block file: parameters are (source, block file path).

    Columns come in ARROW_SCHEMA order: parsed by DuckDB (``j``), taken from the structs
    (``p``), or constant. The ``WHERE`` raises inside DuckDB when a parsed row and its struct
    row do not line up, so a misaligned block can never be stored.
    """
    py_names = {name for name, _ in _PY_COLUMNS}
    cols: list[str] = []
    for f in ARROW_SCHEMA:
        if f.name in ("decision", "extra"):
            cols.append("NULL")
        elif f.name == "source":
            cols.append("NULLIF(?, '')")
        elif f.name in _TEXT_COLUMNS + ("response_text",) and not keep_text:
            cols.append("NULL")
        elif f.name in py_names:
            cols.append(f"p.{f.name}")
        else:
            cols.append(f"j.{f.name}")
    read = flatten_sql(keep_text, max_object, with_filename=True)
    # Every piece is a constant of this package: nothing user-given reaches the SQL text.
    return (
        f"SELECT {', '.join(cols)} FROM ({read}) j "  # noqa: S608
        f"POSITIONAL JOIN {PY_TABLE} p WHERE CASE WHEN j._file IS NOT NULL "
        "AND p.event_id IS NOT NULL AND j.request_id IS NOT DISTINCT FROM p._rid THEN true "
        "ELSE error('block rows do not line up with their records') END"
    )


@dataclass(slots=True)
class BlockWrite:
    """A clean run of validated lines, on disk for DuckDB, with its struct-made columns.

    Attributes:
        path: temporary file holding the run's lines (removed by :meth:`discard`); blank
            lines are kept, so line ``first + i`` of the input is line ``i`` of the file.
        py: the struct-made columns (``_rid``: each row's request id, for the alignment check).
        pending: the file's write when a writer thread is still doing it (see
            :func:`prepare_block`); :meth:`materialise` waits for it.
        writer: that thread, which then also removes the file (:meth:`discard`).
    """

    path: Path
    py: pa.Table
    first: int
    source: str
    limit: int
    keep_text: bool
    longest: int
    ts_range: tuple[datetime, datetime]
    pending: Future[None] | None = None
    writer: Executor | None = None

    @property
    def rows(self) -> int:
        """Events in the run."""
        return int(self.py.num_rows)

    def materialise(self) -> Path:
        """:attr:`path`, once its content is written (raises what the write raised)."""
        if self.pending is not None:
            self.pending.result()
            self.pending = None
        return self.path

    def table(self, parser: BlockParser | None = None) -> pa.Table:
        """The run's rows as an Arrow table in ARROW_SCHEMA (for stores without SELECT writes).

        Raises:
            NotFast: DuckDB refused the block.
        """
        path = self.materialise()
        sql = (parser or default_parser()).parse_file(path, self.keep_text, self.longest)
        if sql.num_rows != self.rows:
            raise NotFast(f"DuckDB read {sql.num_rows} rows of {self.rows}")
        py = {name: self.py.column(name) for name in self.py.column_names}
        return assemble_columns(sql, py, self.keep_text, self.source)

    def per_line(self) -> tuple[pa.Table, list[RejectTuple], int]:
        """The run flattened by the per-line path, read back from its file (the fall-back)."""
        lines = self.materialise().read_bytes().split(b"\n")
        return flatten_lines(self.first, lines, self.source, self.limit, self.keep_text)

    def discard(self) -> None:
        """Remove the temporary file (after its write, if one is still running).

        With a writer thread, that thread removes it: freeing a file's cached pages took
        ~10 ms per block of the benchmark's lines, between two statements otherwise.
        """
        if self.writer is not None:
            with contextlib.suppress(RuntimeError):  # the writer is shut down: remove it here
                self.writer.submit(_remove, self.path, self.pending)
                return
        _remove(self.path, self.pending)


def _remove(path: Path, pending: Future[None] | None) -> None:
    """Remove ``path`` once its write (``pending``) has finished, whatever it raised."""
    if pending is not None:
        with contextlib.suppress(Exception):
            pending.result()
    with contextlib.suppress(OSError):
        os.unlink(path)


def _write_lines(path: Path, lines: list[bytes]) -> None:
    """Write ``lines`` joined by newlines to ``path`` without joining them in Python.

    The kernel copies the lines from their own buffers (``os.writev``, the GIL released),
    so a writer thread doing this barely holds up the validating thread.
    """
    iov = [b"\n"] * (2 * len(lines) - 1)
    iov[::2] = lines
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        for i in range(0, len(iov), _IOV_MAX):
            chunk = iov[i : i + _IOV_MAX]
            done = os.writev(fd, chunk)
            want = sum(map(len, chunk))
            if done < want:  # a short write (rare on a regular file): finish it plainly
                rest = memoryview(b"".join(chunk))[done:]
                while rest:
                    rest = rest[os.write(fd, rest) :]
    finally:
        os.close(fd)


#: One part of a block, in line order: a clean run to write, or rows the per-line path made.
Rows = tuple[pa.Table, list[RejectTuple], int]
Part = BlockWrite | Rows


def prepare_block(
    block: ScannedBlock, directory: Path | None = None, writer: Executor | None = None
) -> list[Part]:
    """Split a scanned block into parts, in line order (the Python-side half of a write).

    Clean runs are written to temporary files (in ``directory``, default: the system's
    temporary directory), by ``writer`` when given (the reader's file-writing thread: the
    validating thread then only hands the lines over) or else here; the other runs are
    flattened by the per-line path.
    """
    lines, kinds, py = block.lines, block.kinds, block.fields
    parts: list[Part] = []
    row = 0
    for fast, s, e in _runs(kinds, block.min_fast_rows):
        if not fast:
            row += kinds.count(_FAST, s, e)
            slow = [line if line.__class__ is bytes else bytes(line) for line in lines[s:e]]
            parts.append(
                flatten_lines(block.first + s, slow, block.source, block.limit, block.keep_text)
            )
            continue
        # Blank lines stay in the file (DuckDB skips them, as we do) so that line numbers hold.
        run = lines if s == 0 and e == len(lines) else lines[s:e]
        count, longest = kinds.count(_FAST, s, e), max(map(len, run))
        part = py.slice(row, row + count)
        row += count
        fd, name = tempfile.mkstemp(prefix="dg-block-", suffix=".jsonl", dir=directory)
        os.close(fd)
        path = Path(name)
        pending = None
        if writer is None:
            _write_lines(path, run)
        else:
            pending = writer.submit(_write_lines, path, run)
        ts = part.cols[1]
        parts.append(
            BlockWrite(
                path=path,
                pending=pending,
                writer=writer,
                py=pa.table(py_arrays(part)),
                first=block.first + s,
                source=block.source,
                limit=block.limit,
                keep_text=block.keep_text,
                longest=longest,
                ts_range=(
                    _EPOCH + timedelta(microseconds=min(ts)),
                    _EPOCH + timedelta(microseconds=max(ts)),
                ),
            )
        )
    return parts


def group_parts(
    parts: Iterator[Part], rows: int | None = None
) -> Generator[list[BlockWrite] | Rows, None, None]:
    """Gather consecutive clean runs into groups of at least ``rows`` (GROUP_ROWS) events.

    A group is written by one statement (:func:`write_blocks`): DuckDB writes an insert of
    a row group or more (122,880 rows) straight to the table's storage instead of through
    its write-ahead log, which measured ~45% less CPU per event than 10,000-row inserts.
    """
    rows = GROUP_ROWS if rows is None else rows
    group: list[BlockWrite] = []
    count = 0
    for part in parts:
        if isinstance(part, BlockWrite):
            group.append(part)
            count += part.rows
            if count < rows:
                continue
        if group:
            yield group
            group, count = [], 0
        if not isinstance(part, BlockWrite):
            yield part
    if group:
        yield group


#: What writing runs returns: (result, rejections, records read).
Written = tuple[WriteResult, list[RejectTuple], int]


def write_blocks(
    store: Store, blocks: Sequence[BlockWrite], parser: BlockParser | None = None
) -> Written:
    """Write clean runs of one file to ``store``; returns (result, rejections, records read).

    On a :class:`SelectWriter` the runs go in one statement; if DuckDB refuses it (nothing
    is then inserted), each run is tried alone, and a run refused alone, or whose rows do
    not line up, takes the per-line path (its rejections, if any, are returned). The
    temporary files are removed. Each statement commits on its own (see :class:`BlockSink`
    for groups committed together).
    """
    try:
        for block in blocks:
            block.materialise()
        if isinstance(store, SelectWriter) and len(blocks) > 1:
            with contextlib.suppress(StoreError):
                return _select(store, blocks), [], sum(b.rows for b in blocks)
        inserted = duplicates = read = 0
        rejects: list[RejectTuple] = []
        for block in blocks:
            res, rej, n = _write_one(store, block, parser)
            inserted, duplicates, read = (
                inserted + res.inserted,
                duplicates + res.duplicates,
                read + n,
            )
            rejects += rej
        return WriteResult(inserted, duplicates), rejects, read
    finally:
        _discard(blocks)


def _select(store: SelectWriter, blocks: Sequence[BlockWrite]) -> WriteResult:
    first = blocks[0]
    sql = select_sql(first.keep_text, _object_size(max(b.longest for b in blocks)))
    py = first.py if len(blocks) == 1 else pa.concat_tables([b.py for b in blocks])
    paths = [str(b.path) for b in blocks]
    lo = min(b.ts_range[0] for b in blocks)
    hi = max(b.ts_range[1] for b in blocks)
    keys = py.select(["event_id", "ts"])
    unique = keys.group_by(["event_id", "ts"]).aggregate([]).num_rows == py.num_rows
    return store.write_select(
        sql,
        [first.source, paths],
        {PY_TABLE: py},
        (lo, hi),
        py.num_rows,
        unique_keys=PY_TABLE if unique else None,
    )


def _write_one(store: Store, block: BlockWrite, parser: BlockParser | None) -> Written:
    if isinstance(store, SelectWriter):
        with contextlib.suppress(StoreError):  # nothing was inserted: the per-line path decides
            return _select(store, [block]), [], block.rows
    else:
        with contextlib.suppress(NotFast):
            return store.write(block.table(parser)), [], block.rows
    table, rejects, read = block.per_line()
    return store.write(table), rejects, read


class BlockSink:
    """Writes groups of clean runs, committing them a row group at a time.

    On a store that runs its own ``SELECT``s and has transactions (DuckDB), each group is
    one statement (:data:`GROUP_ROWS`, half a row group) inside a transaction committed
    once it holds :data:`COMMIT_ROWS` events and whenever the caller asks (:meth:`flush`:
    ``ingest_paths`` does before rows of the per-line path, when a file cannot be read
    further and at the end of the run; a transaction may hold several files' groups).
    DuckDB writes a transaction's appended rows to the table's storage a whole row group
    at a time, as it does for one row-group-sized insert
    (half-row-group inserts committed one by one go through the write-ahead log instead:
    their statements took twice as long, measured). With the statement half as long, the
    store starts writing half a row group sooner and finishes half a row group after the
    validating thread does, instead of a whole one: ten alternating loads of the
    benchmark's 1 GB file took 6.00 s on average against 6.16 s (docs/benchmarks.md,
    "Ingest").

    A statement DuckDB refuses aborts the transaction: it is rolled back, and its groups,
    whose files are kept until the commit, are written again one at a time, each committing
    on its own, by :func:`write_blocks` (each run alone, else by the per-line path). Other
    stores get each group from :func:`write_blocks` at once. Between :meth:`write` and the
    commit the store's connection is inside the transaction: nothing else may use it.
    """

    def __init__(self, store: Store, rows: int | None = None) -> None:
        self.store = store
        self.rows = COMMIT_ROWS if rows is None else rows
        self._txn = isinstance(store, SelectWriter) and isinstance(store, Transactional)
        self._open: list[tuple[Sequence[BlockWrite], WriteResult]] = []
        self._open_rows = 0

    def write(self, blocks: Sequence[BlockWrite]) -> list[Written]:
        """Write one group; returns the results that are now final (committed), in order."""
        store = self.store
        if not (self._txn and isinstance(store, SelectWriter)):
            return [write_blocks(store, blocks)]
        try:
            for block in blocks:
                block.materialise()
            if not self._open:
                self._transaction().begin()
            res = _select(store, blocks)
        except StoreError:
            return self._redo(blocks)
        except BaseException:
            _discard(blocks)
            raise
        self._open.append((blocks, res))
        self._open_rows += sum(b.rows for b in blocks)
        return self.flush() if self._open_rows >= self.rows else []

    def flush(self) -> list[Written]:
        """Commit the open transaction; the results of its groups."""
        if not self._open:
            return []
        try:
            self._transaction().commit()
        except StoreError:
            return self._redo(())
        done: list[Written] = [(res, [], sum(b.rows for b in blocks)) for blocks, res in self._open]
        self._close_open()
        return done

    def abort(self) -> None:
        """Roll back the open transaction (its groups are not stored); remove their files."""
        if not self._open:
            return
        try:
            with contextlib.suppress(StoreError):
                self._transaction().rollback()
        finally:
            self._close_open()

    def _transaction(self) -> Transactional:
        store = self.store
        assert isinstance(store, Transactional)
        return store

    def _close_open(self) -> None:
        for blocks, _ in self._open:
            _discard(blocks)
        self._open, self._open_rows = [], 0

    def _redo(self, failed: Sequence[BlockWrite]) -> list[Written]:
        """Roll back, then write the transaction's groups (and ``failed``) one at a time."""
        with contextlib.suppress(StoreError):  # DuckDB may have ended the transaction itself
            self._transaction().rollback()
        groups = [blocks for blocks, _ in self._open]
        self._open, self._open_rows = [], 0
        if failed:
            groups.append(failed)
        done: list[Written] = []
        for i, blocks in enumerate(groups):
            try:
                done.append(write_blocks(self.store, blocks))
            except BaseException:
                for rest in groups[i + 1 :]:
                    _discard(rest)
                raise
        return done


def _discard(blocks: Sequence[BlockWrite]) -> None:
    for block in blocks:
        block.discard()
