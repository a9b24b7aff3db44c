from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from distillguard.events import Event, decode_event, event_row
from distillguard.ingest import Rejected, ingest_paths, iter_events, read_quarantine
from distillguard.ingest.jsonl import decode_line_fast
from distillguard.store import DuckDBStore
from tests.ingest.conftest import event_obj, lines_of


def test_fast_path_rows_equal_general_path_rows() -> None:
    for i in range(30):
        line = lines_of([event_obj(i, ts="2026-01-01T10:00:00+02:00", request_id=None)])
        fast = decode_line_fast(line.strip(), 1000)
        slow = decode_event(line.strip())
        assert event_row(fast, keep_text=True) == event_row(slow, keep_text=True)


def test_fast_path_keeps_unknown_fields() -> None:
    line = b'{"ts": 1767225600, "account_id": "a", "tenant": "t", "client": {"pop": "fra"}}'
    ev = decode_line_fast(line, 1000)
    assert ev.extra == {"tenant": "t", "client.pop": "fra"}


def test_golden_bad_file_counts_and_reasons(
    data_dir: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    q = tmp_path / "q.jsonl"
    rep = ingest_paths([data_dir / "bad_mixed.jsonl"], store, quarantine=q)
    assert (rep.read, rep.accepted, rep.duplicates, rep.quarantined) == (8, 3, 0, 5)
    recs = {r.line: r for r in read_quarantine(q)}
    assert sorted(recs) == [2, 3, 4, 7, 8]
    assert "not valid JSON" in recs[2].reason
    assert recs[3].field == "" and "account_id" in recs[3].reason
    assert recs[4].field == "ts"
    assert recs[7].field == "usage.input_tokens"
    assert "expected a JSON object" in recs[8].reason
    assert all(r.source.endswith("bad_mixed.jsonl") for r in recs.values())
    rows = store.sql("SELECT account_id, ts, extra FROM events ORDER BY request_id").to_pylist()
    assert [r["account_id"] for r in rows] == ["acct-1", "acct-2", "acct-3"]
    assert rows[1]["extra"] == '{"tenant":"blue","client.pop":"fra"}'
    assert str(rows[2]["ts"]) == "2026-01-05 10:00:00+00:00"


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".txt"])
@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_compression_detected_by_magic_not_extension(
    tmp_path: Path, store: DuckDBStore, suffix: str, codec: str
) -> None:
    data = lines_of([event_obj(i) for i in range(50)])
    if codec == "gzip":
        data = gzip.compress(data)
    elif codec == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    p = tmp_path / f"events{suffix}"
    p.write_bytes(data)
    rep = ingest_paths([p], store)
    assert (rep.read, rep.accepted, rep.quarantined) == (50, 50, 0)


def test_truncated_gzip_keeps_what_was_read_and_names_the_line(
    tmp_path: Path, store: DuckDBStore
) -> None:
    data = gzip.compress(lines_of([event_obj(i) for i in range(2000)]))
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    q = tmp_path / "q.jsonl"
    rep = ingest_paths([p], store, quarantine=q)
    assert rep.accepted > 100
    assert rep.read == rep.accepted + rep.quarantined
    (last,) = [r for r in read_quarantine(q) if r.field == "<stream>"]
    assert "truncated or corrupt" in last.reason and last.line == rep.accepted + 1


def test_truncated_zstd_is_reported(tmp_path: Path, store: DuckDBStore) -> None:
    data = zstandard.ZstdCompressor().compress(lines_of([event_obj(i) for i in range(2000)]))
    p = tmp_path / "cut.jsonl.zst"
    p.write_bytes(data[: len(data) // 2])
    rep = ingest_paths([p], store)
    assert rep.quarantined >= 1 and rep.read == rep.accepted + rep.quarantined
    assert any("truncated or corrupt" in s for s in rep.samples)


def test_invalid_utf8_is_named(tmp_path: Path, store: DuckDBStore) -> None:
    p = tmp_path / "u.jsonl"
    p.write_bytes(
        lines_of([event_obj(1)])
        + b'{"ts": 1767225600, "account_id": "caf\xe9", "prompt": "x"}\n'
        + lines_of([event_obj(2)])
    )
    rep = ingest_paths([p], store)
    assert (rep.accepted, rep.quarantined) == (2, 1)
    assert "u.jsonl:2: not valid UTF-8" in rep.samples[0]


def test_ten_megabyte_prompt_is_quarantined_with_reason(
    write_jsonl: Callable[..., Path], store: DuckDBStore, tmp_path: Path
) -> None:
    big = event_obj(1, prompt="x" * 10_000_000, messages=None)
    p = write_jsonl("big.jsonl", [event_obj(0), big, event_obj(2)])
    q = tmp_path / "q.jsonl"
    rep = ingest_paths([p], store, quarantine=q)
    assert (rep.accepted, rep.quarantined) == (2, 1)
    (rec,) = read_quarantine(q)
    assert rec.line == 2 and rec.field == "prompt"
    assert "10,000,000 characters, over the limit of 1,000,000" in rec.reason
    assert len(rec.raw) < 3_000


def test_text_cap_is_configurable(write_jsonl: Callable[..., Path], store: DuckDBStore) -> None:
    p = write_jsonl("e.jsonl", [event_obj(1, response={"text": "y" * 500})])
    rep = ingest_paths([p], store, max_text_chars=100)
    assert rep.quarantined == 1 and "response.text" in rep.samples[0]


def test_empty_file_reads_nothing_and_is_not_an_error(tmp_path: Path, store: DuckDBStore) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    rep = ingest_paths([p], store, fmt="jsonl")
    assert rep.read == 0 and rep.usable and rep.sources[0].note.startswith("empty")


def test_blank_lines_are_not_records_but_line_numbers_stay_exact(
    tmp_path: Path, store: DuckDBStore
) -> None:
    p = tmp_path / "b.jsonl"
    p.write_bytes(b"\n\n" + lines_of([event_obj(1)]) + b"   \n{bad\n")
    rep = ingest_paths([p], store)
    assert (rep.read, rep.accepted, rep.quarantined) == (2, 1, 1)
    assert rep.samples[0].startswith(f"{p}:5: ")


def test_iter_events_yields_events_and_rejections_in_order(data_dir: Path) -> None:
    items = list(iter_events(data_dir / "bad_mixed.jsonl"))
    kinds = ["E" if isinstance(i, Event) else "R" for i in items]
    assert kinds == ["E", "R", "R", "R", "E", "R", "R", "E"]
    assert all(type(i) is Event for i in items if isinstance(i, Event))
    assert [i.line for i in items if isinstance(i, Rejected)] == [2, 3, 4, 7, 8]


def test_keep_text_controls_stored_text(write_jsonl: Callable[..., Path], tmp_path: Path) -> None:
    p = write_jsonl("e.jsonl", [event_obj(1)])
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ingest_paths([p], a, keep_text=True)
        ingest_paths([p], b)
        q = "SELECT prompt_text, response_text, prompt_digest FROM events"
        kept, dropped = a.sql(q).to_pylist()[0], b.sql(q).to_pylist()[0]
    assert kept["prompt_text"] == "Explain step 1 of the proof." and kept["response_text"]
    assert dropped["prompt_text"] is None and dropped["response_text"] is None
    assert kept["prompt_digest"] == dropped["prompt_digest"]
