"""Transparent decompression (gzip, zstd) chosen by magic bytes, and constant-memory line reading.

The extension is not trusted: ``events.jsonl`` that is really gzip is read as gzip, and
``events.jsonl.gz`` that is really plain text is read as plain text.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import zstandard

from distillguard.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Bytes read from the (decompressed) stream at a time.
BLOCK_SIZE = 4 * 1024 * 1024


class CorruptStream(InputError):
    """The compressed stream ended early or is damaged; data before the damage was read.

    Attributes:
        partial: the unfinished line just before the damage (may be empty).
        line: the line number at which reading stopped (0 if unknown).
    """

    def __init__(self, reason: str, *, partial: bytes = b"", line: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
        self.line = line


def compression_of(path: Path) -> str:
    """Return ``"gzip"``, ``"zstd"`` or ``"none"`` from the first bytes of ``path``."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading, decompressing gzip or zstd transparently."""
    kind = compression_of(path)
    raw = path.open("rb")
    try:
        if kind == "gzip":
            yield gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[misc]
        elif kind == "zstd":
            dctx = zstandard.ZstdDecompressor()
            yield dctx.stream_reader(raw, read_across_frames=True)  # type: ignore[misc]
        else:
            yield raw
    finally:
        raw.close()


def read_head(path: Path, size: int = 65_536) -> bytes:
    """The first ``size`` decompressed bytes of ``path`` (fewer if the file is shorter)."""
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError):
        # A damaged stream is reported by the reader, with the line where it broke.
        return b""


def iter_blocks(path: Path, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """Yield decompressed blocks of ``path``.

    Raises:
        CorruptStream: after yielding everything readable, when the stream is damaged.
    """
    with open_binary(path) as fh:
        while True:
            try:
                block = fh.read(block_size)
            except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
                raise CorruptStream(f"compressed stream is truncated or corrupt ({exc})") from None
            if not block:
                return
            yield block


def iter_line_batches(
    path: Path, max_lines: int, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, list[bytes]]]:
    """Yield ``(first_line_number, lines)`` with at most ``max_lines`` lines per batch.

    Lines keep no trailing newline; blank lines are kept so that line numbers stay exact.
    Memory is bounded by ``block_size`` plus the longest line.

    Raises:
        CorruptStream: with ``.partial`` (the unfinished line) and ``.line`` set, after every
            complete line before the damage has been yielded.
    """
    rest = b""
    line_no = 1
    pending: list[bytes] = []
    try:
        for block in iter_blocks(path, block_size):
            parts = (rest + block).split(b"\n") if rest else block.split(b"\n")
            rest = parts.pop()
            pending.extend(parts)
            while len(pending) >= max_lines:
                out, pending = pending[:max_lines], pending[max_lines:]
                yield line_no, out
                line_no += len(out)
    except CorruptStream as exc:
        if pending:
            yield line_no, pending
            line_no += len(pending)
        raise CorruptStream(exc.reason, partial=rest, line=line_no) from None
    if rest:
        pending.append(rest)
    if pending:
        yield line_no, pending
