"""Direct block writes store exactly what the per-line path stores (differential tests)."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.errors import StoreError
from distillguard.ingest import direct, ingest_paths
from distillguard.ingest.direct import BlockWrite, group_parts, prepare_block, write_blocks
from distillguard.ingest.fastpath import scan_block
from distillguard.ingest.jsonl import RejectTuple, flatten_lines
from distillguard.sim.engine import simulate
from distillguard.sim.scenario import load_scenario
from distillguard.store import DuckDBStore, MemoryStore
from distillguard.store.base import Store

from .test_fastpath import _encode, _garbage, _record

LIMIT = 1_000_000
_ORDER = "SELECT * FROM events ORDER BY event_id, ts, account_id, source"


def _write_direct(
    store: Store, lines: list[bytes], keep_text: bool, limit: int = LIMIT, first: int = 1
) -> tuple[list[RejectTuple], int, int]:
    """Write ``lines`` the way ``ingest_paths`` does on the direct path."""
    block = scan_block(first, lines, "f.jsonl", limit, keep_text, min_fast_rows=1)
    rejects: list[RejectTuple] = []
    read = blocks = 0
    for part in prepare_block(block):
        if isinstance(part, BlockWrite):
            blocks += 1
            _res, rej, n = write_blocks(store, [part])
        else:
            table, rej, n = part
            store.write(table)
        rejects += rej
        read += n
    return rejects, read, blocks


def _unique_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows whose (event_id, ts) occurs once: which duplicate is kept is not specified."""
    rows = table.to_pylist()
    keys = [(r["event_id"], r["ts"]) for r in rows]
    return [r for r, k in zip(rows, keys, strict=True) if keys.count(k) == 1]


def _same(lines: list[bytes], keep_text: bool, limit: int = LIMIT, first: int = 1) -> int:
    """The direct path and the per-line path store the same rows, rejections and counts."""
    table, rejects, read = flatten_lines(first, lines, "f.jsonl", limit, keep_text)
    with DuckDBStore(":memory:") as ref, DuckDBStore(":memory:") as got:
        ref.write(table)
        got_rejects, got_read, blocks = _write_direct(got, lines, keep_text, limit, first)
        want, have = ref.sql(_ORDER), got.sql(_ORDER)
    assert have.schema == want.schema
    assert (got_rejects, got_read) == (rejects, read)
    assert {(r["event_id"], r["ts"]) for r in have.to_pylist()} == {
        (r["event_id"], r["ts"]) for r in want.to_pylist()
    }
    assert _unique_rows(have) == _unique_rows(want)
    return blocks


@pytest.fixture(scope="module")
def sim_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate(load_scenario("demo-week"), out, seed=5, scale=0.01)
    return res.events_path.read_bytes().split(b"\n")


def _rows_per_write(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the direct path's store writes: the rows of each call, in order."""
    rows: list[int] = []
    real = direct.BlockSink.write

    def spy(self: direct.BlockSink, blocks: list[BlockWrite]) -> Any:
        rows.append(sum(b.rows for b in blocks))
        return real(self, blocks)

    monkeypatch.setattr(direct.BlockSink, "write", spy)
    return rows


def _assert_stored_as(stored: pa.Table, rows: pa.Table) -> None:
    """``stored`` (a store's rows, ``_ORDER``) is what a store given ``rows`` holds."""
    with DuckDBStore(":memory:") as ref:
        ref.write(rows)
        assert stored.equals(ref.sql(_ORDER))


def _statement_rows(store: DuckDBStore) -> list[int]:
    """Spy on ``store``'s SELECT writes: the rows of each statement, in order."""
    rows: list[int] = []
    real = store.write_select

    def spy(*args: Any, **kwargs: Any) -> Any:
        rows.append(args[-1])
        return real(*args, **kwargs)

    store.write_select = spy  # type: ignore[method-assign]
    return rows


@pytest.mark.parametrize("keep_text", [False, True])
def test_simulator_output_identical_and_direct(sim_lines: list[bytes], keep_text: bool) -> None:
    assert _same(sim_lines, keep_text) == 1  # the whole block went to DuckDB in one statement


def test_stores_without_select_writes_get_the_same_rows(sim_lines: list[bytes]) -> None:
    lines = list(sim_lines[:300])
    lines[40] = b"not json"
    table, rejects, read = flatten_lines(1, lines, "f.jsonl", LIMIT, False)
    store = MemoryStore()
    got_rejects, got_read, blocks = _write_direct(store, lines, False)
    assert blocks == 2
    assert (got_rejects, got_read) == (rejects, read)
    have = store.events().sort_by([("event_id", "ascending")])
    assert have.equals(table.sort_by([("event_id", "ascending")]))


def test_rows_that_do_not_line_up_take_the_per_line_path(sim_lines: list[bytes]) -> None:
    lines = [line for line in sim_lines[:200] if line.strip()]
    block = scan_block(1, lines, "f.jsonl", LIMIT, False)
    (part,) = prepare_block(block)
    assert isinstance(part, BlockWrite)
    # Swap two struct rows: the statement must refuse the block rather than store it.
    order = list(range(part.rows))
    order[3], order[4] = 4, 3
    part.py = part.py.take(pa.array(order))
    with DuckDBStore(":memory:") as store:
        res, rejects, read = write_blocks(store, [part])
        stored = store.sql(_ORDER)
        ref = flatten_lines(1, lines, "f.jsonl", LIMIT, False)[0]
    assert (res.inserted, rejects, read) == (len(lines), [], len(lines))
    assert not part.path.exists()
    _assert_stored_as(stored, ref)


def test_ingest_paths_direct_and_finish_paths_store_the_same(
    sim_lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = list(sim_lines)
    for i in range(11, len(lines) - 1, 101):
        lines[i] = b'{"ts": "2026-13-01T00:00:00Z", "account_id": "x"}'
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines + lines[:50]))  # the last 50 lines again: duplicates
    calls = _rows_per_write(monkeypatch)
    got = {}
    for direct_writes in (True, False):
        with DuckDBStore(":memory:") as store:
            rep = ingest_paths([src], store, keep_text=True, direct_writes=direct_writes)
            got[direct_writes] = (
                (rep.read, rep.accepted, rep.duplicates, rep.quarantined),
                store.sql(_ORDER),
            )
        assert bool(calls) is direct_writes
        calls.clear()
    assert got[True][0] == got[False][0]
    assert got[True][0][2] >= 45  # the repeated lines (less the bad ones) are duplicates
    assert got[True][1].equals(got[False][1])


def test_groups_go_in_one_statement_and_fall_back_run_by_run(sim_lines: list[bytes]) -> None:
    lines = [line for line in sim_lines if line.strip()][:900]
    lines[450] = b"not json"
    blocks = [lines[i : i + 100] for i in range(0, len(lines), 100)]
    parts = [
        p
        for i, b in enumerate(blocks)
        for p in prepare_block(scan_block(1 + 100 * i, b, "f.jsonl", LIMIT, False))
    ]
    grouped = list(group_parts(iter(parts), rows=250))
    kinds = [len(g) if isinstance(g, list) else "rows" for g in grouped]
    # Blocks 0-2 (300 rows >= 250), block 3 (cut off by block 4, which goes per line whole:
    # its clean runs are shorter than MIN_FAST_ROWS), blocks 5-7, block 8.
    assert kinds == [3, 1, "rows", 3, 1]
    spoiled = grouped[3]
    assert isinstance(spoiled, list)
    order = list(range(spoiled[1].rows))
    order[0], order[1] = 1, 0
    spoiled[1].py = spoiled[1].py.take(pa.array(order))  # this run must fall back alone
    ref = flatten_lines(1, lines, "f.jsonl", LIMIT, False)
    with DuckDBStore(":memory:") as store:
        statements = _statement_rows(store)
        read = 0
        for g in grouped:
            if isinstance(g, list):
                res, rej, n = write_blocks(store, g)
                assert rej == [] and res.duplicates == 0
            else:
                table, rej, n = g
                store.write(table)
            read += n
        stored = store.sql(_ORDER)
    assert read == ref[2] == len(lines)
    # One statement per group; the spoiled group is refused whole, then tried run by run
    # (the spoiled run is refused again and written per line).
    assert statements == [300, 100, 300, 100, 100, 100, 100]
    assert not any(b.path.exists() for g in grouped if isinstance(g, list) for b in g)
    _assert_stored_as(stored, ref[0])


_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    st.lists(st.one_of(st.tuples(_record(), st.booleans()), _garbage), min_size=1, max_size=30),
    st.booleans(),
)
def test_random_records_identical(items: list[Any], keep_text: bool) -> None:
    _same([x if isinstance(x, bytes) else _encode(x[0], x[1]) for x in items], keep_text)


def test_a_failing_store_leaves_no_block_files(
    sim_lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.errors import StoreError

    lines = [line for line in sim_lines if line.strip()]
    src = tmp_path / "in" / "e.jsonl"
    src.parent.mkdir()
    src.write_bytes(b"\n".join(lines * 3))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    monkeypatch.setattr("distillguard.ingest.direct.BLOCK_LINES", 100)
    monkeypatch.setattr("distillguard.ingest.direct.GROUP_ROWS", 100)

    class Broken(DuckDBStore):
        calls = 0

        def write_select(self, *args: Any, **kwargs: Any) -> Any:
            Broken.calls += 1
            if Broken.calls > 2:
                raise StoreError("disk full")
            return super().write_select(*args, **kwargs)

        def write(self, batch: pa.Table) -> Any:
            if Broken.calls > 2:
                raise StoreError("disk full")
            return super().write(batch)

    with Broken(":memory:") as store, pytest.raises(StoreError, match="disk full"):
        ingest_paths([src], store)
    assert Broken.calls > 2
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("count", [1, 2, 511, 512, 513, 1024, 3000])
def test_block_files_hold_exactly_the_joined_lines(tmp_path: Path, count: int) -> None:
    # Lines (blank ones, one over a page, one empty at the end) go to the file through
    # os.writev in several calls; the file must equal their newline join.
    lines = [b"", b"  ", b"x" * 5000, "é".encode()] + [b"%d" % i for i in range(count)] + [b""]
    lines = lines[:count] if count < len(lines) else lines
    path = tmp_path / "block.jsonl"
    path.write_bytes(b"stale content that must go")
    direct._write_lines(path, lines)
    assert path.read_bytes() == b"\n".join(lines)


@pytest.mark.parametrize("threaded", [False, True])
def test_block_files_are_written_whole(
    sim_lines: list[bytes], tmp_path: Path, threaded: bool
) -> None:
    lines = [line for line in sim_lines[:150] if line.strip()] + [b""]
    with ThreadPoolExecutor(1) as writer:
        (part,) = prepare_block(
            scan_block(1, lines, "f.jsonl", LIMIT, False), tmp_path, writer if threaded else None
        )
        assert isinstance(part, BlockWrite)
        assert (part.pending is not None) is threaded
        assert part.materialise().read_bytes() == b"\n".join(lines)
        assert part.pending is None
        with DuckDBStore(":memory:") as store:
            write_blocks(store, [part])
            n = store.sql("SELECT count(*) AS n FROM events").column(0)[0].as_py()
        assert n == len(lines) - 1
        assert not part.path.exists()
        # discarded while its write may still run: the file goes all the same
        (again,) = prepare_block(scan_block(1, lines, "f.jsonl", LIMIT, False), tmp_path, writer)
        again.discard()  # type: ignore[union-attr]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ahead", [1, 3])
def test_many_groups_validated_ahead_store_what_the_per_line_path_stores(
    sim_lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    # Small blocks and groups, so that several groups are validated ahead of the one being
    # written; lines repeated in later groups (duplicates), bad lines and a per-line run
    # between groups. Rows, counts and quarantine entries must equal the per-line path's.
    lines = [line for line in sim_lines if line.strip()][:1200]
    for i in range(7, len(lines), 97):
        lines[i] = b'{"ts": "yesterday", "account_id": "x"}'
    lines = lines + lines[300:420] + lines[:40]
    src = tmp_path / "many.jsonl"
    src.write_bytes(b"\n".join(lines))
    monkeypatch.setattr("distillguard.ingest.direct.BLOCK_LINES", 100)
    monkeypatch.setattr("distillguard.ingest.direct.GROUP_ROWS", 250)
    monkeypatch.setattr("distillguard.ingest.direct.GROUPS_AHEAD", ahead)
    groups = _rows_per_write(monkeypatch)
    got = {}
    for fast in (True, False):
        quarantine = tmp_path / f"q-{fast}.jsonl"
        with DuckDBStore(tmp_path / f"s-{fast}.duckdb") as store:
            rep = ingest_paths([src], store, fast_path=fast, quarantine=quarantine)
            counts = (rep.read, rep.accepted, rep.duplicates, rep.quarantined)
            got[fast] = (counts, store.sql(_ORDER), quarantine.read_text().count("\n"))
            again = ingest_paths([src], store, fast_path=fast)  # a re-run adds nothing
            assert (again.read, again.accepted, again.quarantined) == (rep.read, 0, rep.quarantined)
            assert store.sql(_ORDER).equals(got[fast][1])
    assert len(groups) > 2 * ahead  # several groups were in flight
    assert got[True][0] == got[False][0]
    assert got[True][0][2] >= 150  # the repeated lines, less the bad ones, are duplicates
    assert got[True][1].equals(got[False][1])
    assert got[True][2] == got[False][2] == got[True][0][3] > 10


def _groups(sim_lines: list[bytes], n: int, size: int = 100) -> tuple[list[bytes], list[Any]]:
    """``n`` groups of one clean run of ``size`` lines each (and the lines)."""
    lines = [line for line in sim_lines if line.strip()][: n * size]
    groups = []
    for i in range(n):
        block = scan_block(1 + size * i, lines[size * i : size * (i + 1)], "f.jsonl", LIMIT, False)
        (part,) = prepare_block(block)
        assert isinstance(part, BlockWrite)
        groups.append([part])
    return lines, groups


def _committed(store: DuckDBStore) -> int:
    """Rows another connection sees (committed ones only)."""
    cur = store.con.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        cur.close()


def test_sink_commits_groups_a_row_group_at_a_time(sim_lines: list[bytes], tmp_path: Path) -> None:
    lines, groups = _groups(sim_lines, 5)
    ref = flatten_lines(1, lines, "f.jsonl", LIMIT, False)[0]
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        sink = direct.BlockSink(store, rows=200)
        assert sink.write(groups[0]) == []  # in the transaction, not committed yet
        assert _committed(store) == 0
        assert groups[0][0].path.exists()  # kept until the commit, for a redo
        done = sink.write(groups[1])
        assert [(r.inserted, rej, n) for r, rej, n in done] == [(100, [], 100), (100, [], 100)]
        assert _committed(store) == 200
        assert not groups[0][0].path.exists()
        assert sink.write(groups[2]) == []
        done = sink.write(groups[3]) + sink.write(groups[4]) + sink.flush()
        assert sum(r.inserted for r, _, _ in done) == 300
        stored = store.sql(_ORDER)
    _assert_stored_as(stored, ref)


def test_sink_redoes_a_refused_transaction_group_by_group(
    sim_lines: list[bytes], tmp_path: Path
) -> None:
    lines, groups = _groups(sim_lines, 2)
    spoiled = groups[1][0]
    order = list(range(spoiled.rows))
    order[0], order[1] = 1, 0
    spoiled.py = spoiled.py.take(pa.array(order))  # DuckDB refuses it: the rows do not line up
    ref = flatten_lines(1, lines, "f.jsonl", LIMIT, False)[0]
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        statements = _statement_rows(store)
        sink = direct.BlockSink(store, rows=200)
        assert sink.write(groups[0]) == []
        done = sink.write(groups[1])  # refused: rolled back, both groups written again
        assert [(r.inserted, rej, n) for r, rej, n in done] == [(100, [], 100), (100, [], 100)]
        assert sink.flush() == []
        # group 1 in the transaction, group 2 refused; then group 1 alone, group 2 refused
        # alone (it takes the per-line path).
        assert statements == [100, 100, 100, 100]
        stored = store.sql(_ORDER)
    assert not any(g[0].path.exists() for g in groups)
    _assert_stored_as(stored, ref)


def test_sink_abort_stores_nothing_of_the_open_transaction(
    sim_lines: list[bytes], tmp_path: Path
) -> None:
    _lines, groups = _groups(sim_lines, 3)
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        sink = direct.BlockSink(store, rows=200)
        sink.write(groups[0])
        sink.write(groups[1])  # committed
        sink.write(groups[2])
        sink.abort()
        assert _committed(store) == 200
        assert int(store.sql("SELECT count(*) AS n FROM events").column(0)[0].as_py()) == 200
    assert not any(g[0].path.exists() for g in groups)


def test_sink_without_transactions_writes_at_once(sim_lines: list[bytes]) -> None:
    _lines, groups = _groups(sim_lines, 2)
    store = MemoryStore()
    sink = direct.BlockSink(store, rows=200)
    done = sink.write(groups[0])
    assert [(r.inserted, n) for r, _, n in done] == [(100, 100)]
    assert store.events().num_rows == 100
    assert sink.flush() == []


def test_many_files_are_counted_per_file_and_commit_across_files(
    sim_lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks and groups so that each file is a few groups, and a transaction spans
    # files; a damaged gzip file and a file no reader takes sit among them.
    monkeypatch.setattr("distillguard.ingest.direct.BLOCK_LINES", 100)
    monkeypatch.setattr("distillguard.ingest.direct.GROUP_ROWS", 200)
    monkeypatch.setattr("distillguard.ingest.direct.COMMIT_ROWS", 700)
    lines = [line for line in sim_lines if line.strip()][:2600]
    assert len(lines) == 2600
    lines[130] = b'{"ts": "yesterday", "account_id": "x"}'
    folder = tmp_path / "logs"
    folder.mkdir()
    sizes = [430, 370, 610, 190, 460, 540]
    start = 0
    for i, n in enumerate(sizes):
        data = b"\n".join(lines[start : start + n]) + b"\n"
        if i == 3:  # truncated gzip: what is before the damage lands, the rest is one rejection
            whole = gzip.compress(data)
            (folder / f"{i}.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
        else:
            (folder / f"{i}.jsonl").write_bytes(data)
        start += n
    (folder / "2b.bin").write_bytes(b"\x00\x01 not a log at all")
    # The files of the groups in each transaction committed.
    committed: list[set[str]] = []
    real_flush = direct.BlockSink.flush

    def spy(self: direct.BlockSink) -> Any:
        files = {Path(b.source).name for blocks, _ in self._open for b in blocks}
        if files:
            committed.append(files)
        return real_flush(self)

    monkeypatch.setattr(direct.BlockSink, "flush", spy)
    with DuckDBStore(tmp_path / "all.duckdb") as store:
        rep = ingest_paths([folder], store)
        stored = store.sql(_ORDER)
    assert [Path(r.path).name for r in rep.rejected_sources] == ["2b.bin"]
    assert [Path(s.path).name for s in rep.sources] == [
        "0.jsonl", "1.jsonl", "2.jsonl", "3.jsonl.gz", "4.jsonl", "5.jsonl",
    ]  # fmt: skip
    # Each file's counts are what loading it alone gives.
    for s in rep.sources:
        with DuckDBStore(":memory:") as alone:
            one = ingest_paths([s.path], alone)
        assert (s.read, s.accepted, s.duplicates, s.quarantined) == (
            one.read,
            one.accepted,
            one.duplicates,
            one.quarantined,
        )
    assert rep.sources[0].quarantined == 1 and rep.sources[3].quarantined == 1
    assert rep.read == rep.accepted + rep.duplicates + rep.quarantined
    # Transactions spanned files (file 4's last group and file 5's first, for one).
    assert any(len(files) > 1 for files in committed), committed
    # The same rows as the per-line path.
    with DuckDBStore(":memory:") as ref:
        ingest_paths([folder], ref, fast_path=False)
        assert stored.equals(ref.sql(_ORDER))


def test_a_full_temporary_disk_stops_the_run_with_a_clear_error(
    sim_lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(b"\n".join(sim_lines[:400]))

    def full(path: Path, lines: list[bytes]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(direct, "_write_lines", full)
    with DuckDBStore(":memory:") as store:
        with pytest.raises(StoreError, match=r"a\.jsonl: cannot write: .*No space left"):
            ingest_paths([src], store)
        assert store.sql("SELECT count(*) AS n FROM events").column(0)[0].as_py() == 0
