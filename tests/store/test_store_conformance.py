"""One conformance suite that every store implementation runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.errors import StoreError
from distillguard.events import decode_event, events_to_arrow
from distillguard.store import DuckDBStore, MemoryStore, Store


@pytest.fixture(params=["duckdb-file", "duckdb-memory", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "duckdb-file":
        s = DuckDBStore(tmp_path / "t.duckdb")
    elif request.param == "duckdb-memory":
        s = DuckDBStore(":memory:")
    else:
        s = MemoryStore()
    yield s
    s.close()


def _batch(n: int, start: int = 0):  # type: ignore[no-untyped-def]
    evs = [
        decode_event(f'{{"ts": {1767225600 + i}, "account_id": "a{i % 3}", "request_id": "r{i}"}}')
        for i in range(start, start + n)
    ]
    return events_to_arrow(evs, keep_text=False)


def test_write_is_idempotent(store: Store) -> None:
    assert store.write(_batch(10)).inserted == 10
    again = store.write(_batch(10))
    assert (again.inserted, again.duplicates) == (0, 10)
    overlap = store.write(_batch(10, start=5))
    assert (overlap.inserted, overlap.duplicates) == (5, 5)
    assert store.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 15}]


def test_duplicates_inside_one_batch_are_stored_once(store: Store) -> None:
    import pyarrow as pa

    b = _batch(4)
    res = store.write(pa.concat_tables([b, b]))
    assert (res.inserted, res.duplicates) == (4, 4)


def test_aggregation_in_sql(store: Store) -> None:
    store.write(_batch(9))
    rows = store.sql(
        "SELECT account_id, count(*) AS n FROM events GROUP BY account_id ORDER BY account_id"
    ).to_pylist()
    assert rows == [{"account_id": f"a{i}", "n": 3} for i in range(3)]


def test_empty_batch_writes_nothing(store: Store) -> None:
    assert store.write(_batch(0)).inserted == 0


def test_file_store_persists(tmp_path: Path) -> None:
    path = tmp_path / "p.duckdb"
    with DuckDBStore(path) as s:
        s.write(_batch(3))
    with DuckDBStore(path) as s:
        assert s.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 3}]


def test_duckdb_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    from distillguard.store import Transactional

    path = tmp_path / "tx.duckdb"
    with DuckDBStore(path) as s:
        assert isinstance(s, Transactional)
        s.begin()
        s.write(_batch(3))
        s.commit()
        s.begin()
        s.write(_batch(4, start=10))
        s.rollback()
    with DuckDBStore(path) as s:
        assert s.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 3}]


def test_idempotency_key_is_event_id_and_ts(store: Store) -> None:
    """Same event_id at another time is a different event (documented in docs/ingest.md)."""
    first = events_to_arrow(
        [decode_event('{"ts": 1767225600, "account_id": "a", "request_id": "r1"}')],
        keep_text=False,
    )
    later = events_to_arrow(
        [decode_event('{"ts": 1767229200, "account_id": "a", "request_id": "r1"}')],
        keep_text=False,
    )
    assert store.write(first).inserted == 1
    assert store.write(later).inserted == 1
    assert (store.write(first).duplicates, store.write(later).duplicates) == (1, 1)


def test_dedupe_finds_stored_rows_across_many_row_groups(store: Store) -> None:
    """Out-of-order and overlapping batches still find every stored duplicate."""
    import pyarrow as pa

    for start in range(0, 3000, 500):
        store.write(_batch(500, start=start))
    mixed = pa.concat_tables([_batch(100, start=2950), _batch(100, start=10), _batch(50, 1400)])
    res = store.write(mixed)
    assert (res.inserted, res.duplicates) == (50, 200)
    assert store.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 3050}]


@pytest.mark.parametrize("checked", [False, True])
def test_write_select_deduplicates_with_and_without_unique_keys(checked: bool) -> None:
    """write_select stores what write stores; with unique_keys a plain insert is used only
    while none of the keys is stored yet."""
    from datetime import UTC, datetime

    first, second = _batch(5), _batch(5, start=3)  # events 3 and 4 are in both
    lo, hi = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    keys = {"unique_keys": "_b"} if checked else {}
    with DuckDBStore(":memory:") as store:
        res1 = store.write_select("SELECT * FROM _b", [], {"_b": first}, (lo, hi), 5, **keys)
        res2 = store.write_select("SELECT * FROM _b", [], {"_b": second}, (lo, hi), 5, **keys)
        stored = store.sql("SELECT event_id FROM events ORDER BY event_id").column(0).to_pylist()
    assert (res1.inserted, res1.duplicates) == (5, 0)
    assert (res2.inserted, res2.duplicates) == (3, 2)
    assert stored == sorted(
        {*first.column("event_id").to_pylist(), *second.column("event_id").to_pylist()}
    )


def test_write_select_skips_the_select_when_every_key_is_stored() -> None:
    """With unique_keys all stored (a re-run), nothing would be inserted: the select is not
    run (one that would fail shows it), and every row counts as a duplicate."""
    from datetime import UTC, datetime

    batch = _batch(6)
    lo, hi = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    failing = "SELECT * FROM _b WHERE error('the select ran')"
    with DuckDBStore(":memory:") as store:
        store.write(batch.slice(0, 5))
        res = store.write_select(
            failing, [], {"_b": batch.slice(0, 5)}, (lo, hi), 5, unique_keys="_b"
        )
        assert (res.inserted, res.duplicates) == (0, 5)
        with pytest.raises(StoreError, match="the select ran"):  # one key is new: it runs
            store.write_select(failing, [], {"_b": batch}, (lo, hi), 6, unique_keys="_b")
        res = store.write_select(
            "SELECT * FROM _b", [], {"_b": batch}, (lo, hi), 6, unique_keys="_b"
        )
        assert (res.inserted, res.duplicates) == (1, 5)
        assert store.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 6}]
