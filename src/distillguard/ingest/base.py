"""The reader seam: one reader per log format, chosen from an explicit registry.

To add a format, write a class with the :class:`Reader` shape: ``name`` and ``extensions``
as ClassVars, ``sniff(head)`` to recognise the first bytes of a (decompressed) file, and
``read(path, options)`` yielding one :class:`~distillguard.events.Event` or one
:class:`Rejected` per input record, in source order, in constant memory. A reader never
raises for a bad record: it yields a :class:`Rejected` naming file, line and field. It raises
:class:`~distillguard.errors.InputError` only when the whole input is unusable.

A reader may also implement :class:`TableReader` (``read_tables``), yielding already
flattened Arrow batches; the ingest pipeline prefers it because it skips building Python
objects for valid records (the JSONL hot path and flat Parquet do this).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

from distillguard.errors import RecordError
from distillguard.events import Event
from distillguard.events.validate import DEFAULT_MAX_TEXT_CHARS

if TYPE_CHECKING:
    from distillguard.ingest.direct import BlockWrite

#: Raw records are truncated to this many characters in error messages and quarantine.
RAW_PREVIEW_CHARS = 2_000


class Rejected(RecordError):
    """A record that failed validation, with enough context to quarantine it.

    Attributes:
        raw: the record as read (decoded leniently, truncated to RAW_PREVIEW_CHARS).
    """

    def __init__(
        self, reason: str, *, source: str, line: int, field: str = "", raw: str = ""
    ) -> None:
        super().__init__(reason, source=source, line=line, field=field)
        self.raw = raw


def preview(raw: bytes | str) -> str:
    """Return ``raw`` as text (invalid UTF-8 replaced), truncated for error reports."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text) > RAW_PREVIEW_CHARS:
        return text[:RAW_PREVIEW_CHARS] + f"...[{len(text) - RAW_PREVIEW_CHARS:,} more chars]"
    return text


def reject(exc: RecordError, *, source: str, line: int, raw: bytes | str) -> Rejected:
    """Attach location and raw text to a validation error raised without them."""
    return Rejected(exc.reason, source=source, line=line, field=exc.field, raw=preview(raw))


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Options every reader receives.

    Attributes:
        batch_size: records per batch (readers that batch use it as a hint).
        max_text_chars: longest accepted prompt, message or response text.
        keep_text: keep prompt/response text in flattened tables (TableReader only).
        source_name: name recorded in the ``source`` column and in errors.
        format_options: reader-specific options (``account_id``, ``batch_output``, ...).
        work_dir: a directory for temporary files that outlives the reader's iteration
            (``ingest_paths`` gives one per run: the store may still be writing a file's
            last blocks while the next file is read); None: the reader makes its own.
        background: the caller iterates the reader in a background thread of its own
            (``ingest_paths`` does): the JSONL fast path then validates there instead of
            starting a thread per file.
    """

    batch_size: int = 50_000
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    keep_text: bool = False
    source_name: str = ""
    format_options: dict[str, Any] = field(default_factory=dict)
    work_dir: Path | None = None
    background: bool = False

    def option(self, name: str, default: Any = None) -> Any:
        """A reader-specific option, or ``default``."""
        value = self.format_options.get(name)
        return default if value is None else value


@dataclass(frozen=True, slots=True)
class TableChunk:
    """A batch of flattened, validated events plus the records rejected while reading it.

    ``read`` counts every record read for this chunk (``table.num_rows + len(rejected)``).
    A chunk may instead carry clean runs of JSONL lines still to be parsed (``blocks``, with
    an empty ``table``): :func:`distillguard.ingest.direct.write_blocks` writes them.
    """

    table: pa.Table
    rejected: list[Rejected]
    read: int
    blocks: tuple[BlockWrite, ...] = ()


@runtime_checkable
class Reader(Protocol):
    """Reads one log format. See the module docstring for how to write one."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def sniff(self, head: bytes) -> bool:
        """True when ``head`` (the first bytes, decompressed) looks like this format."""
        ...

    def read(self, path: Path, options: ReadOptions) -> Iterator[Event | Rejected]:
        """Yield each record of ``path`` as an event or a rejection, in source order."""
        ...


@runtime_checkable
class TableReader(Protocol):
    """Optional ability: yield flattened Arrow batches directly (faster)."""

    def read_tables(self, path: Path, options: ReadOptions) -> Iterator[TableChunk]:
        """Yield validated, flattened batches in :data:`~distillguard.events.ARROW_SCHEMA`."""
        ...
