"""Line reading: ``iter_line_views`` yields exactly the lines of ``iter_line_batches``."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from distillguard.ingest.compression import (
    GZIP_MAGIC,
    ZSTD_MAGIC,
    CorruptStream,
    iter_line_batches,
    iter_line_views,
)

_line = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")),
    st.sampled_from([b"", b" ", b"\t\r", b'  {"a": 1}', b"\x0b{", b"{}\r"]),
)


def _as_bytes(batches: list[tuple[int, list[bytes | memoryview]]]) -> list[tuple[int, list[bytes]]]:
    return [(first, [bytes(line) for line in lines]) for first, lines in batches]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(_line, max_size=60),
    final_newline=st.booleans(),
    block_size=st.integers(min_value=1, max_value=64),
    max_lines=st.integers(min_value=1, max_value=9),
)
def test_views_are_the_lines_of_the_batches(
    tmp_path: Path, lines: list[bytes], final_newline: bool, block_size: int, max_lines: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    assume(not data.startswith((GZIP_MAGIC, ZSTD_MAGIC)))  # would be read as compressed
    path = tmp_path / "lines.jsonl"
    path.write_bytes(data)
    views = list(iter_line_views(path, max_lines, block_size))
    assert _as_bytes(views) == list(iter_line_batches(path, max_lines, block_size))
    for _, batch in views:
        for line in batch:
            assert isinstance(line, bytes | memoryview)
            # A line that could be blank is bytes, so that isspace() can tell.
            if not line or line[0] in b" \t\r\x0b\x0c":
                assert isinstance(line, bytes)


def test_a_line_longer_than_a_block_is_joined(tmp_path: Path) -> None:
    long = b"{" + b"x" * 1000 + b"}"
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"a\n" + long + b"\nb")
    [(first, lines)] = list(iter_line_views(path, 10, block_size=64))
    assert first == 1
    assert [bytes(line) for line in lines] == [b"a", long, b"b"]
    assert isinstance(lines[1], bytes)  # spanned blocks: joined, not a view
    assert isinstance(lines[0], memoryview)


def test_corrupt_gzip_gives_the_same_lines_and_error_as_batches(tmp_path: Path) -> None:
    body = b"".join(b'{"n": %d}\n' % i for i in range(5000))
    whole = gzip.compress(body)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])

    def run(split: object) -> tuple[list[tuple[int, list[bytes]]], CorruptStream]:
        out: list[tuple[int, list[bytes]]] = []
        with pytest.raises(CorruptStream) as info:
            for first, lines in split(path, 700):  # type: ignore[operator]
                out.append((first, [bytes(line) for line in lines]))
        return out, info.value

    got, err = run(iter_line_views)
    want, want_err = run(iter_line_batches)
    assert got == want and got
    assert (err.line, err.partial, err.reason) == (want_err.line, want_err.partial, want_err.reason)
