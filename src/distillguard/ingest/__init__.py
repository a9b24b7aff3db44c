"""Reading logs into the store: canonical JSONL, Parquet, OpenAI Batch files, OTel GenAI spans.

Every reader streams in constant memory and decompresses gzip and zstd transparently (chosen
by magic bytes). A bad record never stops a run: it is quarantined with file, line, field and
reason, and ``read == accepted + duplicates + quarantined`` holds for every run. See
docs/ingest.md.
"""

from __future__ import annotations

from distillguard.events.validate import DEFAULT_MAX_TEXT_CHARS
from distillguard.ingest.base import Reader, ReadOptions, Rejected, TableChunk, TableReader
from distillguard.ingest.quarantine import QuarantineRecord, read_quarantine
from distillguard.ingest.registry import READERS, detect_format, get_reader
from distillguard.ingest.run import (
    IngestReport,
    RejectedSource,
    SourceReport,
    expand_paths,
    ingest_paths,
    iter_events,
)

__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "READERS",
    "IngestReport",
    "QuarantineRecord",
    "ReadOptions",
    "Reader",
    "Rejected",
    "RejectedSource",
    "SourceReport",
    "TableChunk",
    "TableReader",
    "detect_format",
    "expand_paths",
    "get_reader",
    "ingest_paths",
    "iter_events",
    "read_quarantine",
]
