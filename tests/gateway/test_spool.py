"""The spool and its loader: group commit, order, store outages, crashed replicas, controls."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distillguard.errors import GatewayError, StoreError
from distillguard.events import Event, encode_event
from distillguard.gateway.control import SpoolDecisionLog, SpoolKeyJournal
from distillguard.gateway.keys import KeyAdmin, MemoryKeyBackend
from distillguard.gateway.sink import SpoolLoader
from distillguard.gateway.spool import SpoolWriter, sealed_segments
from distillguard.policy import DecisionTable, MemoryPublisher, make_decision
from distillguard.store import DuckDBStore


def _line(i: int) -> bytes:
    return encode_event(Event(ts=1_700_000_000 + i, account_id=f"a{i % 7}", request_id=f"r{i}"))


class FlakyStore:
    """A real DuckDB store that fails while ``down`` is set (a store outage)."""

    def __init__(self, inner: DuckDBStore) -> None:
        self.inner = inner
        self.down = False
        self.opened = 0

    def write(self, batch):  # type: ignore[no-untyped-def]
        if self.down:
            raise StoreError("store is down")
        return self.inner.write(batch)

    def execute(self, stmt, params=None):  # type: ignore[no-untyped-def]
        if self.down:
            raise StoreError("store is down")
        return self.inner.execute(stmt, params)

    def close(self) -> None:
        pass


def test_group_commit_and_seal(tmp_path: Path) -> None:
    w = SpoolWriter(tmp_path, "r1", commit_window_s=0.01, segment_max_age_s=0.05)
    for i in range(100):
        w.append(_line(i))
    assert w.flush()
    assert w.committed == 100 and w.pending() == 0
    w.close()
    segs = sealed_segments(tmp_path / "r1")
    lines = [ln for s in segs for ln in s.read_bytes().splitlines()]
    assert lines == [_line(i) for i in range(100)]


def test_directory_is_owned_by_one_writer(tmp_path: Path) -> None:
    w = SpoolWriter(tmp_path, "r1")
    with pytest.raises(GatewayError, match="owned by another"):
        SpoolWriter(tmp_path, "r1")
    w.close()


def test_store_outage_keeps_order_and_loses_nothing(tmp_path: Path) -> None:
    store = FlakyStore(DuckDBStore(":memory:"))
    loader = SpoolLoader(tmp_path, lambda: store)
    w = SpoolWriter(tmp_path, "r1", commit_window_s=0.005, segment_max_age_s=0.0)
    n = 0
    for phase in range(4):
        store.down = phase in (1, 2)  # the store "restarts" in the middle
        for _ in range(50):
            w.append(_line(n))
            n += 1
        w.flush()
        time.sleep(0.02)
        res = loader.run_once()
        assert bool(res.error) == store.down
    w.close()
    store.down = False
    loader.run_once()
    got = store.inner.sql("SELECT count(*), count(DISTINCT event_id) FROM events").to_pylist()[0]
    assert list(got.values()) == [n, n]
    assert not list((tmp_path / "r1").glob("seg-*"))


def test_replay_is_idempotent(tmp_path: Path) -> None:
    store = DuckDBStore(":memory:")
    w = SpoolWriter(tmp_path, "r1")
    for i in range(10):
        w.append(_line(i))
    w.close()
    seg = sealed_segments(tmp_path / "r1")[0]
    copy = seg.with_name("seg-000000000099.jsonl")
    copy.write_bytes(seg.read_bytes())  # a crash between load and delete replays a segment
    res = SpoolLoader(tmp_path, lambda: store).run_once()
    assert (res.events, res.inserted, res.duplicates) == (20, 10, 10)


def test_crashed_replica_torn_line_is_quarantined(tmp_path: Path) -> None:
    code = (
        "import os, sys; from distillguard.gateway.spool import SpoolWriter\n"
        f"w = SpoolWriter({str(tmp_path)!r}, 'dead', commit_window_s=0.005)\n"
        '[w.append(b\'{"ts": 1700000000, "account_id": "a", "request_id": "x%d"}\' % i) '
        "for i in range(30)]\n"
        "w.flush()\n"
        "os.write(w._fd, b'{\"ts\": 17000')\n"  # a torn write, then a hard kill
        "os._exit(9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run([sys.executable, "-c", code], env=env, check=False, timeout=60)
    store = DuckDBStore(":memory:")
    loader = SpoolLoader(tmp_path, lambda: store)
    res = loader.run_once()
    assert (res.inserted, res.quarantined) == (30, 1)
    assert "torn" in (tmp_path / "quarantine.jsonl").read_text()
    assert not (tmp_path / "dead").exists()


def test_control_records_reach_decisions_and_audit(tmp_path: Path) -> None:
    w = SpoolWriter(tmp_path, "r1")
    table = DecisionTable(MemoryPublisher(), SpoolDecisionLog(w))
    d1 = make_decision("account", "a1", "throttle", params={"rpm": 5}, reason="scan")
    table.put(d1, actor="analyst:x")
    table.put(make_decision("account", "a1", "block", reason="confirmed"), actor="analyst:x")
    admin = KeyAdmin(MemoryKeyBackend(), b"s" * 16, SpoolKeyJournal(w))
    k = admin.create("a1", org_id="o1", actor="cli:x")
    admin.revoke(k.record.key_id, actor="cli:x")
    w.close()
    store = DuckDBStore(":memory:")
    res = SpoolLoader(tmp_path, lambda: store).run_once()
    assert res.controls == 5
    rows = store.sql(
        "SELECT action, revoked_at IS NOT NULL AS r FROM decisions ORDER BY created_at"
    )
    assert rows.to_pylist() == [{"action": "throttle", "r": True}, {"action": "block", "r": False}]
    audit = store.sql("SELECT action FROM audit_log ORDER BY ts").column("action").to_pylist()
    assert sorted(audit) == sorted(
        ["decision.put", "decision.revoke", "decision.put", "key.create", "key.revoke"]
    )
    keys = store.sql("SELECT key_id, revoked_at IS NOT NULL AS r, key_hash FROM api_keys")
    row = keys.to_pylist()[0]
    assert row["key_id"] == k.record.key_id and row["r"] is True
    assert k.raw_key not in str(store.sql("SELECT * FROM api_keys").to_pylist())


def test_loader_process_runs_at_lower_priority_and_loads(tmp_path: Path) -> None:
    """``run_sink_process`` (what ``serve`` starts) lowers its own priority, then loads."""
    import multiprocessing
    import time

    from distillguard.gateway.sink import run_sink_process

    spool_root = tmp_path / "spool"
    w = SpoolWriter(spool_root, "r1", commit_window_s=0.01, segment_max_age_s=0.01)
    w.append(_line(1))
    assert w.flush()
    w.close()
    stop = tmp_path / "stop"
    db = tmp_path / "sink.duckdb"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=run_sink_process, args=(str(spool_root), str(db), False, 0.05, str(stop), 5)
    )
    proc.start()
    try:
        assert proc.pid is not None
        deadline = time.monotonic() + 60
        own = os.getpriority(os.PRIO_PROCESS, 0)
        while os.getpriority(os.PRIO_PROCESS, proc.pid) != own + 5:
            assert time.monotonic() < deadline, "the loader never lowered its priority"
            time.sleep(0.05)
        while any(spool_root.rglob("seg-*")):
            assert time.monotonic() < deadline, "the loader never loaded the segment"
            time.sleep(0.05)
    finally:
        stop.touch()
        proc.join(timeout=30)
    assert proc.exitcode == 0
    store = DuckDBStore(db)
    try:
        assert store.sql("SELECT count(*) AS n FROM events").column("n")[0].as_py() == 1
    finally:
        store.close()
