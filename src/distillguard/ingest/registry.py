"""The explicit registry of readers and format auto-detection."""

from __future__ import annotations

from pathlib import Path

from distillguard.errors import InputError
from distillguard.ingest.base import Reader
from distillguard.ingest.compression import read_head
from distillguard.ingest.jsonl import JsonlReader
from distillguard.ingest.openai_batch import OpenAIBatchReader
from distillguard.ingest.otel import OtelReader
from distillguard.ingest.parquet import ParquetReader

#: format name -> reader. Add a line to add a format.
READERS: dict[str, Reader] = {
    "jsonl": JsonlReader(),
    "parquet": ParquetReader(),
    "openai-batch": OpenAIBatchReader(),
    "otel": OtelReader(),
}

#: Order in which content sniffing tries readers: the most specific shapes first.
_SNIFF_ORDER: tuple[str, ...] = ("parquet", "otel", "openai-batch", "jsonl")
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")


def get_reader(fmt: str) -> Reader:
    """The reader registered under ``fmt``.

    Raises:
        InputError: unknown format, listing the known ones.
    """
    try:
        return READERS[fmt]
    except KeyError:
        known = ", ".join(["auto", *READERS])
        raise InputError(f"unknown format {fmt!r}; known formats: {known}") from None


def detect_format(path: Path) -> str:
    """Guess the format of ``path`` from its first bytes, then from its extension.

    Raises:
        InputError: the file matches no known format (the message suggests ``--format``).
    """
    head = read_head(path)
    for name in _SNIFF_ORDER:
        if READERS[name].sniff(head):
            return name
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in _COMPRESSED_SUFFIXES]
    ext = suffixes[-1] if suffixes else ""
    # Content did not decide (an empty file, or a first line that is itself bad): trust the
    # extension, so that one bad first line quarantines one record, not the whole file.
    for name, reader in READERS.items():
        if ext in reader.extensions:
            return name
    shown = head[:40].decode("utf-8", "replace")
    raise InputError(
        f"{path}: cannot recognise the format (starts with {shown!r}); "
        f"pass --format ({', '.join(READERS)})"
    )
