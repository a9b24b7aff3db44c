from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from distillguard.errors import InputError
from distillguard.ingest import ingest_paths, iter_events
from distillguard.store import DuckDBStore, MemoryStore
from tests.ingest.conftest import event_obj, lines_of


def test_reingest_is_idempotent(write_jsonl: Callable[..., Path], store: DuckDBStore) -> None:
    p = write_jsonl("e.jsonl", [event_obj(i) for i in range(100)])
    first = ingest_paths([p], store)
    again = ingest_paths([p], store)
    assert (first.accepted, first.duplicates) == (100, 0)
    assert (again.read, again.accepted, again.duplicates) == (100, 0, 100)
    assert store.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 100}]


def test_events_without_request_id_dedupe_on_content(
    write_jsonl: Callable[..., Path], store: DuckDBStore
) -> None:
    objs = [event_obj(i, request_id=None) for i in range(10)]
    p = write_jsonl("e.jsonl", objs + objs[:3])
    rep = ingest_paths([p], store)
    assert (rep.read, rep.accepted, rep.duplicates) == (13, 10, 3)


def test_directory_expands_recursively_in_sorted_order_skipping_hidden(
    tmp_path: Path, write_jsonl: Callable[..., Path], store: DuckDBStore
) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    write_jsonl("d/b.jsonl", [event_obj(1)])
    write_jsonl("d/a.jsonl", [event_obj(2)])
    write_jsonl("d/sub/c.jsonl", [event_obj(3)])
    write_jsonl("d/.hidden/x.jsonl", [event_obj(4)])
    rep = ingest_paths([tmp_path / "d"], store)
    assert [Path(s.path).name for s in rep.sources] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert rep.accepted == 3


def test_unusable_inputs_are_listed_and_the_rest_lands(
    tmp_path: Path, write_jsonl: Callable[..., Path], store: DuckDBStore
) -> None:
    good = write_jsonl("good.jsonl", [event_obj(1), event_obj(2)])
    (tmp_path / "empty_dir").mkdir()
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x01binary junk")
    rep = ingest_paths([tmp_path / "missing.jsonl", tmp_path / "empty_dir", odd, good], store)
    reasons = {Path(r.path).name: r.reason for r in rep.rejected_sources}
    assert reasons["missing.jsonl"] == "no such file or directory"
    assert reasons["empty_dir"] == "directory contains no files"
    assert "cannot recognise the format" in reasons["odd.bin"]
    assert rep.accepted == 2 and rep.usable


def test_nothing_readable_is_not_usable(tmp_path: Path, store: DuckDBStore) -> None:
    rep = ingest_paths([tmp_path / "nope.jsonl"], store)
    assert not rep.usable and rep.read == 0


def test_unknown_format_is_refused(tmp_path: Path, store: DuckDBStore) -> None:
    with pytest.raises(InputError, match="unknown format 'csv'"):
        ingest_paths([tmp_path], store, fmt="csv")


def test_iter_events_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        list(iter_events(tmp_path))


def test_each_run_is_recorded(write_jsonl: Callable[..., Path], store: DuckDBStore) -> None:
    p = write_jsonl("e.jsonl", [event_obj(i) for i in range(5)])
    ingest_paths([p], store)
    ingest_paths([p], store)
    rows = store.sql(
        "SELECT read, accepted, duplicates, quarantined, sources FROM ingest_runs "
        "ORDER BY started_at"
    ).to_pylist()
    assert [(r["read"], r["accepted"], r["duplicates"]) for r in rows] == [(5, 5, 0), (5, 0, 5)]
    assert '"format":"jsonl"' in rows[0]["sources"]


def test_memory_store_works_without_side_tables(write_jsonl: Callable[..., Path]) -> None:
    mem = MemoryStore()
    rep = ingest_paths([write_jsonl("e.jsonl", [event_obj(i) for i in range(4)])], mem)
    assert rep.accepted == 4 and mem.events().num_rows == 4


def test_small_batches_give_the_same_result(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    objs = [event_obj(i) for i in range(57)]
    p = write_jsonl("e.jsonl", objs, extra=b"garbage\n")
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ra = ingest_paths([p], a, batch_size=5)
        rb = ingest_paths([p], b)
        q = "SELECT * EXCLUDE (source) FROM events ORDER BY event_id"
        assert a.sql(q).to_pylist() == b.sql(q).to_pylist()
    assert (ra.read, ra.accepted, ra.quarantined) == (rb.read, rb.accepted, rb.quarantined)


def test_worker_processes_give_the_same_rows_in_order(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    objs = [event_obj(i) for i in range(3000)]
    p = write_jsonl("e.jsonl", objs[:1500], extra=b"{broken\n")
    with p.open("ab") as fh:
        fh.write(Path(write_jsonl("tail.jsonl", objs[1500:])).read_bytes())
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ra = ingest_paths([p], a, workers=2, batch_size=700)
        rb = ingest_paths([p], b, workers=1)
        q = "SELECT * FROM events ORDER BY event_id"
        assert a.sql(q).to_pylist() == b.sql(q).to_pylist()
    assert (ra.read, ra.accepted, ra.quarantined) == (3001, 3000, 1)
    assert ra.samples == rb.samples and ":1501:" in ra.samples[0]


def test_a_bad_first_line_does_not_hide_the_file(tmp_path: Path, store: DuckDBStore) -> None:
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"garbage first line\n" + b'{"ts": 1767225600, "account_id": "a"}\n')
    rep = ingest_paths([p], store)
    assert (rep.read, rep.accepted, rep.quarantined) == (2, 1, 1)


def test_overlapping_files_in_small_batches_add_no_duplicates(
    write_jsonl: Callable[..., Path], store: DuckDBStore
) -> None:
    """Each write probes only its own ts window; overlapping exports must still dedupe."""
    a = write_jsonl("a.jsonl", [event_obj(i) for i in range(300)])
    b = write_jsonl("b.jsonl", [event_obj(i) for i in range(299, -1, -1)] + [event_obj(400)])
    c = write_jsonl("c.jsonl", [event_obj(i) for i in range(150, 450)])
    first = ingest_paths([a], store, batch_size=40)
    second = ingest_paths([b], store, batch_size=40)
    third = ingest_paths([c], store, batch_size=70)
    assert (first.accepted, second.accepted, second.duplicates) == (300, 1, 300)
    assert (third.accepted, third.duplicates) == (149, 151)
    rows = store.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert rows.to_pylist() == [{"n": 450, "d": 450}]


def test_flattening_leaves_the_gc_as_it_found_it(write_jsonl: Callable[..., Path]) -> None:
    import gc

    from distillguard.ingest.jsonl import flatten_lines

    lines = lines_of([event_obj(i) for i in range(3)]).splitlines() + [b"{bad"]
    assert gc.isenabled()
    table, rejects, read = flatten_lines(1, lines, "x", 1000, False)
    assert gc.isenabled() and (table.num_rows, len(rejects), read) == (3, 1, 4)
    gc.disable()
    try:
        flatten_lines(1, lines, "x", 1000, False)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "options",
    [{}, {"fast_path": False}, {"sql_checks": True}],
    ids=["block", "per-line", "sql"],
)
def test_integer_beyond_bigint_is_quarantined_by_every_path(
    write_jsonl: Callable[..., Path], store: DuckDBStore, options: dict[str, bool]
) -> None:
    """Regression: a token count of 2**64 raised OverflowError while the batch was stored."""
    objs = [event_obj(i) for i in range(200)]
    objs[150]["usage"] = {"input_tokens": 2**64, "output_tokens": 3}
    p = write_jsonl("e.jsonl", objs)
    rep = ingest_paths([p], store, **options)  # type: ignore[arg-type]
    assert (rep.read, rep.accepted, rep.quarantined) == (200, 199, 1)
    assert any("usage.input_tokens" in str(r) for r in rep.samples)
