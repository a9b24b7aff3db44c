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
from typing import BinaryIO, TypeVar

import numpy as np
import zstandard

from distillguard.errors import InputError

#: gzip's two magic bytes plus CM = 8 (deflate, the only method RFC 1952 defines): a plain
#: text file whose first line happens to start with 1f 8b is not mistaken for gzip.
GZIP_MAGIC = b"\x1f\x8b\x08"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Bytes read from the (decompressed) stream at a time.
BLOCK_SIZE = 4 * 1024 * 1024
_PIECE = 256 * 1024


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


class _ZstdReader:
    """Frame-by-frame zstd decoding that notices a truncated last frame.

    ``zstandard``'s stream reader ends silently when the input stops mid-frame; losing the
    tail of a file without a word is what we must never do, so frames are tracked here.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._in_frame = False

    def read1(self, size: int) -> bytes:
        while True:
            chunk = self._raw.read(size)
            if not chunk:
                if self._in_frame:
                    raise zstandard.ZstdError("the last zstd frame is incomplete")
                return b""
            out = []
            while chunk:
                self._in_frame = True
                out.append(self._dobj.decompress(chunk))
                if self._dobj.eof:
                    chunk = self._dobj.unused_data
                    self._dobj = self._dctx.decompressobj()
                    self._in_frame = False
                else:
                    chunk = b""
            data = b"".join(out)
            if data:
                return data

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        got = 0
        while size < 0 or got < size:
            piece = self.read1(_PIECE if size < 0 else size - got)
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading, decompressing gzip or zstd transparently."""
    kind = compression_of(path)
    raw = path.open("rb")
    try:
        if kind == "gzip":
            yield gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[misc]
        elif kind == "zstd":
            yield _ZstdReader(raw)  # type: ignore[misc]
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
    # Small reads of a compressed stream, so that damage loses at most one piece, not a
    # whole block; a plain file is read a block at a time (no pieces to join: one copy less).
    piece_size = _PIECE if compression_of(path) in ("gzip", "zstd") else block_size
    with open_binary(path) as fh:
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                piece = fh.read1(piece_size) if hasattr(fh, "read1") else fh.read(piece_size)
            except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
                if parts:
                    yield b"".join(parts)
                raise CorruptStream(f"compressed stream is truncated or corrupt ({exc})") from None
            if not piece:
                if parts:
                    yield b"".join(parts)
                return
            parts.append(piece)
            size += len(piece)
            if size >= block_size:
                yield b"".join(parts)
                parts, size = [], 0


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
    rest: list[bytes] = []
    return _batched(_split_copies(path, block_size, rest), max_lines, rest)


#: A line of :func:`iter_line_views`: a view into a block read from the file, or bytes.
Line = bytes | memoryview
_NL = ord("\n")
#: ASCII whitespace but the newline (``bytes.isspace``'s set).
_WS = b" \t\r\x0b\x0c"
_WHITESPACE = np.frombuffer(_WS, np.uint8)


def iter_line_views(
    path: Path, max_lines: int, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, list[Line]]]:
    """:func:`iter_line_batches`, each line a ``memoryview`` of the block it was read in.

    No line is copied (a line that spans two blocks is joined into ``bytes``); the views
    keep their blocks alive until they are dropped. ``bytes.split`` copies every line into
    a new object: splitting the ingest benchmark's 1 GB file took 0.75-0.93 s that way and
    0.68 s as views. The block fast path uses it: it only decodes, measures and writes its
    lines (end to end: docs/benchmarks.md, "Ingest", seventeenth session). An empty line is
    ``b""`` and a line that begins with ASCII whitespace is ``bytes`` (so that ``isspace()``
    can tell a blank line).

    Raises:
        CorruptStream: as :func:`iter_line_batches`.
    """
    rest: list[bytes] = []
    return _batched(_split_views(path, block_size, rest), max_lines, rest)


_L = TypeVar("_L", bytes, Line)


def _batched(
    splits: Iterator[list[_L]], max_lines: int, rest: list[bytes]
) -> Iterator[tuple[int, list[_L]]]:
    """Batches of at most ``max_lines`` of the lines ``splits`` yields, numbered from 1.

    ``rest`` holds the pieces of the line the splitter has not finished: the partial line
    of a :class:`CorruptStream` raised after every complete line has been yielded.
    """
    line_no = 1
    pending: list[_L] = []
    try:
        for lines in splits:
            pending.extend(lines)
            while len(pending) >= max_lines:
                out, pending = pending[:max_lines], pending[max_lines:]
                yield line_no, out
                line_no += len(out)
    except CorruptStream as exc:
        if pending:
            yield line_no, pending
            line_no += len(pending)
        raise CorruptStream(exc.reason, partial=b"".join(rest), line=line_no) from None
    if pending:
        yield line_no, pending


def _split_copies(path: Path, block_size: int, rest: list[bytes]) -> Iterator[list[bytes]]:
    """The lines of each block (``bytes.split``), then the unfinished last one."""
    for block in iter_blocks(path, block_size):
        parts = block.split(b"\n")
        if rest:  # only the first line continues the previous block: no copy of the block
            parts[0] = b"".join(rest) + parts[0]
            rest.clear()
        tail = parts.pop()
        if tail:
            rest.append(tail)
        yield parts
    if rest:
        yield [b"".join(rest)]


def _split_views(path: Path, block_size: int, rest: list[bytes]) -> Iterator[list[Line]]:
    """The lines of each block as views (numpy finds the newlines), then the last one."""
    for block in iter_blocks(path, block_size):
        data = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(data == _NL)
        if not len(ends):
            rest.append(block)
            continue
        cut = int(ends[0])
        lines: list[Line]
        if rest:
            rest.append(block[:cut])
            lines = [b"".join(rest)]
            rest.clear()
        else:
            lines = [_line(block, 0, cut)]
        lines += _views(block, data, ends)
        tail = int(ends[-1]) + 1
        if tail < len(block):
            rest.append(block[tail:])
        yield lines
    if rest:
        yield [b"".join(rest)]


def _line(block: bytes, start: int, end: int) -> Line:
    """One line of ``block``: a view, or bytes when it is empty or starts with whitespace."""
    if start == end:
        return b""
    if block[start] in _WS:
        return block[start:end]
    return memoryview(block)[start:end]


def _views(block: bytes, data: np.ndarray, ends: np.ndarray) -> list[Line]:
    """The lines of ``block`` between its newlines ``ends`` (numpy positions), in order."""
    starts = ends[:-1] + 1
    stops = ends[1:]
    view = memoryview(block)
    lines: list[Line] = list(map(view.__getitem__, map(slice, starts.tolist(), stops.tolist())))
    # Empty or whitespace-led lines (rare) become bytes, so that blank lines can be told.
    # (Every start is before the last newline, so it indexes ``data``.)
    odd = np.flatnonzero((starts == stops) | np.isin(data[starts], _WHITESPACE))
    for i in odd.tolist():
        lines[i] = block[int(starts[i]) : int(stops[i])]
    return lines
