from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.events import Event
from distillguard.ingest import detect_format, ingest_paths, iter_events
from distillguard.store import DuckDBStore
from tests.ingest.conftest import event_obj

_Q = "SELECT * EXCLUDE (source) FROM events ORDER BY event_id"


def _store_with(write_jsonl: Callable[..., Path], path: Path, keep_text: bool) -> DuckDBStore:
    src = write_jsonl("src.jsonl", [event_obj(i, request_id=None) for i in range(40)])
    s = DuckDBStore(path)
    ingest_paths([src], s, keep_text=keep_text)
    return s


def test_flat_export_round_trips_with_digests_even_without_text(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    with _store_with(write_jsonl, tmp_path / "a.duckdb", keep_text=False) as a:
        pq.write_table(a.sql("SELECT * FROM events"), tmp_path / "flat.parquet")
        assert detect_format(tmp_path / "flat.parquet") == "parquet"
        with DuckDBStore(tmp_path / "b.duckdb") as b:
            rep = ingest_paths([tmp_path / "flat.parquet"], b)
            assert (rep.read, rep.accepted, rep.quarantined) == (40, 40, 0)
            assert b.sql(_Q).to_pylist() == a.sql(_Q).to_pylist()
            again = ingest_paths([tmp_path / "flat.parquet"], b)
            assert again.duplicates == 40


def test_flat_export_with_text_round_trips(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    with _store_with(write_jsonl, tmp_path / "a.duckdb", keep_text=True) as a:
        pq.write_table(a.sql("SELECT * FROM events"), tmp_path / "flat.parquet")
        with DuckDBStore(tmp_path / "b.duckdb") as b:
            ingest_paths([tmp_path / "flat.parquet"], b, keep_text=True)
            assert b.sql(_Q).to_pylist() == a.sql(_Q).to_pylist()


def test_nested_canonical_parquet_equals_jsonl(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    objs = [event_obj(i) for i in range(30)]
    for o in objs:
        o["client"]["asn"] = 13335  # Parquet columns need one type
    pq.write_table(pa.Table.from_pylist(objs), tmp_path / "nested.parquet")
    src = write_jsonl("src.jsonl", objs)
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ingest_paths([src], a, keep_text=True)
        rep = ingest_paths([tmp_path / "nested.parquet"], b, keep_text=True)
        assert rep.accepted == 30
        assert b.sql(_Q).to_pylist() == a.sql(_Q).to_pylist()


def test_bad_rows_are_quarantined_with_row_numbers(tmp_path: Path, store: DuckDBStore) -> None:
    rows = [
        {"ts": 1767225600, "account_id": "a", "request_id": "r1"},
        {"ts": 1767225601, "account_id": None, "request_id": "r2"},
        {"ts": 5, "account_id": "b", "request_id": "r3"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "n.parquet")
    rep = ingest_paths([tmp_path / "n.parquet"], store)
    assert (rep.read, rep.accepted, rep.quarantined) == (3, 1, 2)
    assert ":2: " in rep.samples[0] and ":3: field 'ts'" in rep.samples[1]
    items = list(iter_events(tmp_path / "n.parquet"))
    assert isinstance(items[0], Event) and items[0].request_id == "r1"


def test_not_parquet_is_an_unusable_source(tmp_path: Path, store: DuckDBStore) -> None:
    p = tmp_path / "x.parquet"
    p.write_bytes(b"PAR1 but not really")
    rep = ingest_paths([p], store)
    assert rep.rejected_sources and "not a readable Parquet file" in rep.rejected_sources[0].reason
