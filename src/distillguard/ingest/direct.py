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
    _READ_COLUMNS,
    _SELECT_SQL,
    BlockParser,
    NotFast,
    ScannedBlock,
    _assemble,
    _Fields,
    _object_size,
    _runs,
    default_parser,
)
from distillguard.ingest.jsonl import RejectTuple, flatten_lines
from distillguard.store.base import Store, WriteResult

#: Name the struct-made columns are registered under for the statement.
PY_TABLE = "_dg_py"
_TEXT_COLUMNS = ("prompt_text", "context_text")


@runtime_checkable
class SelectWriter(Protocol):
    """A store that inserts the rows of a ``SELECT`` it runs itself (see DuckDBStore)."""

    def write_select(
        self,
        select: str,
        params: list[Any],
        tables: dict[str, pa.Table],
        ts_range: tuple[datetime, datetime],
        rows: int,
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
    spec = {
        k: v.format(text=", text VARCHAR" if keep_text else "") for k, v in _READ_COLUMNS.items()
    }
    spec_sql = "{" + ", ".join(f"{k}: '{v}'" for k, v in spec.items()) + "}"
    text = ", response.text AS response_text" if keep_text else ""
    # Every piece is a constant of this package: nothing user-given reaches the SQL text.
    return (
        f"SELECT {', '.join(cols)} FROM ("  # noqa: S608
        f"SELECT {_SELECT_SQL}{text}, filename AS _file FROM read_json(?, "
        f"format = 'newline_delimited', columns = {spec_sql}, "
        f"maximum_object_size = {int(max_object)}, filename = true)) j "
        f"POSITIONAL JOIN {PY_TABLE} p WHERE CASE WHEN j._file IS NOT NULL "
        "AND p.event_id IS NOT NULL AND j.request_id IS NOT DISTINCT FROM p._rid THEN true "
        "ELSE error('block rows do not line up with their records') END"
    )


@dataclass(slots=True)
class BlockWrite:
    """A clean run of validated lines, on disk for DuckDB, with its struct-made columns.

    Attributes:
        path: temporary file holding the run's lines (removed by :meth:`discard`).
        py: the struct-made columns (``_rid``: each row's request id, for the alignment check).
        first: line number of ``lines[0]``; ``lines`` are kept for the per-line fall-back.
    """

    path: Path
    py: pa.Table
    first: int
    lines: list[bytes]
    source: str
    limit: int
    keep_text: bool
    longest: int
    ts_range: tuple[datetime, datetime]

    @property
    def rows(self) -> int:
        """Events in the run."""
        return int(self.py.num_rows)

    def table(self, parser: BlockParser | None = None) -> pa.Table:
        """The run's rows as an Arrow table in ARROW_SCHEMA (for stores without SELECT writes).

        Raises:
            NotFast: DuckDB refused the block.
        """
        sql = (parser or default_parser()).parse_file(self.path, self.keep_text, self.longest)
        if sql.num_rows != self.rows:
            raise NotFast(f"DuckDB read {sql.num_rows} rows of {self.rows}")
        names = set(self.py.column_names)
        fields = _Fields(
            tuple(self.py.column(n).to_pylist() if n in names else [] for n, _ in _PY_COLUMNS)
        )
        return _assemble(sql, fields, self.keep_text, self.source)

    def per_line(self) -> tuple[pa.Table, list[RejectTuple], int]:
        """The run flattened by the per-line path (the fall-back)."""
        return flatten_lines(self.first, self.lines, self.source, self.limit, self.keep_text)

    def discard(self) -> None:
        """Remove the temporary file."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


#: One part of a block, in line order: a clean run to write, or rows the per-line path made.
Part = BlockWrite | tuple[pa.Table, list[RejectTuple], int]


def prepare_block(block: ScannedBlock) -> list[Part]:
    """Split a scanned block into parts, in line order (the Python-side half of a write).

    Clean runs are written to temporary files here, so that the thread writing to the store
    only runs DuckDB; the other runs are flattened by the per-line path.
    """
    lines, kinds, py = block.lines, block.kinds, block.fields
    parts: list[Part] = []
    row = 0
    for fast, s, e in _runs(kinds, block.min_fast_rows):
        if not fast:
            row += kinds.count(_FAST, s, e)
            parts.append(
                flatten_lines(
                    block.first + s, lines[s:e], block.source, block.limit, block.keep_text
                )
            )
            continue
        if s == 0 and e == len(lines):  # the whole block is clean: the usual case
            count, payload = kinds.count(_FAST), block.payload
            longest = max(map(len, lines))
        else:
            clean = [lines[i] for i in range(s, e) if kinds[i] == _FAST]
            count, payload, longest = len(clean), b"\n".join(clean), max(map(len, clean))
        part = py.slice(row, row + count)
        row += count
        fd, name = tempfile.mkstemp(prefix="dg-block-", suffix=".jsonl")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        ts = part.cols[1]
        parts.append(
            BlockWrite(
                path=Path(name),
                py=_py_table(part, block.keep_text),
                first=block.first + s,
                lines=lines[s:e],
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


def _py_table(fields: _Fields, keep_text: bool) -> pa.Table:
    return pa.table(
        {
            name: pa.array(values, type=typ)
            for (name, typ), values in zip(_PY_COLUMNS, fields.cols, strict=True)
            if keep_text or name not in _TEXT_COLUMNS
        }
    )


def write_block(
    store: Store, block: BlockWrite, parser: BlockParser | None = None
) -> tuple[WriteResult, list[RejectTuple], int]:
    """Write one clean run to ``store``; returns (write result, rejections, records read).

    A run DuckDB refuses, or whose rows do not line up, is written by the per-line path
    instead (its rejections, if any, are returned). The temporary file is removed.
    """
    try:
        if isinstance(store, SelectWriter):
            sql = select_sql(block.keep_text, _object_size(block.longest))
            try:
                res = store.write_select(
                    sql,
                    [block.source, str(block.path)],
                    {PY_TABLE: block.py},
                    block.ts_range,
                    block.rows,
                )
                return res, [], block.rows
            except StoreError:
                pass  # nothing was inserted: the per-line path decides
        else:
            with contextlib.suppress(NotFast):
                return store.write(block.table(parser)), [], block.rows
        table, rejects, read = block.per_line()
        return store.write(table), rejects, read
    finally:
        block.discard()
